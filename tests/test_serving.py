"""serve_app in process: what it does once the socket listens, and the stop signal."""

from __future__ import annotations

import asyncio
import gc
import os
import signal

import aiohttp
from aiohttp import web

from axonhub.config import ClientTimeouts
from axonhub.serving import Listen, serve_app
from tests.serve_process import free_port


async def test_the_heap_made_by_the_start_is_frozen_before_serving() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    port = free_port()
    ready = asyncio.Event()
    frozen_at_ready: list[int] = []
    gc.unfreeze()

    def on_ready() -> None:
        frozen_at_ready.append(gc.get_freeze_count())
        ready.set()

    serving = asyncio.create_task(serve_app(app, Listen("127.0.0.1", port), ClientTimeouts(), on_ready=on_ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        # What the start made (modules, the app) is out of the collector's sight: full collections
        # under load walk only what serving made.
        assert frozen_at_ready[0] > 10_000
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
            assert (response.status, await response.text()) == (200, "hi")
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 10)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        if not serving.done():
            serving.cancel()
