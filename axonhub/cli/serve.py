"""`axonhub serve`: validate the config, bind the port, configure logging, run until SIGINT/SIGTERM.

The listening sockets are bound before anything says the gateway is listening, so a port in use is
one clear error line and exit 1. On a terminal, `serve` then prints what to do next.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import socket
import sys
from pathlib import Path
from typing import Any

import click

from axonhub.cli.common import config_args, config_option, executable, fail, load
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
    import structlog

    from axonhub.config_advice import config_advice
    from axonhub.http_server import run
    from axonhub.log import configure_logging
    from axonhub.redact import Redactor
    from axonhub.server import make_app

    config = load(config_path)  # refuses an invalid file with every error and its path
    server = dataclasses.replace(config.server, host=host or config.server.host, port=port or config.server.port)
    config = dataclasses.replace(config, server=server)
    sockets = bind(server.host, server.port)  # a port in use fails here, before any "listening"
    redactor = Redactor()  # one for the app and the logs: what the app hides, no log line shows
    configure_logging(log_format, redactor=redactor)
    app = make_app(config, redactor=redactor)
    loop = _new_loop(event_loop)
    log = structlog.get_logger("axonhub")
    for warning in config.warnings:
        log.warning("channel unavailable", detail=warning)
    for advice in config_advice(config):
        log.warning("config", detail=advice)
    if not config.keys:
        log.warning("no API keys configured; create one with `axonhub keys create NAME`")
    log.info(
        "axonhub listening",
        url=f"http://{_url_host(server.host)}:{server.port}",
        config=str(config_path),
        trace=str(server.trace.path) if server.trace.enabled else None,
        event_loop=type(loop).__module__.split(".")[0],
    )
    _announce_dashboard(config, log)
    if sys.stderr.isatty():
        click.echo(next_steps(config, host, port), err=True)
    run(
        app,
        loop=loop,
        host=server.host,
        port=server.port,
        client_timeouts=server.client_timeouts,
        shutdown_timeout=10,
        sockets=sockets,
    )
    log.info("axonhub stopped")


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of `host`, bound now; a clear CLI error when taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    for family, kind, proto, _, address in dict.fromkeys(infos):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            for opened in sockets:
                opened.close()
            raise fail(_bind_error(host, port, exc)) from None
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another `axonhub serve`? "
            f"`curl http://{_url_host(host)}:{port}/health` tells); stop it, or pick another port with --port N"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on {host}:{port} (ports below 1024 need privileges); pick one with --port N"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _url_host(host: str) -> str:
    """The host to put in a URL a local client uses: a wildcard address means this machine."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - reading the setting, not binding
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def next_steps(config: Config, host: str | None, port: int | None) -> str:
    """What to type next, in another terminal, for this config (shown on a terminal only)."""
    exe, config_flag = executable(), config_args()
    where = config_flag + (f" --host {host}" if host else "") + (f" --port {port}" if port else "")
    lines = ["", "Next, in another terminal:"]
    if not config.keys:
        lines.append(f"  {exe} keys create{config_flag} NAME    first, a key for your agents (there is none yet)")
    lines += [
        f"  {exe} run{where} claude    Claude Code through this gateway",
        f'  eval "$({exe} env{where} claude)"    or set up a shell for it',
        f"  {exe} traces tail -f{config_flag}    watch the requests go by",
        "",
    ]
    return "\n".join(lines)


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
