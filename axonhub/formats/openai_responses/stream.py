"""OpenAI Responses streams: a decoder (upstream events → IR) and an encoder (IR → client events).

The encoder writes the grammar Codex and the openai SDK's accumulator need: `response.created` and
`response.in_progress` with one response id that every lifecycle event repeats; per output item
`response.output_item.added`, its deltas, and `response.output_item.done` with the complete item
(Codex takes items only from there); text as `response.content_part.added` / `output_text.delta` /
`output_text.done` / `content_part.done`; reasoning as summary part and summary text events, its
`encrypted_content` on the done item; a function call's arguments and a custom tool call's input
as one delta and their `.done` at the end of the call (never partial JSON). Every event carries a
`sequence_number` rising by one from 0; item ids are fresh and unique. The stream ends with
`response.completed` (or `response.incomplete` at max tokens or a refusal) holding the whole
response and its usage; a failure ends it with an `error` event and `response.failed` whose error
has a code and a message, the item open at that moment left unfinished: never with nothing, which
Codex reports as "stream closed before response.completed".

The decoder reads OpenAI's stream into IR events, keeping each reasoning item's encrypted content on
the thinking block's signature. Both are IO-free state machines: `feed()` and `finish()` return lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, assert_never

from axonhub import fastjson, ir
from axonhub.errors import ErrorKind
from axonhub.formats.aggregate import TRUNCATED
from axonhub.formats.openai_responses import reasoning
from axonhub.formats.openai_responses.errors import error_in_answer, stream_code
from axonhub.formats.openai_responses.response import (
    Items,
    custom_input,
    finished,
    output_text,
    response_id,
    response_object,
    stop_reason,
    usage_from,
)
from axonhub.formats.tool_calls import stable_arguments, stable_json
from axonhub.sse import ServerSentEvent

# (SSE event name, JSON payload): what `axonhub.sse.encode_event` writes
SSEOut = tuple[str, dict[str, Any]]


class _State(Enum):
    WAITING = auto()  # nothing sent / received yet
    STREAMING = auto()
    DONE = auto()  # finished or failed; later input is ignored


# ------------------------------------------------------------------------------------- encoder


@dataclass(slots=True)
class _Open:
    """The block being written: its IR index, its item (None until a text item has text), what it holds."""

    source: int
    block: ir.Block
    item: dict[str, Any] | None = None
    output_index: int = -1
    parts: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)
    summary_open: bool = False


class StreamEncoder:
    """IR stream events → Responses SSE events for a Responses client."""

    def __init__(self, request: ir.Request, *, created: int | None = None) -> None:
        self._state = _State.WAITING
        self._request = request
        self._items = Items(request)
        self._id = response_id()
        self._created = int(time.time()) if created is None else created
        self._seq = 0
        self._upstream_model = ""
        self._output: list[dict[str, Any] | None] = []  # by output_index; None while an item is open
        self._open: _Open | None = None

    def feed(self, event: ir.StreamEvent) -> list[SSEOut]:
        if self._state is _State.DONE:
            return []
        out = self._start(event) if self._state is _State.WAITING else []
        match event:
            case ir.MessageStart():
                pass
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

    def _event(self, kind: str, **fields: Any) -> SSEOut:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return (kind, payload)

    def _response(self, status: str) -> dict[str, Any]:
        done = [item for item in self._output if item is not None]
        return response_object(self._request, self._id, self._created, status, done)

    def _start(self, event: ir.StreamEvent) -> list[SSEOut]:
        self._state = _State.STREAMING
        if isinstance(event, ir.MessageStart):
            self._upstream_model = event.model
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
        ]

    def _add_item(self, current: _Open, item: dict[str, Any]) -> SSEOut:
        current.item, current.output_index = item, len(self._output)
        self._output.append(None)
        return self._event("response.output_item.added", output_index=current.output_index, item=item)

    def _done_item(self, current: _Open, item: dict[str, Any]) -> SSEOut:
        self._output[current.output_index] = item
        return self._event("response.output_item.done", output_index=current.output_index, item=item)

    def _open_block(self, source: int, block: ir.Block) -> list[SSEOut]:
        current = _Open(source, block)
        match block:
            case ir.Text(text=text):
                self._open = current
                return self._text(text)
            case ir.Thinking(text=text, signature=signature):
                self._open = current
                out = [self._add_item(current, self._items.reasoning_shell())]
                current.signature += [signature] if signature else []
                return out + self._thinking(text)
            case ir.RedactedThinking():
                item = self._items.reasoning(block, self._upstream_model)
                return [self._add_item(current, item), self._done_item(current, item)]
            case ir.ToolCall(args_json=args):
                self._open = current
                current.parts += [args] if args else []
                return [self._add_item(current, self._items.call(block, status="in_progress"))]
            case ir.Image() | ir.Document() | ir.ToolResult() | ir.Opaque():
                return []
            case _:
                assert_never(block)

    def _delta(self, event: ir.BlockDelta) -> list[SSEOut]:
        current = self._open
        if current is None or current.source != event.index or not event.value:
            return []
        match (event.kind, current.block):
            case (ir.DeltaKind.TEXT, ir.Text()):
                return self._text(event.value)
            case (ir.DeltaKind.THINKING, ir.Thinking()):
                return self._thinking(event.value)
            case (ir.DeltaKind.SIGNATURE, ir.Thinking()):
                current.signature.append(event.value)
            case (ir.DeltaKind.ARGS_JSON, ir.ToolCall()):
                current.parts.append(event.value)
        return []

    def _text(self, text: str) -> list[SSEOut]:
        current = self._open
        if current is None or not text:
            return []
        out: list[SSEOut] = []
        if current.item is None:
            out.append(self._add_item(current, self._items.message("", status="in_progress")))
            part = output_text("")
            out.append(self._part_event("response.content_part.added", current, part=part))
        current.parts.append(text)
        return [*out, self._part_event("response.output_text.delta", current, delta=text, logprobs=[])]

    def _part_event(self, kind: str, current: _Open, **fields: Any) -> SSEOut:
        assert current.item is not None
        item_id = current.item["id"]
        return self._event(kind, item_id=item_id, output_index=current.output_index, content_index=0, **fields)

    def _summary_event(self, kind: str, current: _Open, **fields: Any) -> SSEOut:
        assert current.item is not None
        item_id = current.item["id"]
        return self._event(kind, item_id=item_id, output_index=current.output_index, summary_index=0, **fields)

    def _thinking(self, text: str) -> list[SSEOut]:
        current = self._open
        if current is None or not text:
            return []
        out: list[SSEOut] = []
        if not current.summary_open:
            current.summary_open = True
            part = {"type": "summary_text", "text": ""}
            out.append(self._summary_event("response.reasoning_summary_part.added", current, part=part))
        current.parts.append(text)
        return [*out, self._summary_event("response.reasoning_summary_text.delta", current, delta=text)]

    def _close(self) -> list[SSEOut]:
        current, self._open = self._open, None
        if current is None or current.item is None:
            return []
        joined = "".join(current.parts)
        match current.block:
            case ir.Text():
                return self._close_text(current, joined)
            case ir.Thinking():
                return self._close_thinking(current, joined)
            case ir.ToolCall():
                return self._close_call(current, current.block, joined)
        return []

    def _close_text(self, current: _Open, text: str) -> list[SSEOut]:
        assert current.item is not None
        part = output_text(text)
        item = {**current.item, "status": "completed", "content": [part]}
        return [
            self._part_event("response.output_text.done", current, text=text, logprobs=[]),
            self._part_event("response.content_part.done", current, part=part),
            self._done_item(current, item),
        ]

    def _close_thinking(self, current: _Open, text: str) -> list[SSEOut]:
        assert current.item is not None
        out: list[SSEOut] = []
        summary: list[dict[str, Any]] = []
        if current.summary_open:
            part = {"type": "summary_text", "text": text}
            summary = [part]
            out.append(self._summary_event("response.reasoning_summary_text.done", current, text=text))
            out.append(self._summary_event("response.reasoning_summary_part.done", current, part=part))
        thinking = ir.Thinking(text, "".join(current.signature) or None)
        item = {**current.item, "summary": summary, "encrypted_content": reasoning.seal(thinking, self._upstream_model)}
        return [*out, self._done_item(current, item)]

    def _close_call(self, current: _Open, call: ir.ToolCall, args: str) -> list[SSEOut]:
        assert current.item is not None
        item_id, index = current.item["id"], current.output_index
        if current.item["type"] == "custom_tool_call":
            text = custom_input(args)
            item = {**current.item, "status": "completed", "input": text}
            return [
                self._event("response.custom_tool_call_input.delta", item_id=item_id, output_index=index, delta=text),
                self._event("response.custom_tool_call_input.done", item_id=item_id, output_index=index, input=text),
                self._done_item(current, item),
            ]
        arguments = stable_arguments(args)
        item = {**current.item, "status": "completed", "arguments": arguments}
        name = item["name"]
        return [
            self._event("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=arguments),
            self._event(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                name=name,
                arguments=arguments,
            ),
            self._done_item(current, item),
        ]

    def _finish(self, event: ir.Finish) -> list[SSEOut]:
        self._state = _State.DONE
        response = finished(self._response("completed"), event.stop_reason, event.usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [self._event(kind, response=response)]

    def _fail(self, kind: ErrorKind, message: str) -> list[SSEOut]:
        """An `error` event, then `response.failed` with the error; the item open at that moment stays open."""
        self._open = None
        self._state = _State.DONE
        code = stream_code(kind)
        response = {**self._response("failed"), "error": {"code": code, "message": message}}
        return [
            self._event("error", code=code, message=message, param=None),
            self._event("response.failed", response=response),
        ]


# ------------------------------------------------------------------------------------- decoder


@dataclass(slots=True)
class _Item:
    """An upstream output item being read: the IR block it opened (None for a message between parts)."""

    kind: str
    index: int | None = None
    emitted: list[str] = field(default_factory=list)  # deltas passed on, to know whether any came
    summaries: int = 0


class StreamDecoder:
    """OpenAI Responses upstream SSE events → IR stream events."""

    def __init__(self, model: str = "") -> None:
        self._state = _State.WAITING
        self._model = model
        self._next_index = 0
        self._items: dict[int, _Item] = {}
        self._calls = 0

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]:
        if self._state is _State.DONE:
            return []
        try:
            payload = fastjson.loads(sse.data)
        except ValueError:
            return []
        if not isinstance(payload, dict):
            return []
        kind = str(payload.get("type") or sse.event or "")
        out: list[ir.StreamEvent] = []
        if self._state is _State.WAITING and kind not in ("error", "response.failed"):
            out.append(self._start(payload.get("response")))
        return out + self._event(kind, payload)

    def finish(self) -> list[ir.StreamEvent]:
        """EOF: a stream without its terminal event was cut."""
        if self._state is _State.DONE:
            return []
        self._state = _State.DONE
        return [ir.StreamError(ErrorKind.SERVER, TRUNCATED)]

    def _start(self, response: Any) -> ir.MessageStart:
        self._state = _State.STREAMING
        body = response if isinstance(response, dict) else {}
        self._model = str(body.get("model") or self._model)
        return ir.MessageStart(str(body.get("id") or ""), self._model)

    def _event(self, kind: str, payload: dict[str, Any]) -> list[ir.StreamEvent]:
        index = payload.get("output_index")
        item = self._items.get(index) if isinstance(index, int) else None
        match kind:
            case "response.output_item.added":
                return self._added(index, payload.get("item"))
            case "response.content_part.added" | "response.output_text.delta" | "response.refusal.delta":
                return self._text(index, item, payload.get("delta") if kind != "response.content_part.added" else "")
            case "response.content_part.done":
                return self._stop(item) if item is not None and item.kind == "message" else []
            case "response.reasoning_summary_part.added":
                if item is not None and item.index is not None and item.summaries:
                    return self._delta(item, ir.DeltaKind.THINKING, "\n\n")
                return []
            case "response.reasoning_summary_text.delta" | "response.reasoning_text.delta":
                if item is not None and item.index is not None:
                    item.summaries += 1
                    return self._delta(item, ir.DeltaKind.THINKING, payload.get("delta"))
                return []
            case "response.function_call_arguments.delta":
                return self._delta(item, ir.DeltaKind.ARGS_JSON, payload.get("delta")) if item is not None else []
            case "response.output_item.done":
                return self._item_done(item, payload.get("item"))
            case "response.completed" | "response.incomplete":
                return self._finish(payload.get("response"))
            case "response.failed" | "error":
                return self._fail(payload)
        return []

    def _added(self, index: Any, raw: Any) -> list[ir.StreamEvent]:
        if not isinstance(index, int) or not isinstance(raw, dict):
            return []
        kind = str(raw.get("type"))
        item = self._items[index] = _Item(kind)
        match kind:
            case "reasoning":
                return self._open(item, ir.Thinking(""))
            case "function_call" | "custom_tool_call":
                self._calls += 1
                call_id = str(raw.get("call_id") or raw.get("id") or "")
                tool = ir.ToolKind.CUSTOM if kind == "custom_tool_call" else ir.ToolKind.FUNCTION
                return self._open(item, ir.ToolCall(call_id, str(raw.get("name", "")), "", tool))
        return []  # a message opens a block per content part; hosted tools' items are left out

    def _open(self, item: _Item, block: ir.Block) -> list[ir.StreamEvent]:
        item.index = self._next_index
        self._next_index += 1
        return [ir.BlockStart(item.index, block)]

    def _text(self, index: Any, item: _Item | None, delta: Any) -> list[ir.StreamEvent]:
        if item is None:
            if not isinstance(index, int):
                return []
            item = self._items[index] = _Item("message")
        if item.kind != "message":
            return []
        out = self._open(item, ir.Text("")) if item.index is None else []
        return out + self._delta(item, ir.DeltaKind.TEXT, delta)

    def _delta(self, item: _Item, kind: ir.DeltaKind, value: Any) -> list[ir.StreamEvent]:
        if item.index is None or not isinstance(value, str) or not value:
            return []
        item.emitted.append(value)
        return [ir.BlockDelta(item.index, kind, value)]

    def _stop(self, item: _Item) -> list[ir.StreamEvent]:
        index, item.index = item.index, None
        return [ir.BlockStop(index)] if index is not None else []

    def _item_done(self, item: _Item | None, raw: Any) -> list[ir.StreamEvent]:
        if item is None or item.index is None:
            return []
        body = raw if isinstance(raw, dict) else {}
        out: list[ir.StreamEvent] = []
        match item.kind:
            case "reasoning":
                encrypted = body.get("encrypted_content")
                rid = body.get("id") if isinstance(body.get("id"), str) else None
                enc = encrypted if isinstance(encrypted, str) else None
                signature = reasoning.from_openai("", enc, rid, self._model).signature or ""
                out.append(ir.BlockDelta(item.index, ir.DeltaKind.SIGNATURE, signature))
            case "function_call" if not item.emitted:
                arguments = body.get("arguments")
                out += self._delta(item, ir.DeltaKind.ARGS_JSON, arguments if isinstance(arguments, str) else "{}")
            case "custom_tool_call":
                text = body.get("input")
                args = stable_json({"input": text if isinstance(text, str) else ""})
                out.append(ir.BlockDelta(item.index, ir.DeltaKind.ARGS_JSON, args))
        return out + self._stop(item)

    def _close_all(self) -> list[ir.StreamEvent]:
        return [event for item in self._items.values() for event in self._stop(item)]

    def _finish(self, response: Any) -> list[ir.StreamEvent]:
        body = response if isinstance(response, dict) else {}
        self._state = _State.DONE
        calls: list[ir.Block] = [ir.ToolCall("", "", "")] * self._calls
        reason = stop_reason(body, calls)
        return [*self._close_all(), ir.Finish(reason, None, usage_from(body.get("usage")))]

    def _fail(self, payload: dict[str, Any]) -> list[ir.StreamEvent]:
        """The failure, with an open block left unfinished (never closed as if complete)."""
        self._state = _State.DONE
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else payload.get("error") or payload
        found = error_in_answer({"error": error}) if isinstance(error, dict) else None
        kind, message = found or (ErrorKind.SERVER, "the upstream reported a failed response")
        return [ir.StreamError(kind, message)]
