"""The same-format fast path: a client on a channel that speaks its own wire format.

The client's JSON goes upstream untouched but for the model name; when the model does not change
the raw bytes go as they came. Streams are relayed as they arrive, whole events at a time (bytes of
an event the upstream has not finished are held back, so a cut never leaves a half event in front
of the error frame), while a side reader picks usage and the stop reason for the trace; it
JSON-decodes only the few events that carry them. A stream that ends after its finish but without
its terminator gets the terminator; one that ends before its finish, or is cut, ends with the
dialect's error frame. What differs per format (upstream URL and headers, the side reader, the
error frame, the terminator) is a `Dialect`; this module holds the shared relay and the Anthropic
dialect (auth is the channel's; `anthropic-version` and `anthropic-beta` are forwarded). The OpenAI
Chat dialect is in `passthrough_openai.py`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.exchange import Exchange, Usage
from axonhub.formats.anthropic import errors as anthropic_errors
from axonhub.formats.anthropic.codec import CODEC as ANTHROPIC_CODEC
from axonhub.profiles import Candidate
from axonhub.sse import EventPicker, encode_event
from axonhub.upstream.answer import Answer
from axonhub.upstream.client import UpstreamCall
from axonhub.upstream.dispatch import ErrorParser

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
# Upstream response headers a client may act on.
_FORWARDED_RESPONSE_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")
_FORWARDED_RESPONSE_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-")


class StreamReader(Protocol):
    """A side reader over a relayed stream: what the trace needs, read without slowing the relay."""

    stop_reason: str | None
    terminated: bool  # the stream's own terminator came (Anthropic `message_stop`, OpenAI `[DONE]`)
    error: dict[str, Any] | None  # an error event the upstream sent in the stream
    upstream_id: str | None

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> None:
        """The upstream ended: read what is left as if its last event were terminated."""

    def trace_usage(self) -> Usage | None: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """What the fast path needs to know about one wire format."""

    name: str
    # (candidate, endpoint, client headers, raw body, parsed body) -> the upstream request
    call: Callable[[Candidate, str, Mapping[str, str], bytes, dict[str, Any]], UpstreamCall]
    parse_error: ErrorParser
    stream_reader: Callable[[], StreamReader]
    # a whole JSON answer -> (usage, stop reason) for the trace
    summary: Callable[[Mapping[str, Any]], tuple[Usage | None, str | None]]
    # the SSE bytes that tell the client its stream failed after the 200 went out
    error_frame: Callable[[ErrorKind, str], bytes]
    # the SSE bytes of the terminator a finished stream must end with
    terminator: bytes


def anthropic_headers(client_headers: Mapping[str, str], candidate: Candidate) -> dict[str, str]:
    """Headers for an Anthropic upstream: the channel's auth, the client's version and betas."""
    channel = candidate.channel
    headers = {
        "Content-Type": "application/json",
        "Accept": client_headers.get("Accept", "application/json"),
        "anthropic-version": client_headers.get("anthropic-version", DEFAULT_ANTHROPIC_VERSION),
    }
    beta = client_headers.get("anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    agent = client_headers.get("User-Agent")
    if agent:
        headers["User-Agent"] = agent
    if channel.api_key:
        headers["x-api-key"] = channel.api_key
    headers.update(channel.headers)
    return headers


def with_model(raw: bytes, body: dict[str, Any], model: str) -> bytes:
    """`raw` with its top-level model replaced, every other byte kept.

    The client's `"model": "<old>"` is spliced when it occurs exactly once in the body (then it is the
    top-level one); otherwise the body is re-serialised, which keeps every value but not the spacing.
    """
    old = body.get("model")
    if old == model:
        return raw
    pattern = re.compile(rb'"model"\s*:\s*' + re.escape(json.dumps(old, ensure_ascii=False).encode()))
    found = pattern.search(raw)
    if found is not None and pattern.search(raw, found.end()) is None:
        new = b'"model":' + json.dumps(model, ensure_ascii=False).encode()
        return raw[: found.start()] + new + raw[found.end() :]
    return json.dumps({**body, "model": model}, ensure_ascii=False, separators=(",", ":")).encode()


def anthropic_call(
    candidate: Candidate, endpoint: str, client_headers: Mapping[str, str], raw: bytes, body: dict[str, Any]
) -> UpstreamCall:
    """The upstream request: the client's bytes with the channel's model name and auth."""
    return UpstreamCall(
        url=f"{candidate.channel.base_url}/v1/{endpoint}",
        headers=anthropic_headers(client_headers, candidate),
        body=with_model(raw, body, candidate.upstream_model),
    )


def forwarded_headers(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    return {
        name: value
        for name, value in upstream.headers.items()
        if name.lower() in _FORWARDED_RESPONSE_HEADERS or name.lower().startswith(_FORWARDED_RESPONSE_PREFIXES)
    }


class AnthropicStreamReader:
    """Reads usage, stop reason and errors off an Anthropic SSE stream passing through."""

    def __init__(self) -> None:
        self._picker = EventPicker(frozenset({"message_start", "message_delta", "message_stop", "error"}))
        self.usage: dict[str, int] = {}
        self.stop_reason: str | None = None
        self.terminated = False
        self.error: dict[str, Any] | None = None
        self.upstream_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        for event in self._picker.feed(chunk):
            self._event(event.event, event.data)

    def finish(self) -> None:
        for event in self._picker.feed(b"\n\n"):
            self._event(event.event, event.data)

    def _event(self, name: str | None, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        if name == "message_start":
            message = payload.get("message")
            message = message if isinstance(message, dict) else {}
            self.usage.update(_int_fields(message.get("usage")))
            self.upstream_id = message.get("id") if isinstance(message.get("id"), str) else None
        elif name == "message_delta":
            self.usage.update(_int_fields(payload.get("usage")))
            delta = payload.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
        elif name == "message_stop":
            self.terminated = True
        elif name == "error":
            kind, message = anthropic_errors.error_in_object(payload) or (ErrorKind.SERVER, "upstream stream error")
            self.error = {"type": kind.value, "message": message}

    def trace_usage(self) -> Usage:
        return usage_from_anthropic(self.usage)


def _int_fields(usage: Any) -> dict[str, int]:
    if not isinstance(usage, dict):
        return {}
    return {k: v for k, v in usage.items() if isinstance(v, int)}


def usage_from_anthropic(usage: Mapping[str, Any]) -> Usage:
    details = usage.get("output_tokens_details") or {}
    return Usage(
        input=int(usage.get("input_tokens") or 0),
        output=int(usage.get("output_tokens") or 0),
        cache_read=int(usage.get("cache_read_input_tokens") or 0),
        cache_write=int(usage.get("cache_creation_input_tokens") or 0),
        reasoning=int(details.get("thinking_tokens") or 0) if isinstance(details, dict) else 0,
    )


def anthropic_summary(message: Mapping[str, Any]) -> tuple[Usage, str | None]:
    """Usage and stop reason of a whole Anthropic message."""
    stop_reason = message.get("stop_reason")
    usage = message.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    return usage_from_anthropic(usage), stop_reason if isinstance(stop_reason, str) else None


def anthropic_error_frame(kind: ErrorKind, message: str) -> bytes:
    return encode_event("error", anthropic_errors.error_event(kind, message))


async def relay_json(exchange: Exchange, answer: Answer, dialect: Dialect) -> web.Response:
    """A whole JSON answer (read and checked by dispatch), forwarded as it came."""
    assert answer.body is not None and answer.payload is not None
    exchange.usage, exchange.stop_reason = dialect.summary(answer.payload)
    upstream_id = answer.payload.get("id")
    exchange.upstream_id = upstream_id if isinstance(upstream_id, str) else None
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
    request: web.Request, exchange: Exchange, upstream: aiohttp.ClientResponse, dialect: Dialect
) -> web.StreamResponse:
    """Relay an SSE stream whole event by whole event; a cut or an unfinished end gets the error frame."""
    response = web.StreamResponse(
        status=upstream.status, headers={**SSE_HEADERS, **forwarded_headers(upstream), **exchange.id_headers()}
    )
    await response.prepare(request)
    exchange.status = upstream.status
    reader = dialect.stream_reader()
    failure: UpstreamError | None = None
    held = b""  # the start of an event the upstream has not finished yet
    try:
        async for chunk in upstream.content.iter_any():
            exchange.mark_first_byte()
            reader.feed(chunk)
            data = held + chunk if held else chunk
            end = event_boundary(data)
            held = data[end:]
            if end:
                await response.write(data[:end] if held else data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        failure = _cut(exchange, exc)
    else:
        reader.finish()
    finally:
        exchange.upstream_finished = time.perf_counter()
        exchange.usage = reader.trace_usage()
        exchange.stop_reason = reader.stop_reason
        exchange.upstream_id = reader.upstream_id
    await response.write(_ending(exchange, reader, dialect, failure, held))
    await response.write_eof()
    return response


def _ending(
    exchange: Exchange, reader: StreamReader, dialect: Dialect, failure: UpstreamError | None, held: bytes
) -> bytes:
    """What the client still needs once the upstream is done: nothing after the upstream's own error
    event; the error frame after a cut or an unfinished stream; else the last event and terminator."""
    if reader.error is not None:  # relayed as the upstream sent it, in the client's own format
        message = str(reader.error.get("message") or "upstream error")
        exchange.fail(GatewayError(f"[{exchange.channel}] {message}"), str(reader.error.get("type")))
        return held + b"\n\n" if held and failure is None else b""  # the error event itself, unterminated
    if failure is None and not (reader.terminated or reader.stop_reason is not None):
        failure = UpstreamError(
            f"[{exchange.channel}] the upstream stream ended before its answer was complete", kind=ErrorKind.SERVER
        )
    if failure is not None:
        exchange.fail(failure)
        return dialect.error_frame(failure.kind, failure.message)
    last = held + b"\n\n" if held else b""
    return last if reader.terminated else last + dialect.terminator


def event_boundary(data: bytes) -> int:
    """The offset just past the last blank line in `data` (0 when it holds none): whole events end there."""
    return max(data.rfind(b"\n\n") + 2, data.rfind(b"\r\n\r\n") + 4, data.rfind(b"\r\r") + 2, 0)


def _cut(exchange: Exchange, exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
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


ANTHROPIC = Dialect(
    name="anthropic",
    call=anthropic_call,
    parse_error=ANTHROPIC_CODEC.parse_error,
    stream_reader=AnthropicStreamReader,
    summary=anthropic_summary,
    error_frame=anthropic_error_frame,
    terminator=encode_event("message_stop", {"type": "message_stop"}),
)
