"""The same-format fast path: a client on a channel that speaks its own wire format.

The client's JSON goes upstream untouched but for the model name (when the model does not change, the
raw bytes go as they came): signed thinking blocks, cache markers and fields AxonHub does not model
survive byte for byte. Streams are relayed as they arrive, whole events at a time (the bytes of an
event the upstream has not finished are held back, so a cut never leaves half an event in front of
the error frame), while the format's side reader picks usage and the stop reason for the trace. A
stream that ends after its finish but without its terminator gets the terminator; one that ends
before its finish, or is cut, ends with the format's error frame. A client that asked for another
framing than SSE (a JSON array) gets the same events re-framed, one element per event. Everything
that differs between formats comes from the format's `Dialect`; this module is the same for all of
them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from axonhub import fastjson
from axonhub.appkeys import REDACTOR
from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.exchange import Exchange
from axonhub.formats.spec import AnswerWitness, Dialect, Format, Framing, SSEFrame, StreamReader
from axonhub.framing import encode_sse, stream_writer
from axonhub.profiles import Candidate
from axonhub.sse import ServerSentEvent, SSEDecoder, event_boundary
from axonhub.stream_answer import StreamAnswer
from axonhub.upstream.answer import Answer, accept_in
from axonhub.upstream.client import BODY_ERRORS, UpstreamCall, UpstreamResponse, forwarded_headers
from axonhub.upstream.dispatch import ErrorParser

if TYPE_CHECKING:
    from axonhub.pipeline import Inbound, Plan


@dataclass(frozen=True, slots=True)
class RelayPlan:
    """Serve a request on a channel of its own format. An answer in the other mode than the one asked
    (a JSON answer to a stream request, or the reverse) goes through `fallback`: the IR transform
    between the format and itself."""

    inbound: Inbound
    fallback: Callable[[], Plan]

    @property
    def format(self) -> Format:
        return self.inbound.format

    def call(self, candidate: Candidate) -> UpstreamCall:
        inbound, dialect = self.inbound, self.format.dialect
        channel, model = candidate.channel, candidate.upstream_model
        fitted = dialect.fit(inbound.body, model, channel) if dialect.fit is not None else None
        return UpstreamCall(
            url=dialect.url(channel, inbound.endpoint.name, model, inbound.stream),
            headers=dialect.headers(inbound.headers, channel, inbound.stream),
            body=dialect.with_model(inbound.raw, inbound.body, model) if fitted is None else fastjson.dumps(fitted),
        )

    def error_parser(self, candidate: Candidate) -> ErrorParser:
        return self.format.codec.parse_error

    async def accept(self, candidate: Candidate, response: UpstreamResponse) -> Answer:
        return await accept_in(self.format, candidate.channel.name, response)

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse:
        if answer.is_stream != self.inbound.stream:
            return await self.fallback().respond(request, exchange, candidate, answer)
        witness = self.inbound.witness
        if answer.is_stream:
            return await relay_stream(
                request, exchange, answer.response, self.format.dialect, witness, self.inbound.framing
            )
        counting = self.format.counting
        if self.inbound.endpoint.counts and counting is not None and answer.payload is not None:
            exchange.counted_tokens = counting.read_answer(answer.payload)  # the count the client is given
        return relay_json(exchange, answer, self.format.dialect, witness)


def relay_json(
    exchange: Exchange, answer: Answer, dialect: Dialect, witness: AnswerWitness | None = None
) -> web.Response:
    """A whole JSON answer (read and checked by dispatch), forwarded as it came."""
    assert answer.body is not None and answer.payload is not None
    if witness is not None:
        witness.answer = answer.payload
    summary = dialect.summary(answer.payload)
    exchange.usage, exchange.stop_reason, exchange.upstream_id = summary.usage, summary.stop_reason, summary.upstream_id
    if exchange.config.server.trace.bodies != "none":
        exchange.response_body = answer.payload
    exchange.status = answer.response.status
    return web.Response(
        status=answer.response.status,
        body=answer.body,
        content_type="application/json",
        headers={**forwarded_headers(answer.response), **exchange.id_headers()},
    )


async def relay_stream(
    request: web.Request,
    exchange: Exchange,
    upstream: UpstreamResponse,
    dialect: Dialect,
    witness: AnswerWitness | None = None,
    framing: Framing = Framing.SSE,
) -> web.StreamResponse:
    """Relay an SSE stream whole event by whole event; a cut or an unfinished end gets the error frame.

    The exact values of the channel keys (and of the client's own key) are taken out of every event
    written, so an upstream error event echoing a key does not pass through; our own error frame is
    redacted in full (`axonhub.redact`)."""
    redactor = request.app[REDACTOR]
    writer = stream_writer(framing, dialect.keepalive)
    response = web.StreamResponse(
        status=upstream.status, headers={**writer.headers, **forwarded_headers(upstream), **exchange.id_headers()}
    )
    await response.prepare(request)
    exchange.status = upstream.status
    reader = dialect.stream_reader()
    reframe = SSEDecoder() if framing is not Framing.SSE else None
    recorded = StreamAnswer.for_exchange(exchange)  # the whole answer for the trace, when it keeps bodies
    failure: UpstreamError | None = None
    held = b""  # the start of an event the upstream has not finished yet
    try:
        async for chunk in upstream.content.iter_any():
            exchange.mark_first_byte()
            reader.feed(chunk)
            if reframe is not None:
                events = [(event.event, event.data) for event in reframe.feed(chunk)]
                if events:
                    await response.write(redactor.exact(writer.frames(events)))
                    if recorded is not None:
                        recorded.feed_bytes(encode_sse(events))
                    if witness is not None:
                        witness.feed(redactor.exact(encode_sse(events)))
                continue
            data = held + chunk if held else chunk
            end = event_boundary(data)
            held = data[end:]
            if end:
                out = redactor.exact(data[:end] if held else data)
                await response.write(out)
                if recorded is not None:
                    recorded.feed_bytes(data[:end] if held else data)
                if witness is not None:
                    witness.feed(out)
    except BODY_ERRORS as exc:
        failure = _cut(exchange, exc)
    else:
        reader.finish()
    finally:
        exchange.upstream_finished = time.perf_counter()
        exchange.usage, exchange.stop_reason, exchange.upstream_id = (
            reader.usage,
            reader.stop_reason,
            reader.upstream_id,
        )
    keep_tail, frames = _ending(exchange, reader, dialect, failure)
    if reframe is None:  # the upstream's unterminated last event as it came (when whole), then our frames
        tail = held + b"\n\n" if keep_tail and held and _whole(SSEDecoder().feed(held + b"\n\n")) else b""
        closing = as_sse = redactor.exact(tail) + redactor.data(writer.frames(frames))
    else:
        ended = reframe.finish() if keep_tail else []
        last = [(event.event, event.data) for event in ended] if _whole(ended) else []
        closing = redactor.exact(writer.frames(last)) + redactor.data(writer.frames(frames)) + writer.close()
        as_sse = redactor.exact(encode_sse(last)) + redactor.data(encode_sse(frames))
    await response.write(closing)
    if recorded is not None:
        recorded.feed_bytes(as_sse)
        exchange.response_body = recorded.body()
    if witness is not None:
        witness.feed(as_sse)
    await response.write_eof()
    return response


def _ending(
    exchange: Exchange, reader: StreamReader, dialect: Dialect, failure: UpstreamError | None
) -> tuple[bool, list[SSEFrame]]:
    """What the client still needs once the upstream is done: whether the upstream's unterminated last
    event goes out, and the frames that end the stream. Nothing after the upstream's own error event;
    the error frame after a cut or an unfinished stream; else the terminator."""
    if reader.error is not None:  # relayed as the upstream sent it, in the client's own format
        kind, message = reader.error
        exchange.fail(GatewayError(f"[{exchange.channel}] {message}", kind=kind))
        return failure is None, []  # the error event itself, unterminated
    if failure is None and not (reader.terminated or reader.stop_reason is not None):
        failure = UpstreamError(
            f"[{exchange.channel}] the upstream stream ended before its answer was complete", kind=ErrorKind.SERVER
        )
    if failure is not None:
        exchange.fail(failure)
        if dialect.continued_error_frame is not None:
            return False, [dialect.continued_error_frame(reader, failure.kind, failure.message)]
        return False, [dialect.error_frame(failure.kind, failure.message)]
    if reader.terminated or dialect.terminator is None:
        return True, []
    return True, [dialect.terminator]


def _whole(events: list[ServerSentEvent]) -> bool:
    """Whether the upstream's last events, which no blank line ended, are whole: each one's data JSON
    (or OpenAI's `[DONE]`). A clean close can cut the last event short, and half an event would break
    the client's parser after an answer that is otherwise complete; it is left out."""
    for event in events:
        if event.data and event.data != "[DONE]":
            try:
                fastjson.loads(event.data)
            except ValueError:
                return False
    return True


def _cut(exchange: Exchange, exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return UpstreamError(
            f"[{exchange.channel}] the upstream went silent mid-answer (read timeout)",
            kind=ErrorKind.TIMEOUT,
            detail=repr(exc),
        )
    return UpstreamError(
        f"[{exchange.channel}] the upstream connection closed before the answer was complete",
        kind=ErrorKind.BAD_GATEWAY,
        detail=f"{exc.__class__.__name__}: {exc}",
    )
