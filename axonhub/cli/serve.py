"""`axonhub serve`: validate the config, configure logging, run the gateway until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import click
import structlog

from axonhub.cli.common import config_option, fail, load
from axonhub.config import Config


@click.command()
@config_option
@click.option("--host", envvar="AXONHUB_HOST", show_envvar=True, help="Listen address (default: server.host).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    envvar="AXONHUB_PORT",
    show_envvar=True,
    help="Port (default: server.port).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    envvar="AXONHUB_LOG_FORMAT",
    show_default=True,
    show_envvar=True,
    help="auto: console on a terminal, JSON lines otherwise.",
)
@click.option(
    "--event-loop",
    type=click.Choice(["auto", "uvloop", "asyncio"]),
    default="auto",
    envvar="AXONHUB_EVENT_LOOP",
    show_default=True,
    show_envvar=True,
    help="auto: uvloop when it is installed (about 15 % more requests per second), else asyncio.",
)
def serve(config_path: Path, host: str | None, port: int | None, log_format: str, event_loop: str) -> None:
    """Run the gateway on the config file; edits to it are picked up live (or on SIGHUP)."""
    from axonhub.http_server import run
    from axonhub.log import configure_logging
    from axonhub.redact import Redactor
    from axonhub.server import make_app

    config = load(config_path)  # refuses an invalid file with every error and its path
    server = dataclasses.replace(config.server, host=host or config.server.host, port=port or config.server.port)
    config = dataclasses.replace(config, server=server)
    redactor = Redactor()  # one for the app and the logs: what the app hides, no log line shows
    configure_logging(log_format, redactor=redactor)
    app = make_app(config, redactor=redactor)
    loop = _new_loop(event_loop)
    log = structlog.get_logger("axonhub")
    for warning in config.warnings:
        log.warning("channel unavailable", detail=warning)
    if not config.keys:
        log.warning("no API keys configured; create one with `axonhub keys create NAME`")
    log.info(
        "axonhub listening",
        url=f"http://{server.host}:{server.port}",
        config=str(config_path),
        trace=str(server.trace.path) if server.trace.enabled else None,
        event_loop=type(loop).__module__.split(".")[0],
    )
    _announce_dashboard(config, log)
    run(app, loop=loop, host=server.host, port=server.port, client_timeouts=server.client_timeouts, shutdown_timeout=10)
    log.info("axonhub stopped")


def _announce_dashboard(config: Config, log: Any) -> None:
    """The dashboard's address and a one-time login link (the admin token itself is never printed)."""
    from axonhub.cli.dashboard import gateway_url
    from axonhub.dashboard.access import load_or_create_token, login_url

    settings = config.server.dashboard
    if not settings.enabled:
        return
    if not config.server.trace.enabled:
        log.warning("dashboard off: it shows the trace log, and server.trace.enabled is false")
        return
    try:
        token = load_or_create_token(settings.token_file)
    except OSError as exc:
        raise fail(f"cannot read or create the admin token file {settings.token_file}: {exc}") from None
    base = gateway_url(config, None)
    log.info(
        "dashboard",
        url=f"{base}/dashboard/",
        login=login_url(base, token),
        login_valid="15 minutes, once; `axonhub dashboard` prints a new link",
        remote=settings.allow_remote,
    )


def _new_loop(choice: str) -> asyncio.AbstractEventLoop:
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise fail("--event-loop uvloop: uvloop is not installed (pip install uvloop)") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
