"""Running one gateway process: listen, serve until SIGTERM/SIGINT, drain, stop.

In place of aiohttp's `run_app`, with the gateway's own protocol (`http_server.GatewayRunner`: client
timeouts, malformed requests) and a shutdown of AxonHub's own: the first signal stops the
listening socket and starts the drain (requests in flight finish within `server.shutdown_grace`,
see `drain.py`); a second one cuts what is left at once. The socket is either bound here (with
SO_REUSEPORT under `serve --workers`, so every worker binds the same port) or inherited from the
supervisor. A worker whose supervisor has died stops on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from axonhub.config import ClientTimeouts
from axonhub.drain import CUT_WRITE_S, DRAIN
from axonhub.http_server import GatewayRunner

PARENT_POLL_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Listen:
    """Where to serve: a host and port to bind, or sockets already bound to it (by `serve` before it
    said it listens, or inherited from the supervisor)."""

    host: str
    port: int
    reuse_port: bool = False
    socks: tuple[socket.socket, ...] = ()


async def serve_app(
    app: web.Application,
    listen: Listen,
    client_timeouts: ClientTimeouts,
    *,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve `app` until a stop signal (or, in a worker, the supervisor's death), then shut down gracefully."""
    runner = GatewayRunner(
        app,
        client_timeouts=client_timeouts,
        handle_signals=False,
        access_log=None,
        handler_cancellation=True,  # a client that goes away cancels its upstream request at once
        shutdown_timeout=CUT_WRITE_S + 1,  # the drain has already waited the grace period
    )
    await runner.setup()
    settle_heap()  # before listening: no request waits for this collection
    try:
        sites: list[web.BaseSite] = [web.SockSite(runner, sock) for sock in listen.socks]
        if not sites:
            sites = [web.TCPSite(runner, listen.host, listen.port, reuse_port=listen.reuse_port or None)]
        for site in sites:
            await site.start()
        stop = asyncio.Event()
        _on_stop_signals(stop, app)
        watcher = asyncio.create_task(_watch_parent(stop)) if os.environ.get("AXONHUB_WORKER") else None
        on_ready()
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
    finally:
        await runner.cleanup()


def settle_heap() -> None:
    """Move everything the start made (modules, the app and its started parts, the config) out of the
    collector's sight.

    A full collection walks every tracked object; right after the start that is some 50,000 of them,
    50-70 ms during which no stream gets its next chunk. The collector runs one whenever enough
    objects have outlived the younger collections, which under load (requests live across several
    of those) happened a few times a minute in the benchmark's 512 slow streams. Frozen objects are
    never walked again, so a full collection then walks only what serving made since."""
    gc.collect()
    gc.freeze()


def _on_stop_signals(stop: asyncio.Event, app: web.Application) -> None:
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set() and DRAIN in app:
            app[DRAIN].hurry()  # a second signal: cut now
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not the main thread
            loop.add_signal_handler(sig, on_signal)


async def _watch_parent(stop: asyncio.Event) -> None:
    """Polled: the death of a parent process raises no event a child can wait on."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            stop.set()
            return


def inherited_socket() -> socket.socket | None:
    """The listening socket a supervisor without SO_REUSEPORT passed down (AXONHUB_LISTEN_FD)."""
    fd = os.environ.get("AXONHUB_LISTEN_FD")
    return socket.socket(fileno=int(fd)) if fd else None
