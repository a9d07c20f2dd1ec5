"""A scripted fake upstream provider: a real aiohttp server on 127.0.0.1.

It answers from a queue of exact scripted replies (status, headers, body chunks with optional
delays, or a connection reset after N chunks) and records every request it gets. When the queue is
empty it repeats the `default` reply. It also notes when a client (the gateway) went away while a
reply was still being written.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict


@dataclass
class Reply:
    status: int = 200
    body: list[bytes | float] = field(default_factory=list)  # bytes are written, floats are sleeps
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # drop the connection after the body instead of ending it cleanly
    delay: float = 0.0  # seconds before the status line and headers are sent

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            body=[json.dumps(payload).encode()],
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def sse(cls, chunks: list[bytes | float], status: int = 200, reset: bool = False) -> Reply:
        return cls(status=status, body=chunks, headers={"Content-Type": "text/event-stream"}, reset=reset)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeUpstream:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.requests: list[Recorded] = []
        self.client_gone = asyncio.Event()
        self.started_replies = 0
        self.inflight = 0  # requests being answered now
        self.max_inflight = 0
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    def enqueue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._answer(request)
        finally:
            self.inflight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Recorded(
                request.method, request.path, dict(request.query), CIMultiDict(request.headers), await request.read()
            )
        )
        reply = self.replies.popleft() if self.replies else self.default
        if reply is None:
            return web.json_response({"error": "fake upstream has no scripted reply"}, status=599)
        self.started_replies += 1
        if reply.delay:
            await asyncio.sleep(reply.delay)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        try:
            await response.prepare(request)
            for part in reply.body:
                if isinstance(part, float):
                    await asyncio.sleep(part)
                else:
                    await response.write(part)
            if reply.reset:
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            self.client_gone.set()
            raise
        return response


class ScriptedModel(FakeUpstream):
    """A fake model that picks each reply by reading the request, not by its order.

    `respond(body)` returns the Reply for one JSON request body; every request is still recorded.
    """

    def __init__(self, respond: Callable[[dict[str, Any]], Reply]) -> None:
        super().__init__()
        self.respond = respond

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.replies.appendleft(self.respond(body))
        return await super()._handle(request)
