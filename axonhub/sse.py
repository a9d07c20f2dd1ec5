"""Server-sent events: a spec-exact incremental decoder and the encoder for outgoing events.

The decoder takes raw bytes as they come off the network. It splits lines on bytes (CRLF, LF or
CR), so a multi-byte UTF-8 character that straddles two network reads is only decoded once its
line is complete. Comment lines (`: keep-alive`) are skipped, several `data:` lines are joined
with `\\n`, and an event is dispatched on the blank line that ends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from axonhub import fastjson


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class SSEDecoder:
    """Incremental SSE parser: `feed(bytes) -> events`, `finish() -> events`."""

    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two reads
        self._pending_cr = False
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            self._pending_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> list[ServerSentEvent]:
        """Flush at end of stream: a last event without its blank line still counts."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            event = self._line(self._buffer)
            self._buffer = b""
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        if raw[:1] == b":":
            return None
        if raw.startswith(b"data: "):  # nearly every line of a stream
            self._data.append(raw[6:].decode("utf-8", errors="replace"))
            return None
        line = raw.decode("utf-8", errors="replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # `id` and `retry` carry nothing a gateway needs; unknown fields are ignored per spec.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and self._event is None:
            return None
        event = ServerSentEvent(self._event, "\n".join(self._data))
        self._event = None
        self._data = []
        if not event.data and event.event is None:
            return None
        return event


class EventPicker:
    """A fast side reader for streams we relay untouched: yields only the named events it wants.

    It cuts the byte stream into events on blank lines and looks at the `event:` line of each, so the
    many delta events cost one `find` apiece and are never decoded. A stream using CR line endings
    is handed to the full `SSEDecoder` instead.
    """

    __slots__ = ("_buffer", "_fallback", "_wanted")

    def __init__(self, wanted: frozenset[str]) -> None:
        self._buffer = b""
        self._wanted = frozenset(f"event: {name}".encode() for name in wanted)
        self._fallback: SSEDecoder | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._fallback is None and b"\r" in chunk:
            self._fallback = SSEDecoder()
            chunk, self._buffer = self._buffer + chunk, b""
        if self._fallback is not None:
            wanted = {w[7:].decode() for w in self._wanted}
            return [e for e in self._fallback.feed(chunk) if e.event in wanted]
        buffer = self._buffer + chunk
        *blocks, self._buffer = buffer.split(b"\n\n")
        picked = []
        for block in blocks:
            head, _, rest = block.lstrip(b"\n").partition(b"\n")
            if head in self._wanted and rest.startswith(b"data:"):
                data = b"\n".join(line[5:].lstrip(b" ") for line in rest.split(b"\n") if line.startswith(b"data:"))
                picked.append(ServerSentEvent(head[7:].decode(), data.decode("utf-8", errors="replace")))
        return picked


def event_boundary(data: bytes | bytearray) -> int:
    """The offset just past the last blank line in `data` (0 when it holds none): whole events end there."""
    lf, crlf, cr = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n"), data.rfind(b"\r\r")  # -1: not there
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0, cr + 2 if cr >= 0 else 0)


def first_data_event_end(data: bytes | bytearray) -> int:
    """The offset just past the first whole event that carries data (0 when none has arrived whole):
    comments and keep-alives before it are passed over."""
    at = 0
    while True:
        ends = [found + len(blank) for blank in _BLANK_LINES if (found := data.find(blank, at)) >= 0]
        if not ends:
            return 0
        end = min(ends)
        block = data[at:end]
        if block.startswith(b"data") or b"\ndata" in block or b"\rdata" in block:
            return end
        at = end


_BLANK_LINES = (b"\n\n", b"\r\n\r\n", b"\r\r")


def encode_event(event: str | None, data: Any) -> bytes:
    """One SSE frame. `data` is JSON-serialised unless it is already a string.

    Compact UTF-8 JSON; a value holding a lone UTF-16 surrogate from an upstream fragment is
    ASCII-escaped instead, so it cannot break the encoder.
    """
    payload = data.encode() if isinstance(data, str) else fastjson.dumps_ascii(data)
    if event:
        return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"
    return b"data: " + payload + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    return f": {text}\n\n".encode()
