"""Graceful shutdown: stop accepting, let requests in flight finish, then end what is still open.

On SIGTERM the server stops listening first (aiohttp closes its sites and idle keep-alive
connections), then `Drain.shutdown` (an `on_shutdown` hook) waits up to `server.shutdown_grace`
seconds for the requests in flight, streams included, to finish on their own. Whatever is still
running then is cut, with an overloaded error in its client's wire format (which SDKs and Claude
Code retry): a stream that has started gets an error event (`event: error` for Anthropic clients,
a `data: {"error": …}` chunk for OpenAI Chat clients) and a proper end; a request that has not
answered yet gets an error response. Each cut exchange is traced as such, and the trace writer,
closed after this hook, flushes every record. A second SIGTERM/SIGINT during the wait cuts at once.

`drain_middleware` sits inside the error middleware: it knows each handler's task, and it turns the
cancellation of a cut into that ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from axonhub.error_response import error_response
from axonhub.errors import ErrorKind, GatewayError
from axonhub.formats.spec import WireFormat

log = structlog.get_logger("axonhub.drain")

# How long cut handlers get to write their ending.
CUT_WRITE_S: Final = 5.0

# client wire format -> the SSE bytes that end one of its streams with an error of this kind and message
ErrorFrames = Mapping[WireFormat, Callable[[ErrorKind, str], bytes]]

PREPARED = web.RequestKey("prepared_response", web.StreamResponse)


def shutting_down(grace: float) -> GatewayError:
    return GatewayError(
        f"AxonHub is shutting down: this request was still running after the {grace:g}s grace period; retry it",
        kind=ErrorKind.OVERLOADED,
    )


class Drain:
    """The handlers in flight, and how to wait for them or cut them at shutdown."""

    def __init__(self, frames: ErrorFrames, grace: Callable[[], float]) -> None:
        self.frames = frames
        self.grace = grace
        self.draining = False
        self._inflight: dict[asyncio.Task[object], web.Request] = {}
        self._cut: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._hurry = asyncio.Event()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def hurry(self) -> None:
        """Stop waiting: cut what is still open now (a second signal)."""
        self._hurry.set()

    async def shutdown(self, app: web.Application) -> None:
        """on_shutdown: wait for in-flight requests up to the grace period, then cut the rest."""
        self.draining = True
        grace = self.grace()
        began = time.monotonic()
        if self._inflight:
            log.info("draining requests in flight", requests=len(self._inflight), grace_s=grace)
            waits = [asyncio.ensure_future(self._idle.wait()), asyncio.ensure_future(self._hurry.wait())]
            await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
        if self._inflight:
            log.warning("cutting requests still open after the grace period", requests=len(self._inflight))
            tasks = list(self._inflight)
            self._cut.update(tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=CUT_WRITE_S)
        log.info("drained", seconds=round(time.monotonic() - began, 3))

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._inflight[task] = request
        self._idle.clear()
        try:
            return await handler(request)
        except asyncio.CancelledError:
            if task not in self._cut:
                raise
            task.uncancel()
            return await self._end(request)
        finally:
            self._inflight.pop(task, None)
            if not self._inflight:
                self._idle.set()

    async def _end(self, request: web.Request) -> web.StreamResponse:
        from axonhub.appkeys import EXCHANGE

        failure = shutting_down(self.grace())
        exchange = request[EXCHANGE]
        exchange.fail(failure, "shutdown")
        response: web.StreamResponse | None = request.get(PREPARED)
        if response is None or not response.prepared:
            hints = exchange.config.server.operator_hints_enabled
            answer = error_response(exchange.client_format, failure, exchange.request_id, hints=hints)
            exchange.status = answer.status
            return answer
        frame = self.frames.get(exchange.client_format)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if frame is not None:
                # the blank line first closes a frame the cut may have split
                await response.write(b"\n\n" + frame(failure.kind, failure.message))
            await response.write_eof()
        return response


DRAIN = web.AppKey("drain", Drain)


async def remember_prepared(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: remember a response that has started, to end it properly if cut."""
    request[PREPARED] = response


@web.middleware
async def drain_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Track the handler for the app's Drain (apps built without one pass straight through)."""
    drain: Drain | None = request.config_dict.get(DRAIN)
    if drain is None:
        return await handler(request)
    return await drain.handle(request, handler)
