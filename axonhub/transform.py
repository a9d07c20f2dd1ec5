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
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from axonhub import fastjson, ir
from axonhub.appkeys import REDACTOR
from axonhub.errors import ErrorKind, GatewayError, internal_error
from axonhub.exchange import Exchange
from axonhub.formats.aggregate import aggregate, response_events
from axonhub.formats.spec import AnswerWitness, Format, Framing, SSEFrame, StreamEncoder
from axonhub.framing import StreamWriter, encode_sse, stream_writer
from axonhub.profiles import Candidate
from axonhub.redact import Redactor
from axonhub.sse import SSEDecoder
from axonhub.stream_answer import StreamAnswer
from axonhub.upstream.answer import OPENING_WAIT, Answer, accept_in
from axonhub.upstream.client import BODY_ERRORS, BodyStream, UpstreamCall, UpstreamResponse, forwarded_headers
from axonhub.upstream.dispatch import ErrorParser

log = structlog.get_logger("axonhub.transform")


@dataclass(frozen=True, slots=True)
class TransformPlan:
    """Serve a request of format `client` on a channel of format `upstream` through the IR.

    `request` is the client's request in the IR (its model is the name the client asked for); each
    channel gets it renamed to the channel's model and rendered by the channel's codec. A streamed
    answer reaches the client in its `framing`.
    """

    client: Format
    upstream: Format
    request: ir.Request
    headers: Mapping[str, str]
    ping_interval: float
    framing: Framing = Framing.SSE
    witness: AnswerWitness | None = None  # keeps the answer the client receives, when it is to be remembered
    _renamed: dict[str, ir.Request] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def renamed(self, model: str) -> ir.Request:
        """The request as sent to a channel's model (made once per model: sending and reading the answer
        both need it)."""
        request = self._renamed.get(model)
        if request is None:
            request = self.request if model == self.request.model else dataclasses.replace(self.request, model=model)
            self._renamed[model] = request
        return request

    def call(self, candidate: Candidate) -> UpstreamCall:
        channel, model = candidate.channel, candidate.upstream_model
        body = self.upstream.codec.render_request(self.renamed(model), channel)
        dialect, stream = self.upstream.dialect, self.request.stream
        return UpstreamCall(
            url=dialect.url(channel, self.upstream.generate, model, stream),
            headers=dialect.headers(self.headers, channel, stream),
            body=fastjson.dumps(body),
        )

    def error_parser(self, candidate: Candidate) -> ErrorParser:
        return self.upstream.codec.parse_error

    async def accept(self, candidate: Candidate, response: UpstreamResponse) -> Answer:
        # The client's keep-alives start once the answer is accepted: a look at a stream's opening
        # holds them back half a ping interval at most.
        wait = min(OPENING_WAIT, self.ping_interval / 2)
        return await accept_in(self.upstream, candidate.channel.name, response, wait)

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse:
        exchange.notes = list(self.request.notes)
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
            upstream_request = self.renamed(candidate.upstream_model)
            if answer.payload is not None:  # a whole JSON answer, read and checked by dispatch
                yield response_events(self.upstream.codec.parse_response(answer.payload, upstream_request))
                return
            decoder = self.upstream.codec.stream_decoder(upstream_request)
            sse = SSEDecoder()
            async for chunk in _chunks(upstream.content, self.ping_interval):
                if chunk is None:
                    yield None
                    continue
                exchange.mark_first_byte()
                yield [_named(name, event) for frame in sse.feed(chunk) for event in decoder.feed(frame)]
            last = [event for frame in sse.finish() for event in decoder.feed(frame)] + decoder.finish()
            yield [_named(name, event) for event in last]
        except BODY_ERRORS as exc:
            yield [_cut(candidate, exc)]
        except GatewayError as exc:  # an answer that says the generation failed (a failed finish reason)
            yield [_named(candidate.channel.name, ir.StreamError(exc.kind, exc.message, exc.detail))]
        finally:
            exchange.upstream_finished = exchange.upstream_finished or time.perf_counter()

    async def _stream(
        self,
        request: web.Request,
        exchange: Exchange,
        upstream: UpstreamResponse,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
    ) -> web.StreamResponse:
        writer = stream_writer(self.framing, self.client.dialect.keepalive)
        headers = {**writer.headers, **forwarded_headers(upstream), **exchange.id_headers()}
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        exchange.status = 200
        encoder = self.client.codec.stream_encoder(self.request)
        recorded = StreamAnswer.for_exchange(exchange, self.client, self.request)  # the trace's whole answer
        try:
            await self._pump(response, exchange, encoder, writer, batches, request.app[REDACTOR], recorded)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            raise  # the client is gone: nothing left to tell it
        except Exception as exc:  # a gateway bug after the 200 went out: end the stream properly
            log.exception("stream failed after it started", error=repr(exc))
            failure = internal_error(exchange.request_id, exc)
            exchange.fail(failure, "internal")
            message = failure.client_message(exchange.config.server.operator_hints_enabled)
            await self._write(response, writer, encoder.feed(ir.StreamError(ErrorKind.SERVER, message)))
        finally:
            if recorded is not None:
                exchange.response_body = recorded.body()
        await response.write(writer.close())
        await response.write_eof()
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        exchange: Exchange,
        encoder: StreamEncoder,
        writer: StreamWriter,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
        redactor: Redactor,
        recorded: StreamAnswer | None = None,
    ) -> None:
        """Upstream batches → client frames, with a keep-alive after every quiet ping interval.

        An error event's text is redacted: an upstream may echo the channel's key in it."""
        started = False
        written = time.monotonic()
        async with aclosing(batches):
            async for batch in batches:
                frames: list[tuple[str | None, Any]] = []
                for event in batch or ():
                    _observe(exchange, event, self.client)
                    if isinstance(event, ir.StreamError):
                        event = dataclasses.replace(event, message=redactor.text(event.message))
                    frames += encoder.feed(event)
                if recorded is not None and batch:
                    recorded.feed_events(batch)
                if frames:
                    started = True
                    await self._write(response, writer, frames)
                    written = time.monotonic()
                elif batch is None or time.monotonic() - written >= self.ping_interval:
                    # Quiet: no bytes, or only upstream keep-alive comments, for a ping interval.
                    # Open the message first, so the keep-alive is a valid event after it.
                    opening = [] if started else encoder.feed(ir.MessageStart("", self.request.model))
                    started = True
                    await self._write(response, writer, opening, writer.keepalive())
                    written = time.monotonic()
        closing = encoder.finish()
        if closing:
            await self._write(response, writer, closing)

    async def _write(
        self, response: web.StreamResponse, writer: StreamWriter, frames: Sequence[SSEFrame], keepalive: bytes = b""
    ) -> None:
        """Frames in the client's framing; a witness reads them as SSE, whatever the framing."""
        if self.witness is not None:
            self.witness.feed(encode_sse(frames))
        await response.write(writer.frames(frames) + keepalive)

    async def _whole(
        self,
        exchange: Exchange,
        upstream: UpstreamResponse,
        batches: AsyncGenerator[list[ir.StreamEvent] | None, None],
    ) -> web.Response:
        collected: list[ir.StreamEvent] = []
        async with aclosing(batches):
            async for batch in batches:
                for event in batch or ():
                    _observe(exchange, event, self.client)
                    collected.append(event)
        answer = aggregate(collected)  # raises UpstreamError for a failed or truncated stream
        body = self.client.codec.render_response(answer, self.request)
        if self.witness is not None:
            self.witness.answer = body
        exchange.status = 200
        if exchange.config.server.trace.bodies != "none":
            exchange.response_body = body
        return web.Response(
            body=fastjson.dumps(body),
            content_type="application/json",
            headers={**forwarded_headers(upstream), **exchange.id_headers()},
        )


async def _chunks(content: BodyStream, idle: float) -> AsyncIterator[bytes | None]:
    """Upstream body chunks as they arrive, and None after every `idle` seconds without one."""
    watch = _IdleWatch(idle)
    try:
        while True:
            chunk = await watch.read(content)
            if chunk is None:
                yield None
                continue
            if not chunk:
                return
            yield chunk
    finally:
        watch.close()


class _IdleWatch:
    """Reads a stream, interrupting a read once `idle` seconds passed without a chunk.

    A chunk costs one clock read, not a timer: the one timer pending fires at the end of the current
    quiet spell, re-arms itself when a chunk came meanwhile, and cancels the read (as `asyncio.timeout`
    does, telling its own cancellation from anyone else's) only when the whole spell was quiet.
    """

    def __init__(self, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = idle
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._reader: asyncio.Task[Any] | None = None  # the task inside read(), while it waits
        self._fired = False

    async def read(self, content: BodyStream) -> bytes | None:
        """The next chunk (b"" at the end), or None after a quiet spell."""
        task = asyncio.current_task()
        assert task is not None
        if self._timer is None:
            self._timer = self._loop.call_at(self._last + self._idle, self._check)
        self._reader = task
        try:
            chunk = await content.readany()
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if task.uncancel() == 0:  # the cancellation was ours alone: a quiet spell
                    self._last = self._loop.time()
                    return None
            raise
        finally:
            self._reader = None
        self._last = self._loop.time()
        return chunk

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._reader is None:
            return  # not waiting on a read: the next read() arms the timer again
        quiet_until = self._last + self._idle
        if self._loop.time() >= quiet_until:
            self._fired = True
            self._reader.cancel()
        else:
            self._timer = self._loop.call_at(quiet_until, self._check)


_UNOBSERVED = frozenset({ir.BlockDelta, ir.BlockStart, ir.BlockStop})


def _observe(exchange: Exchange, event: ir.StreamEvent, client: Format) -> None:
    """What the trace needs from the stream: the upstream's id, the stop reason as the client saw it, the
    usage, a failure."""
    if type(event) in _UNOBSERVED:  # nearly every event of a stream: no pattern to try
        return
    match event:
        case ir.MessageStart(id=upstream_id):
            exchange.upstream_id = upstream_id or exchange.upstream_id
        case ir.Finish(stop_reason=stop_reason, usage=usage):
            exchange.stop_reason = client.codec.stop_reason_name(stop_reason)
            exchange.usage = usage
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
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return ir.StreamError(
            ErrorKind.TIMEOUT, f"[{name}] the upstream went silent mid-answer (read timeout)", repr(exc)
        )
    return ir.StreamError(
        ErrorKind.BAD_GATEWAY,
        f"[{name}] the upstream connection closed before the answer was complete",
        f"{exc.__class__.__name__}: {exc}",
    )
