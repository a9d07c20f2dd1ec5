"""The transform path: a client and a channel that speak different wire formats, through the IR.

The request is parsed once into the IR by the client's codec and rendered per channel by the
channel's codec. The answer, JSON or SSE, becomes one stream of IR events (a JSON answer is a
one-shot stream), which goes to the client either through its codec's stream encoder or, for a
non-streaming client, reduced by `aggregate()` and rendered whole. The transport loop here owns
the IO: `prepare`, writes, keep-alive pings while the upstream is quiet, and the upstream's end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from axonhub import ir
from axonhub.errors import ErrorKind, GatewayError, internal_error
from axonhub.exchange import Exchange, Usage
from axonhub.formats.aggregate import aggregate, response_events
from axonhub.formats.anthropic.stream import ping as anthropic_ping
from axonhub.formats.quirks import quirks_for
from axonhub.formats.registry import Codec, StreamEncoder
from axonhub.passthrough import SSE_HEADERS, anthropic_headers, forwarded_headers
from axonhub.passthrough_openai import openai_headers
from axonhub.profiles import Candidate
from axonhub.sse import SSEDecoder, encode_comment, encode_event
from axonhub.tokens import estimate_request_tokens
from axonhub.upstream.answer import Answer, accept
from axonhub.upstream.client import UpstreamCall
from axonhub.upstream.dispatch import ErrorParser

log = structlog.get_logger("axonhub.transform")

# channel wire format -> the path appended to its base_url
UPSTREAM_PATHS: dict[str, str] = {"anthropic": "/v1/messages", "openai_chat": "/chat/completions"}

# client wire format -> the keep-alive written while the upstream is quiet
KEEPALIVES: dict[str, bytes] = {
    "anthropic": encode_event(*anthropic_ping()),
    "openai_chat": encode_comment("ping"),
}


def upstream_headers(
    client_headers: Mapping[str, str], candidate: Candidate, channel_format: str, stream: bool
) -> dict[str, str]:
    if channel_format == "anthropic":
        return anthropic_headers(client_headers, candidate)
    return openai_headers(candidate, stream)


@dataclass(frozen=True, slots=True)
class TransformPlan:
    """Serve a request of format `client` on a channel of format `upstream` through the IR."""

    client: Codec
    upstream: Codec
    client_format: str
    upstream_format: str
    request: ir.Request
    headers: Mapping[str, str]
    ping_interval: float
    include_usage: bool = True  # an OpenAI client's `stream_options.include_usage`

    def call(self, candidate: Candidate) -> UpstreamCall:
        request = dataclasses.replace(self.request, model=candidate.upstream_model)
        channel = candidate.channel
        quirks = channel.quirks or quirks_for(channel.type)
        body = self.upstream.render_request(request, quirks, channel.max_output_tokens)
        return UpstreamCall(
            url=candidate.channel.base_url + UPSTREAM_PATHS[self.upstream_format],
            headers=upstream_headers(self.headers, candidate, self.upstream_format, self.request.stream),
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        )

    def error_parser(self, candidate: Candidate) -> ErrorParser:
        return self.upstream.parse_error

    async def accept(self, candidate: Candidate, response: aiohttp.ClientResponse) -> Answer:
        return await accept(
            response,
            channel=candidate.channel.name,
            body_format=self.upstream_format,
            error_in_answer=self.upstream.error_in_answer,
        )

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse:
        events = self._events(exchange, candidate, answer)
        if self.request.stream:
            return await self._stream(request, exchange, answer.response, events)
        return await self._whole(exchange, answer.response, events)

    async def _events(
        self, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> AsyncGenerator[list[ir.StreamEvent] | None, None]:
        """The upstream answer as batches of IR events, one per network read so the client gets one
        write per read; None marks a quiet spell worth a keep-alive."""
        upstream = answer.response
        try:
            name = candidate.channel.name
            if answer.payload is not None:  # a whole JSON answer, read and checked by dispatch
                yield response_events(self.upstream.parse_response(answer.payload, candidate.upstream_model))
                return
            estimate = estimate_request_tokens(self.request)
            decoder = self.upstream.stream_decoder(candidate.upstream_model, estimate)
            sse = SSEDecoder()
            async for chunk in _chunks(upstream.content, self.ping_interval):
                if chunk is None:
                    yield None
                    continue
                exchange.mark_first_byte()
                yield [_named(name, event) for frame in sse.feed(chunk) for event in decoder.feed(frame)]
            last = [event for frame in sse.finish() for event in decoder.feed(frame)] + decoder.finish()
            yield [_named(name, event) for event in last]
        except (aiohttp.ClientError, TimeoutError) as exc:
            yield [_cut(candidate, exc)]
        except GatewayError as exc:  # an answer that says the generation failed (a failed finish reason)
            yield [_named(candidate.channel.name, ir.StreamError(exc.kind, exc.message, exc.detail))]
        finally:
            exchange.upstream_finished = exchange.upstream_finished or time.perf_counter()

    async def _stream(
        self,
        request: web.Request,
        exchange: Exchange,
        upstream: aiohttp.ClientResponse,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
    ) -> web.StreamResponse:
        headers = {**SSE_HEADERS, **forwarded_headers(upstream), **exchange.id_headers()}
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        exchange.status = 200
        encoder = self.client.stream_encoder(self.request.model, include_usage=self.include_usage)
        try:
            await self._pump(response, exchange, encoder, batches)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            raise  # the client is gone: nothing left to tell it
        except Exception as exc:  # a gateway bug after the 200 went out: end the stream properly
            log.exception("stream failed after it started", error=repr(exc))
            failure = internal_error(exchange.request_id, exc)
            exchange.fail(failure, "internal")
            message = failure.client_message(exchange.config.server.operator_hints_enabled)
            await response.write(_encode(encoder.feed(ir.StreamError(ErrorKind.SERVER, message))))
        await response.write_eof()
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        exchange: Exchange,
        encoder: StreamEncoder,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
    ) -> None:
        """Upstream batches → client frames, with a keep-alive after every quiet ping interval."""
        keepalive = KEEPALIVES.get(self.client_format, encode_comment("ping"))
        started = False
        written = time.monotonic()
        async with aclosing(batches):
            async for batch in batches:
                frames: list[tuple[str | None, Any]] = []
                for event in batch or ():
                    _observe(exchange, event, self.client)
                    frames += encoder.feed(event)
                if frames:
                    started = True
                    await response.write(_encode(frames))
                    written = time.monotonic()
                elif batch is None or time.monotonic() - written >= self.ping_interval:
                    # Quiet: no bytes, or only upstream keep-alive comments, for a ping interval.
                    # Open the message first, so the keep-alive is a valid event after it.
                    opening = [] if started else encoder.feed(ir.MessageStart("", self.request.model))
                    started = True
                    await response.write(_encode(opening) + keepalive)
                    written = time.monotonic()
        closing = encoder.finish()
        if closing:
            await response.write(_encode(closing))

    async def _whole(
        self,
        exchange: Exchange,
        upstream: aiohttp.ClientResponse,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
    ) -> web.Response:
        collected: list[ir.StreamEvent] = []
        async with aclosing(batches):
            async for batch in batches:
                for event in batch or ():
                    _observe(exchange, event, self.client)
                    collected.append(event)
        answer = aggregate(collected)  # raises UpstreamError for a failed or truncated stream
        body = self.client.render_response(answer, self.request.model)
        exchange.status = 200
        return web.Response(
            body=json.dumps(body, ensure_ascii=False).encode(),
            content_type="application/json",
            headers={**forwarded_headers(upstream), **exchange.id_headers()},
        )


async def _chunks(content: aiohttp.StreamReader, idle: float) -> AsyncIterator[bytes | None]:
    """Upstream body chunks as they arrive, and None after every `idle` seconds without one."""
    while True:
        deadline = asyncio.timeout(idle)
        try:
            async with deadline:
                chunk = await content.readany()
        except TimeoutError:
            if deadline.expired():
                yield None
                continue
            raise
        if not chunk:
            return
        yield chunk


def _encode(frames: Iterable[tuple[str | None, Any]]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in frames)


def _observe(exchange: Exchange, event: ir.StreamEvent, client: Codec) -> None:
    """What the trace needs from the stream: the upstream's id, the stop reason as the client saw it, the
    usage, a failure."""
    match event:
        case ir.MessageStart(id=upstream_id):
            exchange.upstream_id = upstream_id or exchange.upstream_id
        case ir.Finish(stop_reason=stop_reason, usage=usage):
            exchange.stop_reason = client.stop_reason_name(stop_reason)
            exchange.usage = Usage.from_ir(usage)
        case ir.StreamError(kind=kind, message=message, detail=detail):
            exchange.fail(GatewayError(message, kind=kind, detail=detail))
        case _:
            pass


def _named(channel: str, event: ir.StreamEvent) -> ir.StreamEvent:
    """A failure the upstream reported, its message prefixed with the channel as for HTTP errors; a
    context overflow keeps the exact wording Claude Code acts on."""
    if not isinstance(event, ir.StreamError) or event.kind is ErrorKind.CONTEXT_OVERFLOW:
        return event
    return dataclasses.replace(event, message=f"[{channel}] {event.message}")


def _cut(candidate: Candidate, exc: BaseException) -> ir.StreamError:
    name = candidate.channel.name
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ir.StreamError(
            ErrorKind.TIMEOUT, f"[{name}] the upstream went silent mid-answer (read timeout)", repr(exc)
        )
    return ir.StreamError(
        ErrorKind.BAD_GATEWAY,
        f"[{name}] the upstream connection closed before the answer was complete",
        f"{exc.__class__.__name__}: {exc}",
    )
