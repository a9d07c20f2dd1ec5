"""How a streamed answer is framed for its client: server-sent events, or one JSON array.

Codecs and dialects speak in frames (`(event name or None, payload)`); a writer turns them into the
bytes the client's framing wants. SSE is what every format streams by default. A JSON array is what
Gemini clients get when they stream without `alt=sse`: `[` then the elements, comma-separated, as
they come, then `]`; its keep-alive is JSON whitespace, which any JSON reader skips.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol, assert_never

from axonhub.formats.spec import Framing, SSEFrame
from axonhub.sse import encode_event

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
JSON_STREAM_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


class StreamWriter(Protocol):
    headers: dict[str, str]

    def frames(self, frames: Iterable[SSEFrame]) -> bytes: ...

    def keepalive(self) -> bytes: ...

    def close(self) -> bytes: ...


def encode_sse(frames: Iterable[SSEFrame]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in frames)


class SSEWriter:
    """Frames as SSE events; the format's own keep-alive (a comment or a ping event)."""

    headers = SSE_HEADERS

    def __init__(self, keepalive: bytes) -> None:
        self._keepalive = keepalive

    def frames(self, frames: Iterable[SSEFrame]) -> bytes:
        return encode_sse(frames)

    def keepalive(self) -> bytes:
        return self._keepalive

    def close(self) -> bytes:
        return b""


class JSONArrayWriter:
    """Frames as the elements of one JSON array; event names are dropped."""

    headers = JSON_STREAM_HEADERS

    def __init__(self) -> None:
        self._opened = False

    def frames(self, frames: Iterable[SSEFrame]) -> bytes:
        out: list[bytes] = []
        for _, data in frames:
            out.append(b",\r\n" if self._opened else b"[")
            self._opened = True
            out.append(_element(data))
        return b"".join(out)

    def keepalive(self) -> bytes:
        return b"\n"

    def close(self) -> bytes:
        return b"]" if self._opened else b"[]"


def _element(data: Any) -> bytes:
    """A payload as JSON text: a string is already JSON (an upstream event's data), anything else is
    serialised ASCII-escaped, as SSE payloads are."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return text.encode()


def stream_writer(framing: Framing, keepalive: bytes) -> StreamWriter:
    match framing:
        case Framing.SSE:
            return SSEWriter(keepalive)
        case Framing.JSON_ARRAY:
            return JSONArrayWriter()
        case _:
            assert_never(framing)
