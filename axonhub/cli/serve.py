"""`axonhub serve`: validate the config, bind the port, configure logging, run until SIGINT/SIGTERM.

The listening sockets are bound before anything says the gateway is listening, so a port in use is
one clear error line and exit 1. On a terminal, `serve` then prints what to do next.

With `--workers N` this process becomes the supervisor of N worker processes (`supervisor.py`),
each of which is `axonhub serve` again with `AXONHUB_WORKER=i` in its environment (and, where the
platform has no SO_REUSEPORT, `AXONHUB_LISTEN_FD`): internal variables, set by the supervisor only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from axonhub.cli.common import config_args, config_option, executable, fail, load
from axonhub.config import Config

if TYPE_CHECKING:
    from axonhub.log import LogSink


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
@click.option(
    "--workers",
    type=click.IntRange(1, 512),
    default=1,
    envvar="AXONHUB_WORKERS",
    show_default=True,
    show_envvar=True,
    help="Processes serving the one port (SO_REUSEPORT), all writing the one trace log. "
    "They share limits only with server.state: redis; with memory state each enforces them alone.",
)
def serve(
    config_path: Path, host: str | None, port: int | None, log_format: str, event_loop: str, workers: int
) -> None:
    """Run the gateway on the config file; edits to it are picked up live (or on SIGHUP)."""
    import structlog

    from axonhub.config_advice import config_advice
    from axonhub.log import configure_logging
    from axonhub.redact import Redactor

    config = load(config_path)  # refuses an invalid file with every error and its path
    server = dataclasses.replace(config.server, host=host or config.server.host, port=port or config.server.port)
    config = dataclasses.replace(config, server=server)
    worker = os.environ.get("AXONHUB_WORKER")
    # A single process binds now, so a port in use fails before any "listening"; workers bind their
    # shared port themselves (SO_REUSEPORT) and the supervisor checks the port first.
    sockets = bind(server.host, server.port) if workers == 1 and not worker else []
    redactor = Redactor()  # one for the app and the logs: what the app hides, no log line shows
    logs = configure_logging(log_format, redactor=redactor)
    log = structlog.get_logger("axonhub")
    if workers > 1 and not worker:
        listen_fd = _shared_port(server.host, server.port)  # a port in use fails before any "listening"
        _announce_dashboard(config, log)  # the admin token exists before any worker reads it
        command = [sys.executable, "-m", "axonhub", "serve", "--config", str(config_path), "--host", server.host]
        command += ["--port", str(server.port), "--log-format", log_format, "--event-loop", event_loop]
        raise SystemExit(_supervise([*command, "--workers", "1"], config, workers, log, listen_fd))
    if worker:
        structlog.contextvars.bind_contextvars(worker=int(worker))
    else:
        for warning in config.warnings:
            log.warning("config warning", detail=warning)
        for advice in config_advice(config):
            log.warning("config", detail=advice)
        if not config.keys:
            log.warning("no API keys configured; create one with `axonhub keys create NAME`")
    _serve(config, config_path, event_loop, bool(worker), log, redactor, sockets, (host, port), logs)


def _serve(
    config: Config,
    config_path: Path,
    event_loop: str,
    worker: bool,
    log: Any,
    redactor: Any,
    sockets: list[socket.socket],
    given: tuple[str | None, int | None],
    logs: LogSink,
) -> None:
    from axonhub.server import make_app
    from axonhub.serving import Listen, inherited_socket, serve_app

    server = config.server
    inherited = inherited_socket() if worker else None
    socks = (inherited,) if inherited is not None else tuple(sockets)
    listen = Listen(server.host, server.port, reuse_port=worker and inherited is None, socks=socks)
    loop = _new_loop(event_loop)
    log.info(
        "axonhub listening",
        url=f"http://{_url_host(server.host)}:{server.port}",
        config=str(config_path),
        trace=str(server.trace.path) if server.trace.enabled else None,
        state=server.state.backend,
        event_loop=type(loop).__module__.split(".")[0],
    )
    if not worker:
        _announce_dashboard(config, log)  # under --workers the supervisor does, once
        if sys.stderr.isatty():
            logs.flush()  # the log lines above reach the terminal first
            click.echo(next_steps(config, *given), err=True)

    async def main() -> None:
        await serve_app(make_app(config, redactor=redactor), listen, server.client_timeouts)

    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        runner.run(main())
    log.info("axonhub stopped")


def _shared_port(host: str, port: int) -> int | None:
    """Check the port the workers will share (None: each binds it with SO_REUSEPORT), or open the one
    socket they inherit where that is not available; a clear CLI error when it is taken.

    The kernel lets a second `serve --workers` of the same user bind the port with SO_REUSEPORT too
    (and split the connections with the first): a port something already answers on is refused."""
    from axonhub.supervisor import can_reuse_port, check_port, listening_socket

    if os.name != "posix":
        raise fail("--workers needs Linux or macOS")
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - reading it, not binding it
    try:
        with socket.create_connection((probe, port), timeout=1.0):
            answers = True
    except OSError:
        answers = False
    try:
        if answers:
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        if can_reuse_port():
            check_port(host, port)  # a port held by another program fails here, once
            return None
        return listening_socket(host, port).fileno()
    except OSError as exc:
        raise fail(_bind_error(host, port, exc)) from None


def _supervise(command: list[str], config: Config, workers: int, log: Any, listen_fd: int | None) -> int:
    from axonhub.supervisor import Supervisor

    server = config.server
    log.info(
        "axonhub supervising workers",
        workers=workers,
        url=f"http://{_url_host(server.host)}:{server.port}",
        shared_socket="SO_REUSEPORT" if listen_fd is None else "inherited",
        state=server.state.backend,
    )
    if server.state.backend == "memory":
        log.warning("server.state is memory: each worker enforces the limits on its own (use redis to share them)")
    code = Supervisor(command, workers, dict(os.environ), server.shutdown_grace, listen_fd).run()
    log.info("axonhub stopped")
    return code


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
