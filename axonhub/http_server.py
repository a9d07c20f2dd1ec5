"""The HTTP server under the app: client timeouts, a clean answer to malformed requests, the run loop.

aiohttp reads the requests; `GatewayRequestHandler` (its protocol, one per connection) adds what a
gateway exposed to other machines needs, with the limits of `server.client_timeouts`:

* headers: from the first byte of a request to the end of its headers. A client that sends one
  header line a second (slow loris) is disconnected when the time is up.
* body: from the end of the headers to the end of the body. The handler reading it gets a
  `ClientTooSlow` (a 400 in the client's wire format, traced), then the connection is closed.
* keepalive: how long a connection may sit idle between two requests (aiohttp's own timer).

None of them bounds the response: a stream that takes an hour to generate is never cut.

A request aiohttp cannot parse (a malformed header line, a bad request line) gets a plain-text 400
naming the problem without quoting the raw bytes, and is logged as that one-line reason: the raw
line may carry a key in any shape.

`serving.serve_app` runs an app with this protocol until SIGTERM or SIGINT, then shuts it down
gracefully.

aiohttp has no public hook for any of this, so `GatewayRequestHandler` subclasses its protocol and
reads two of its internals (the queue of parsed requests, the closing flags); the tests drive each
limit through a real `axonhub serve`, so an aiohttp upgrade that moves them shows at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from axonhub.config import ClientTimeouts
from axonhub.errors import ClientTooSlow
from axonhub.log import parse_error_summary

log = structlog.get_logger("axonhub.http")


class GatewayRequestHandler(RequestHandler):
    """aiohttp's protocol with a headers timeout, a body timeout and parse errors that quote nothing."""

    def __init__(self, manager: web.Server, *, client_timeouts: ClientTimeouts, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.client_timeouts = client_timeouts
        self._headers_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # the body being received, until its end

    def data_received(self, data: bytes) -> None:
        if data and self._headers_timer is None and self._body is None and not (self._force_close or self._close):
            self._headers_timer = self._loop.call_later(self.client_timeouts.headers, self._headers_too_slow)
        queued = len(self._messages)
        super().data_received(data)
        if len(self._messages) > queued:  # a request's headers are in (or it could not be parsed)
            self._cancel_headers_timer()
            self._watch_body(self._messages[-1][1])
        if self._body is not None and self._body.is_eof():
            self._body_done()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_headers_timer()
        self._body_done()
        super().connection_lost(exc)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or status != 400:
            return super().handle_error(request, status, exc, message)
        summary = parse_error_summary(exc)
        # A bad method on a fresh connection is a port scanner or TLS spoken to a plain port: noise.
        note = log.debug if isinstance(exc, BadHttpMethod) else log.info
        note("malformed HTTP request refused", peer=request.remote, error=summary)
        response = web.Response(
            status=400, text=f"400 Bad Request: malformed HTTP request ({summary}); the request was not read.\n"
        )
        response.force_close()
        return response

    def _watch_body(self, payload: StreamReader) -> None:
        if payload.is_eof():
            return
        self._body = payload
        self._body_timer = self._loop.call_later(self.client_timeouts.body, self._body_too_slow)

    def _body_done(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = None
        self._body = None

    def _cancel_headers_timer(self) -> None:
        if self._headers_timer is not None:
            self._headers_timer.cancel()
        self._headers_timer = None

    def _headers_too_slow(self) -> None:
        self._headers_timer = None
        log.info(
            "connection closed: request headers incomplete",
            peer=self._peer(),
            limit_s=self.client_timeouts.headers,
        )
        self.force_close()

    def _body_too_slow(self) -> None:
        body, self._body_timer = self._body, None
        self._body = None
        if body is None or body.is_eof():
            return
        limit = self.client_timeouts.body
        log.info("connection closed: request body incomplete", peer=self._peer(), limit_s=limit)
        body.set_exception(
            ClientTooSlow(
                f"the request body did not arrive within {limit:g}s (server.client_timeouts.body); "
                "the connection is closed"
            )
        )
        body.feed_eof()  # nothing more will be read from this connection
        self.close()

    def _peer(self) -> str | None:
        transport = self.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else None


class GatewayServer(web.Server):
    """An aiohttp `Server` whose connections use `GatewayRequestHandler`."""

    def __init__(self, inner: web.Server, client_timeouts: ClientTimeouts) -> None:
        super().__init__(
            inner.request_handler,
            request_factory=inner.request_factory,
            handler_cancellation=inner.handler_cancellation,
            **inner._kwargs,
        )
        self.client_timeouts = client_timeouts

    def __call__(self) -> RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, client_timeouts=self.client_timeouts, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """`web.AppRunner` serving through `GatewayServer`; the keep-alive limit is aiohttp's own."""

    def __init__(self, app: web.Application, *, client_timeouts: ClientTimeouts, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=client_timeouts.keepalive, **kwargs)
        self.client_timeouts = client_timeouts

    async def _make_server(self) -> web.Server:
        return GatewayServer(await super()._make_server(), self.client_timeouts)
