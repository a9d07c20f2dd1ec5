"""Accepting an upstream's 2xx answer before the client sees any of it.

A 2xx is not a success until its body says so. A JSON answer is read whole here, while the client
has still been sent nothing, and must be a JSON object that is not an error object. An HTML page,
truncated or non-JSON text, or an error object with status 200 becomes an UpstreamError of the class
it describes, so dispatch can fail over to the next channel exactly as for an HTTP error.

An SSE answer is looked at until its first event with data (at most `OPENING_WAIT` seconds, less
where keep-alives are due sooner): a stream that opens with an error event (some OpenAI-compatible
providers and proxies answer 200, then `data: {"error": …}`) is such an UpstreamError too, before
the client has seen a byte. The bytes read are put back for the relay; later events are checked
while they are relayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axonhub import fastjson
from axonhub.errors import ErrorKind, UpstreamError, describe_body
from axonhub.sse import first_data_event_end
from axonhub.upstream.client import BODY_ERRORS, UpstreamResponse, unread

if TYPE_CHECKING:
    from axonhub.formats.spec import Format, StreamReader

OPENING_WAIT = 2.0  # seconds a stream's first event is waited for before the stream is taken as it is

# A decoded 200 body -> (kind, message) of the error object it is, or None for a real answer.
ErrorInAnswer = Callable[[Mapping[str, Any]], tuple[ErrorKind, str] | None]


@dataclass(slots=True)
class Answer:
    """An accepted 2xx answer: the open response, and for a JSON answer its body read whole."""

    response: UpstreamResponse
    body: bytes | None = None
    payload: dict[str, Any] | None = None

    @property
    def is_stream(self) -> bool:
        return self.body is None


async def accept_in(fmt: Format, channel: str, response: UpstreamResponse, wait: float = OPENING_WAIT) -> Answer:
    """`accept` for an answer in a channel format's own wire format (every plan's case); a stream's
    opening is waited for at most `wait` seconds."""
    return await accept(
        response,
        channel=channel,
        body_format=fmt.wire,
        error_in_answer=fmt.codec.error_in_answer,
        stream_reader=fmt.dialect.stream_reader,
        opening_wait=wait,
    )


async def accept(
    response: UpstreamResponse,
    *,
    channel: str,
    body_format: str,
    error_in_answer: ErrorInAnswer,
    stream_reader: Callable[[], StreamReader] | None = None,
    opening_wait: float = OPENING_WAIT,
) -> Answer:
    """The answer, or the UpstreamError a broken 2xx stands for (the response is then released)."""
    if response.content_type == "text/event-stream":
        if stream_reader is not None:
            await check_opening(response, stream_reader(), channel, opening_wait)
        return Answer(response)
    raw = await read_whole(response, channel)
    payload = _json_object(raw)
    if payload is None:
        what = _what(response.content_type, raw)
        raise UpstreamError(
            f"[{channel}] the upstream answered HTTP {response.status} with {what} instead of an API response",
            kind=ErrorKind.BAD_GATEWAY,
            channel=channel,
            detail=describe_body(raw),
        )
    found = error_in_answer(payload)
    if found is not None:
        kind, message = found
        text = message if kind is ErrorKind.CONTEXT_OVERFLOW else f"[{channel}] {message}"
        raise UpstreamError(text, kind=kind, body=raw, body_format=body_format, channel=channel)
    return Answer(response, raw, payload)


async def check_opening(response: UpstreamResponse, reader: StreamReader, channel: str, wait: float) -> None:
    """Raise the UpstreamError a stream opening with an error event stands for (the connection is then
    dropped); else put back what was read. Only the first event with data is judged, however the
    bytes arrive, so a stream that began its answer is never refused. A stream that is quiet for
    `wait` seconds or breaks first is left to its reader, which meets the same end."""
    content, seen = response.content, bytearray()
    try:
        async with asyncio.timeout(wait):
            while True:
                chunk = await content.readany()
                if not chunk:  # the whole stream is this: judge it as its reader would at the end
                    reader.feed(bytes(seen))
                    reader.finish()
                    break
                seen += chunk
                end = first_data_event_end(seen)
                if end:
                    reader.feed(bytes(seen[:end]))
                    break
    except TimeoutError:  # quiet: a long think before the first event, or the read timeout
        pass
    except BODY_ERRORS:
        pass
    if reader.error is None:
        unread(content, bytes(seen))
        return
    response.close()
    kind, message = reader.error
    text = message if kind is ErrorKind.CONTEXT_OVERFLOW else f"[{channel}] {message}"
    raise UpstreamError(text, kind=kind, channel=channel, detail=describe_body(bytes(seen)))


async def read_whole(response: UpstreamResponse, channel: str) -> bytes:
    """The whole body; a cut or a silent upstream is an UpstreamError that names the channel."""
    try:
        return await response.read()
    except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
        raise UpstreamError(
            f"[{channel}] the upstream went silent while sending its answer (read timeout)",
            kind=ErrorKind.TIMEOUT,
            channel=channel,
            detail=repr(exc),
        ) from None
    except BODY_ERRORS as exc:
        raise UpstreamError(
            f"[{channel}] the upstream connection closed before its answer was complete",
            kind=ErrorKind.BAD_GATEWAY,
            channel=channel,
            detail=repr(exc),
        ) from None
    finally:
        response.release()


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = fastjson.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _what(content_type: str, raw: bytes) -> str:
    if not raw.strip():
        return "an empty body"
    if content_type == "text/html" or raw.lstrip()[:1] == b"<":
        return "an HTML page"
    if raw.lstrip()[:1] in (b"{", b"["):
        return "JSON that is cut short or not an object"
    return f"a body that is not JSON ({content_type or 'no content type'})"
