"""OpenAI Chat streams: a decoder (upstream chunks → IR events) and an encoder (IR → client chunks).

The decoder keeps one text or thinking block open at a time and buffers tool calls (BUFFER mode):
fragments are collected per `index` however they interleave, and each call is emitted whole (start,
one delta with its repaired JSON, stop) when the stream finishes, so a client never sees a broken
partial JSON or two interleaved blocks. The finish is held until `[DONE]` or EOF because usage may
come after the finish_reason, on the last chunk or in a final `choices: []` chunk. An error payload
or a failed finish reason becomes a StreamError; EOF without any finish reason is a truncation,
reported as one, never passed off as a complete answer.

Both are IO-free state machines: `feed()` and `finish()` return lists.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, assert_never

from axonhub import fastjson, ir
from axonhub.errors import ErrorKind
from axonhub.formats.aggregate import TRUNCATED
from axonhub.formats.openai_chat.errors import error_from_payload, error_payload
from axonhub.formats.openai_chat.response import (
    FAILED_FINISHES,
    completion_id,
    finish_reason_name,
    reasoning_signature,
    stop_reason,
    usage_dict,
    usage_from,
)
from axonhub.formats.tool_calls import join_surrogates, openai_tool_id, stable_arguments
from axonhub.ids import random_id
from axonhub.sse import ServerSentEvent

# (SSE event name, payload): Chat chunks have no event name; the payload is a chunk or "[DONE]"
SSEOut = tuple[str | None, dict[str, Any] | str]
DONE = "[DONE]"
CHARS_PER_TOKEN = 4  # the output estimate when an upstream reports no usage


class _State(Enum):
    WAITING = auto()  # no chunk yet
    STREAMING = auto()
    FINISHING = auto()  # a finish_reason came; waiting for usage and [DONE]
    DONE = auto()  # finished or failed; later input is ignored


@dataclass(slots=True)
class _PendingCall:
    id: str = ""
    name: str = ""
    args: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _OpenText:
    kind: ir.DeltaKind  # TEXT or THINKING
    index: int
    held: str = ""  # a trailing UTF-16 high surrogate, held until its other half arrives


# ------------------------------------------------------------------------------------- decoder


class StreamDecoder:
    """OpenAI Chat upstream chunks → IR stream events (BUFFER mode for tool calls)."""

    def __init__(self, model: str = "", input_estimate: int = 0) -> None:
        self._state = _State.WAITING
        self._model = model
        self._input_estimate = input_estimate
        self._next_index = 0
        self._open: _OpenText | None = None
        self._calls: list[_PendingCall] = []
        self._calls_by_key: dict[int, _PendingCall] = {}
        self._finish_reason: str | None = None
        self._usage: ir.Usage | None = None
        self._refusal = False
        self._output_chars = 0

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]:
        if self._state is _State.DONE:
            return []
        data = sse.data.strip()
        if data == DONE:
            return self._finish()
        try:
            chunk = fastjson.loads(data)
        except ValueError:
            return []  # not JSON (a stray keepalive payload): nothing to map
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk or chunk.get("object") == "error":  # what error_from_payload reads; not per delta
            kind, message = error_from_payload(chunk)
            if kind is not None:
                return self._fail(kind, message)
        out = self._start(chunk)
        self._take_usage(chunk.get("usage"))
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out += self._choice(choice)
        return out

    def finish(self) -> list[ir.StreamEvent]:
        """EOF: a normal end when a finish_reason came (even without [DONE]), else a truncation."""
        match self._state:
            case _State.DONE:
                return []
            case _State.FINISHING:
                return self._finish()
            case _State.WAITING | _State.STREAMING:
                return self._fail(ErrorKind.SERVER, TRUNCATED)
            case _:
                assert_never(self._state)

    def _start(self, chunk: dict[str, Any]) -> list[ir.StreamEvent]:
        if self._state is not _State.WAITING:
            return []
        self._state = _State.STREAMING
        self._model = self._model or str(chunk.get("model") or "")
        usage = ir.Usage(input_uncached=self._input_estimate)
        return [ir.MessageStart(str(chunk.get("id") or ""), str(chunk.get("model") or self._model), usage)]

    def _take_usage(self, raw: Any) -> None:
        if isinstance(raw, dict):
            self._usage = usage_from(raw)

    def _choice(self, choice: dict[str, Any]) -> list[ir.StreamEvent]:
        self._take_usage(choice.get("usage"))  # Moonshot puts usage inside the last choice
        delta = choice.get("delta")
        out: list[ir.StreamEvent] = []
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out += self._text(ir.DeltaKind.THINKING, reasoning)
            for key in ("content", "refusal"):
                value = delta.get(key)
                if isinstance(value, str) and value:
                    self._refusal = self._refusal or key == "refusal"
                    out += self._text(ir.DeltaKind.TEXT, value)
            calls = delta.get("tool_calls")
            self._tool_deltas(calls if isinstance(calls, list) else [])
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            if finish in FAILED_FINISHES:
                return out + self._fail(*FAILED_FINISHES[finish])
            self._finish_reason = finish
            self._state = _State.FINISHING
        return out

    def _text(self, kind: ir.DeltaKind, value: str) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if self._open is None or self._open.kind is not kind:
            out += self._close()
            self._open = _OpenText(kind, self._next_index)
            self._next_index += 1
            out.append(ir.BlockStart(self._open.index, ir.Text("") if kind is ir.DeltaKind.TEXT else ir.Thinking("")))
        value = self._open.held + value
        self._open.held = ""
        if "\ud800" <= value[-1] <= "\udbff":
            value, self._open.held = value[:-1], value[-1]
        value = join_surrogates(value)
        if value:
            self._output_chars += len(value)
            out.append(ir.BlockDelta(self._open.index, kind, value))
        return out

    def _close(self) -> list[ir.StreamEvent]:
        current, self._open = self._open, None
        if current is None:
            return []
        out: list[ir.StreamEvent] = []
        if current.held:
            out.append(ir.BlockDelta(current.index, current.kind, "\ufffd"))
        if current.kind is ir.DeltaKind.THINKING:
            out.append(ir.BlockDelta(current.index, ir.DeltaKind.SIGNATURE, reasoning_signature(self._model)))
        return [*out, ir.BlockStop(current.index)]

    def _tool_deltas(self, calls: list[Any]) -> None:
        for position, raw in enumerate(calls):
            if not isinstance(raw, dict):
                continue
            index = raw.get("index")
            key = index if isinstance(index, int) else position
            call_id = str(raw.get("id") or "")
            pending = self._calls_by_key.get(key)
            if pending is None or (call_id and pending.id and call_id != pending.id and pending.args):
                pending = _PendingCall()  # a new call, or a provider reusing an index for another call
                self._calls.append(pending)
                self._calls_by_key[key] = pending
            pending.id = pending.id or call_id
            function = raw.get("function")
            if isinstance(function, dict):
                self._function_delta(pending, function)

    @staticmethod
    def _function_delta(pending: _PendingCall, function: dict[str, Any]) -> None:
        name = function.get("name")
        if isinstance(name, str) and name:
            pending.name = name
        args = function.get("arguments")
        if isinstance(args, str):
            pending.args.append(args)
        elif args is not None:
            pending.args.append(json.dumps(args, ensure_ascii=False))

    def _emit_calls(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for call in self._calls:
            if not call.name:
                continue  # never a tool_use without a name
            index = self._next_index
            self._next_index += 1
            args = stable_arguments("".join(call.args))
            self._output_chars += len(args)
            out += [
                ir.BlockStart(index, ir.ToolCall(call.id or random_id("call_"), call.name, "")),
                ir.BlockDelta(index, ir.DeltaKind.ARGS_JSON, args),
                ir.BlockStop(index),
            ]
        return out

    def _finish(self) -> list[ir.StreamEvent]:
        out = self._start({}) + self._close() + self._emit_calls()
        calls = sum(isinstance(e, ir.BlockStart) and isinstance(e.block, ir.ToolCall) for e in out)
        self._state = _State.DONE
        usage = self._usage or ir.Usage(
            input_uncached=self._input_estimate, output=math.ceil(self._output_chars / CHARS_PER_TOKEN)
        )
        return [*out, ir.Finish(stop_reason(self._finish_reason, calls, self._refusal), None, usage)]

    def _fail(self, kind: ErrorKind, message: str) -> list[ir.StreamEvent]:
        """The error, with an open text or thinking block left unfinished (never closed or signed as if
        complete) and buffered tool calls dropped."""
        self._open = None
        self._state = _State.DONE
        return [ir.StreamError(kind, message)]


# ------------------------------------------------------------------------------------- encoder


class StreamEncoder:
    """IR stream events → OpenAI chat.completion.chunk payloads for an OpenAI Chat client."""

    def __init__(
        self, client_model: str, *, include_usage: bool = False, reasoning: bool = False, created: int | None = None
    ) -> None:
        self._state = _State.WAITING
        self._client_model = client_model
        self._include_usage = include_usage
        self._reasoning = reasoning
        self._created = int(time.time()) if created is None else created
        self._id = ""
        self._tool_ordinals: dict[int, int] = {}  # IR block index -> tool_calls[].index
        self._kinds: dict[int, ir.Block] = {}

    def feed(self, event: ir.StreamEvent) -> list[SSEOut]:
        if self._state is _State.DONE:
            return []
        out: list[SSEOut] = []
        if self._state is _State.WAITING and not isinstance(event, ir.StreamError):
            out.append(self._start())
        match event:
            case ir.MessageStart():
                pass
            case ir.BlockStart(index=index, block=block):
                out += self._block_start(index, block)
            case ir.BlockDelta():
                out += self._delta(event)
            case ir.BlockStop():
                pass
            case ir.Finish():
                out += self._finish(event)
            case ir.StreamError(kind=kind, message=message):
                self._state = _State.DONE
                out.append((None, error_payload(kind, message)))
            case _:
                assert_never(event)
        return out

    def finish(self) -> list[SSEOut]:
        if self._state is _State.DONE:
            return []
        self._state = _State.DONE
        return [(None, error_payload(ErrorKind.SERVER, TRUNCATED))]

    def _base(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._client_model,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> SSEOut:
        chunk = self._base()
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        if self._include_usage:
            chunk["usage"] = None
        return (None, chunk)

    def _start(self) -> SSEOut:
        self._state = _State.STREAMING
        self._id = completion_id()
        return self._chunk({"role": "assistant", "content": ""})

    def _block_start(self, index: int, block: ir.Block) -> list[SSEOut]:
        self._kinds[index] = block
        match block:
            case ir.ToolCall(id=call_id, name=name, args_json=args):
                ordinal = self._tool_ordinals[index] = len(self._tool_ordinals)
                call = {"index": ordinal, "id": openai_tool_id(call_id), "type": "function"}
                call["function"] = {"name": name, "arguments": ""}
                first = self._chunk({"tool_calls": [call]})
                return [first, *self._delta(ir.BlockDelta(index, ir.DeltaKind.ARGS_JSON, args))]
            case ir.Text(text=text):
                return self._delta(ir.BlockDelta(index, ir.DeltaKind.TEXT, text))
            case ir.Thinking(text=text):
                return self._delta(ir.BlockDelta(index, ir.DeltaKind.THINKING, text))
            case ir.RedactedThinking() | ir.Opaque() | ir.Image() | ir.Document() | ir.ToolResult():
                return []
            case _:
                assert_never(block)

    def _delta(self, event: ir.BlockDelta) -> list[SSEOut]:
        if not event.value:
            return []
        match event.kind:
            case ir.DeltaKind.TEXT:
                return [self._chunk({"content": event.value})]
            case ir.DeltaKind.THINKING:
                return [self._chunk({"reasoning_content": event.value})] if self._reasoning else []
            case ir.DeltaKind.ARGS_JSON:
                if event.index not in self._tool_ordinals:
                    return []
                call = {"index": self._tool_ordinals[event.index], "function": {"arguments": event.value}}
                return [self._chunk({"tool_calls": [call]})]
            case ir.DeltaKind.SIGNATURE:
                return []
            case _:
                assert_never(event.kind)

    def _finish(self, event: ir.Finish) -> list[SSEOut]:
        self._state = _State.DONE
        out = [self._chunk({}, finish_reason_name(event.stop_reason))]
        if self._include_usage:
            out.append((None, {**self._base(), "choices": [], "usage": usage_dict(event.usage)}))
        return [*out, (None, DONE)]
