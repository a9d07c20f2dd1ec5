"""The same-format fast path: a client on a channel that speaks its own wire format.

The client's JSON goes upstream untouched but for the model name; when the model does not change
the raw bytes go as they came. Streams are relayed chunk by chunk as they arrive while a side
reader picks usage and the stop reason for the trace; it JSON-decodes only the few events that
carry them. What differs per format (upstream URL and headers, error bodies, the side reader, the
error frame ending a cut stream) is a `Dialect`; this module holds the shared relay and the
Anthropic dialect (auth is the channel's; `anthropic-version` and `anthropic-beta` are forwarded).
The OpenAI Chat dialect is in `passthrough_openai.py`.
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
from axonhub.profiles import Candidate
from axonhub.sse import EventPicker, encode_event
from axonhub.stream_answer import StreamAnswer
from axonhub.upstream.client import UpstreamCall
from axonhub.upstream.dispatch import ErrorParser, generic_error

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
    finished: bool  # the stream ended the way a complete one of its format ends
    error: dict[str, Any] | None  # an error event the upstream sent in the stream

    def feed(self, chunk: bytes) -> None: ...

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
    error_frame: Callable[[GatewayError], bytes]


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


def parse_anthropic_error(status: int, raw: bytes, channel: str) -> UpstreamError:
    parsed = anthropic_errors.parse_error_body(status, raw)
    if parsed is None:
        return generic_error(status, raw, channel)
    kind, message = parsed
    return UpstreamError(
        f"[{channel}] {message}", kind=kind, status=status, body=raw, body_format="anthropic", channel=channel
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
        self.finished = False
        self.error: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        for event in self._picker.feed(chunk):
            self._event(event.event, event.data)

    def _event(self, name: str | None, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if name == "message_start":
            self.usage.update(_int_fields(payload.get("message", {}).get("usage")))
        elif name == "message_delta":
            self.usage.update(_int_fields(payload.get("usage")))
            self.stop_reason = (payload.get("delta") or {}).get("stop_reason") or self.stop_reason
        elif name == "message_stop":
            self.finished = True
        elif name == "error":
            self.error = payload.get("error") if isinstance(payload.get("error"), dict) else {"message": data}

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
    return usage_from_anthropic(message.get("usage") or {}), stop_reason if isinstance(stop_reason, str) else None


def anthropic_error_frame(failure: GatewayError) -> bytes:
    return encode_event("error", anthropic_errors.error_event(failure))


async def relay_json(exchange: Exchange, upstream: aiohttp.ClientResponse, dialect: Dialect) -> web.Response:
    """A whole JSON answer, forwarded as it came."""
    try:
        data = await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _cut(exchange, exc) from None
    finally:
        exchange.upstream_finished = time.perf_counter()
    exchange.mark_first_byte()
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if isinstance(message, dict):
        exchange.usage, exchange.stop_reason = dialect.summary(message)
    if exchange.config.server.trace.bodies != "none":
        exchange.response_body = message if message is not None else data.decode("utf-8", "replace")
    exchange.status = upstream.status
    return web.Response(
        status=upstream.status, body=data, content_type="application/json", headers=forwarded_headers(upstream)
    )


async def relay_stream(
    request: web.Request, exchange: Exchange, upstream: aiohttp.ClientResponse, dialect: Dialect
) -> web.StreamResponse:
    """Relay an SSE stream chunk by chunk; an upstream cut becomes the dialect's error frame."""
    response = web.StreamResponse(status=upstream.status, headers={**SSE_HEADERS, **forwarded_headers(upstream)})
    response.headers["request-id"] = exchange.request_id
    await response.prepare(request)
    exchange.status = upstream.status
    reader = dialect.stream_reader()
    answer = StreamAnswer.for_exchange(exchange)  # the whole answer for the trace, when it keeps bodies
    failure: GatewayError | None = None
    try:
        async for chunk in upstream.content.iter_any():
            exchange.mark_first_byte()
            await response.write(chunk)
            reader.feed(chunk)
            if answer is not None:
                answer.feed_bytes(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        failure = _cut(exchange, exc)
    finally:
        exchange.upstream_finished = time.perf_counter()
        exchange.usage = reader.trace_usage()
        exchange.stop_reason = reader.stop_reason
        if answer is not None:
            exchange.response_body = answer.body()
    if failure is None and not reader.finished and reader.error is None:
        failure = UpstreamError("upstream stream ended unexpectedly", kind=ErrorKind.SERVER)
    if failure is not None:
        exchange.fail(failure)
        await response.write(dialect.error_frame(failure))
    elif reader.error is not None:
        exchange.fail(GatewayError(str(reader.error.get("message", "upstream error"))), str(reader.error.get("type")))
    await response.write_eof()
    return response


def _cut(exchange: Exchange, exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError(f"[{exchange.channel}] upstream went silent (read timeout)", kind=ErrorKind.TIMEOUT)
    return UpstreamError(f"[{exchange.channel}] upstream connection lost: {exc}", kind=ErrorKind.BAD_GATEWAY)


ANTHROPIC = Dialect(
    name="anthropic",
    call=anthropic_call,
    parse_error=parse_anthropic_error,
    stream_reader=AnthropicStreamReader,
    summary=anthropic_summary,
    error_frame=anthropic_error_frame,
)
