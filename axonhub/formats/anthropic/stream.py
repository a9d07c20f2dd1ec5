"""Anthropic SSE streams: a decoder (upstream events → IR) and an encoder (IR → client events).

The encoder writes the grammar the anthropic SDK accumulator and Claude Code accept:
`message_start` with the full usage object, blocks numbered 0, 1, 2… in the order they open and
never interleaved, a `signature_delta` before every thinking block's stop, one `message_delta`
with the stop reason and the final usage (input fields included: they overwrite the placeholders of
`message_start`), then `message_stop`. A failure is an `error` event instead, never a fake
`end_turn`, and the block open at that moment stays open (no stop, no signature) as Anthropic's API
does it, which is what lets Claude Code retry the turn. A text block that never receives text is not
emitted at all, since clients echo empty text blocks back and Anthropic rejects them.

Both are IO-free state machines: `feed()` and `finish()` return lists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum, auto
from typing import Any, assert_never

from axonhub import fastjson, ir
from axonhub.errors import ErrorKind
from axonhub.formats.aggregate import TRUNCATED
from axonhub.formats.anthropic import errors
from axonhub.formats.anthropic.response import (
    fallback_signature,
    message_id,
    stop_reason_from,
    stop_reason_name,
    usage_dict,
    usage_from,
)
from axonhub.formats.tool_calls import anthropic_tool_id
from axonhub.sse import ServerSentEvent

# (SSE event name, JSON payload): what `axonhub.sse.encode_event` writes
SSEOut = tuple[str, dict[str, Any]]


def ping() -> SSEOut:
    """A keepalive event, valid anywhere after the stream began."""
    return ("ping", {"type": "ping"})


class _State(Enum):
    WAITING = auto()  # nothing sent / received yet
    STREAMING = auto()
    DONE = auto()  # finished or failed; later input is ignored


# ------------------------------------------------------------------------------------- decoder

_DELTA_KINDS: dict[str, tuple[ir.DeltaKind, str]] = {
    "text_delta": (ir.DeltaKind.TEXT, "text"),
    "thinking_delta": (ir.DeltaKind.THINKING, "thinking"),
    "input_json_delta": (ir.DeltaKind.ARGS_JSON, "partial_json"),
    "signature_delta": (ir.DeltaKind.SIGNATURE, "signature"),
}


class StreamDecoder:
    """Anthropic upstream SSE events → IR stream events."""

    def __init__(self, model: str = "") -> None:
        self._state = _State.WAITING
        self._model = model
        self._usage = ir.Usage()
        self._stop_reason = ir.StopReason.END_TURN
        self._stop_sequence: str | None = None
        self._stopped = False  # a message_delta brought the stop reason

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]:
        if self._state is _State.DONE:
            return []
        try:
            payload = fastjson.loads(sse.data)
        except ValueError:
            return []  # not JSON: nothing a client could use
        if not isinstance(payload, dict):
            return []
        name = sse.event or str(payload.get("type", ""))
        if name in ("ping", ""):
            return []
        events: list[ir.StreamEvent] = []
        if self._state is _State.WAITING and name not in ("message_start", "error"):
            events.append(self._start({}))
        return events + self._event(name, payload)

    def finish(self) -> list[ir.StreamEvent]:
        """EOF: complete when the stop reason came (`message_stop` missing), else a truncation."""
        if self._state is _State.DONE:
            return []
        self._state = _State.DONE
        if self._stopped:
            return [ir.Finish(self._stop_reason, self._stop_sequence, self._usage)]
        return [ir.StreamError(ErrorKind.SERVER, TRUNCATED)]

    def _start(self, message: dict[str, Any]) -> ir.MessageStart:
        self._state = _State.STREAMING
        self._usage = usage_from(message.get("usage"))
        return ir.MessageStart(str(message.get("id", "")), str(message.get("model") or self._model), self._usage)

    def _event(self, name: str, payload: dict[str, Any]) -> list[ir.StreamEvent]:
        index = payload.get("index")
        index = index if isinstance(index, int) else 0
        match name:
            case "message_start":
                message = payload.get("message")
                return [self._start(message if isinstance(message, dict) else {})]
            case "content_block_start":
                block = payload.get("content_block")
                return [ir.BlockStart(index, _shell(block if isinstance(block, dict) else {}))]
            case "content_block_delta":
                return self._delta(index, payload.get("delta"))
            case "content_block_stop":
                return [ir.BlockStop(index)]
            case "message_delta":
                self._message_delta(payload)
                return []
            case "message_stop":
                self._state = _State.DONE
                return [ir.Finish(self._stop_reason, self._stop_sequence, self._usage)]
            case "error":
                self._state = _State.DONE
                return [_stream_error(payload.get("error"))]
        return []

    def _delta(self, index: int, delta: Any) -> list[ir.StreamEvent]:
        if not isinstance(delta, dict) or delta.get("type") not in _DELTA_KINDS:
            return []  # citations_delta and future delta types carry nothing we map
        kind, field = _DELTA_KINDS[str(delta["type"])]
        value = delta.get(field)
        return [ir.BlockDelta(index, kind, value)] if isinstance(value, str) else []

    def _message_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, dict):
            if delta.get("stop_reason"):
                self._stop_reason = stop_reason_from(delta["stop_reason"])
                self._stopped = True
            sequence = delta.get("stop_sequence")
            self._stop_sequence = sequence if isinstance(sequence, str) else self._stop_sequence
        self._usage = usage_from(payload.get("usage"), self._usage)


def _shell(raw: dict[str, Any]) -> ir.Block:
    match raw.get("type"):
        case "text":
            return ir.Text(str(raw.get("text", "")))
        case "thinking":
            return ir.Thinking(str(raw.get("thinking", "")))
        case "redacted_thinking":
            return ir.RedactedThinking(str(raw.get("data", "")))
        case "tool_use":
            return ir.ToolCall(str(raw.get("id", "")), str(raw.get("name", "")), "")
    return ir.Opaque("anthropic", raw)


def _stream_error(error: Any) -> ir.StreamError:
    found = errors.error_in_object({"error": error}) if isinstance(error, dict) else None
    if found is None:
        return ir.StreamError(ErrorKind.SERVER, "upstream stream error")
    return ir.StreamError(*found)


# ------------------------------------------------------------------------------------- encoder


@dataclass(slots=True)
class _Open:
    """The block being written: its index in the IR stream, and ours (None until a text block has text)."""

    source: int
    index: int | None
    shell: ir.Block
    signed: bool = False


class StreamEncoder:
    """IR stream events → Anthropic SSE events for an Anthropic client."""

    def __init__(self, client_model: str) -> None:
        self._state = _State.WAITING
        self._client_model = client_model
        self._upstream_model = ""
        self._next_index = 0
        self._open: _Open | None = None

    def feed(self, event: ir.StreamEvent) -> list[SSEOut]:
        if self._state is _State.DONE:
            return []
        out: list[SSEOut] = []
        if self._state is _State.WAITING and not isinstance(event, ir.MessageStart | ir.StreamError):
            out += self._start(ir.MessageStart("", self._client_model))
        match event:
            case ir.MessageStart():
                out += self._start(event) if self._state is _State.WAITING else []
            case ir.BlockStart(index=index, block=block):
                out += self._close() + self._open_block(index, block)
            case ir.BlockDelta():
                out += self._delta(event)
            case ir.BlockStop(index=index):
                out += self._close() if self._open is not None and self._open.source == index else []
            case ir.Finish():
                out += self._close() + self._finish(event)
            case ir.StreamError(kind=kind, message=message):
                out += self._fail(kind, message)
            case _:
                assert_never(event)
        return out

    def finish(self) -> list[SSEOut]:
        """End of the IR stream: without a Finish it was cut, which the client must learn."""
        if self._state is _State.DONE:
            return []
        return self._fail(ErrorKind.SERVER, TRUNCATED)

    def _start(self, event: ir.MessageStart) -> list[SSEOut]:
        self._state = _State.STREAMING
        self._upstream_model = event.model
        message: dict[str, Any] = {
            "id": message_id(),
            "type": "message",
            "role": "assistant",
            "model": self._client_model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_dict(event.usage),
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _open_block(self, source: int, block: ir.Block) -> list[SSEOut]:
        rendered = _start_block(block)
        if rendered is None:
            return []
        if isinstance(block, ir.Text):
            self._open = _Open(source, None, replace(block, text=""))
            return self._text(block.text)
        index = self._next_index
        self._next_index += 1
        self._open = _Open(source, index, block)
        start = {"type": "content_block_start", "index": index, "content_block": rendered}
        return [("content_block_start", start), *self._shell_content(block)]

    def _shell_content(self, block: ir.Block) -> list[SSEOut]:
        """A shell that already holds content (rare) has it sent as the block's first deltas."""
        match block:
            case ir.Thinking(text=text, signature=signature):
                out = self._delta(ir.BlockDelta(self._source(), ir.DeltaKind.THINKING, text))
                return out + self._delta(ir.BlockDelta(self._source(), ir.DeltaKind.SIGNATURE, signature or ""))
            case ir.ToolCall(args_json=args):
                return self._delta(ir.BlockDelta(self._source(), ir.DeltaKind.ARGS_JSON, args))
        return []

    def _source(self) -> int:
        return self._open.source if self._open is not None else -1

    def _delta(self, event: ir.BlockDelta) -> list[SSEOut]:
        current = self._open
        if current is None or current.source != event.index or not event.value:
            return []
        match (event.kind, current.shell):
            case (ir.DeltaKind.TEXT, ir.Text()):
                return self._text(event.value)
            case (ir.DeltaKind.THINKING, ir.Thinking()):
                return [_delta_event(current, {"type": "thinking_delta", "thinking": event.value})]
            case (ir.DeltaKind.SIGNATURE, ir.Thinking()):
                current.signed = True
                return [_delta_event(current, {"type": "signature_delta", "signature": event.value})]
            case (ir.DeltaKind.ARGS_JSON, ir.ToolCall() | ir.Opaque()):
                return [_delta_event(current, {"type": "input_json_delta", "partial_json": event.value})]
        return []  # a delta of a kind its block cannot hold

    def _text(self, text: str) -> list[SSEOut]:
        current = self._open
        if current is None or not text:
            return []
        out: list[SSEOut] = []
        if current.index is None:
            current.index = self._next_index
            self._next_index += 1
            start = {
                "type": "content_block_start",
                "index": current.index,
                "content_block": {"type": "text", "text": ""},
            }
            out.append(("content_block_start", start))
        return [*out, _delta_event(current, {"type": "text_delta", "text": text})]

    def _close(self) -> list[SSEOut]:
        current, self._open = self._open, None
        if current is None or current.index is None:
            return []
        out: list[SSEOut] = []
        if isinstance(current.shell, ir.Thinking) and not current.signed:
            signature = fallback_signature(self._upstream_model)
            out.append(_delta_event(current, {"type": "signature_delta", "signature": signature}))
        return [*out, ("content_block_stop", {"type": "content_block_stop", "index": current.index})]

    def _finish(self, event: ir.Finish) -> list[SSEOut]:
        self._state = _State.DONE
        delta = {"stop_reason": stop_reason_name(event.stop_reason), "stop_sequence": event.stop_sequence}
        return [
            ("message_delta", {"type": "message_delta", "delta": delta, "usage": usage_dict(event.usage)}),
            ("message_stop", {"type": "message_stop"}),
        ]

    def _fail(self, kind: ErrorKind, message: str) -> list[SSEOut]:
        """The error event, with the open block left open, as Anthropic's own API ends a failed stream.

        Claude Code retries a stream whose block is still open at the error and loses nothing; a
        block closed before the error reads as a finished answer and ends the turn.
        """
        self._open = None
        self._state = _State.DONE
        return [("error", errors.error_event(kind, message))]


def _delta_event(block: _Open, delta: dict[str, Any]) -> SSEOut:
    return ("content_block_delta", {"type": "content_block_delta", "index": block.index, "delta": delta})


def _start_block(block: ir.Block) -> dict[str, Any] | None:
    """The `content_block` of a `content_block_start`; None for blocks a response cannot hold."""
    match block:
        case ir.Text():
            return {"type": "text", "text": ""}
        case ir.Thinking():
            return {"type": "thinking", "thinking": "", "signature": ""}
        case ir.ToolCall(id=call_id, name=name):
            return {"type": "tool_use", "id": anthropic_tool_id(call_id), "name": name, "input": {}}
        case ir.RedactedThinking(data=data):
            return {"type": "redacted_thinking", "data": data}
        case ir.Opaque(provider="anthropic", raw=raw):
            return dict(raw)
        case ir.Opaque() | ir.Image() | ir.Document() | ir.ToolResult():
            return None
        case _:
            assert_never(block)
