"""Gemini streams: a decoder (a channel's `GenerateContentResponse` chunks → IR events) and an encoder
(IR events → chunks for a Gemini client). A whole answer is a stream of one chunk.

The decoder keeps one text or thinking block open at a time. Thought parts (`thought: true`) are
thinking; a `thoughtSignature` is carried in a gateway carrier (`thoughts.py`) as the signature of a
thinking block: the thought part's own block, the block right before a function call (an empty one
when no thinking came), or an empty block right after a text part. Function calls arrive whole, so
each becomes a tool call at once (a call without an id gets one). Usage may come on every chunk
(the last one counts); the finish reason comes on the last chunk and the finish is emitted at the
end of the stream. An error chunk becomes a StreamError; a stream that ends without a finish
reason (and without a blocked prompt) is a truncation, reported as one.

The encoder writes one chunk per text, thought or signature delta and one per whole function call
(arguments are buffered until the call's block stops), then a last chunk with the finish reason and
usage; a failure is an `{"error": …}` chunk, which the google-genai SDKs raise.

Both are IO-free state machines: `feed()` and `finish()` return lists.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, assert_never

from axonhub import fastjson, ir
from axonhub.errors import ErrorKind
from axonhub.formats.aggregate import TRUNCATED
from axonhub.formats.gemini import errors, thoughts
from axonhub.formats.gemini.response import (
    PartWriter,
    empty_answer_note,
    finish_reason_name,
    response_id,
    stop_reason,
    usage_dict,
    usage_from,
)
from axonhub.formats.tool_calls import base62, stable_json
from axonhub.ids import random_id
from axonhub.sse import ServerSentEvent

SSEOut = tuple[None, dict[str, Any]]
CHARS_PER_TOKEN = 4  # the output estimate when an upstream reports no usage


class _State(Enum):
    WAITING = auto()  # no chunk yet
    STREAMING = auto()
    DONE = auto()  # finished or failed; later input is ignored


@dataclass(slots=True)
class _Open:
    kind: ir.DeltaKind  # TEXT or THINKING
    index: int


# ------------------------------------------------------------------------------------- decoder


class StreamDecoder:
    """A Gemini channel's chunks → IR stream events.

    `names` maps the function names Gemini was given back to the client's tool names.
    """

    def __init__(self, model: str = "", names: dict[str, str] | None = None, input_estimate: int = 0) -> None:
        self._state = _State.WAITING
        self._model = model
        self._names = names or {}
        self._input_estimate = input_estimate
        self._next_index = 0
        self._open: _Open | None = None
        self._response_id = ""
        self._finish_reason: str | None = None
        self._blocked: str | None = None
        self._usage: ir.Usage | None = None
        self._calls = 0
        self._content = False  # any text or call reached the client
        self._output_chars = 0

    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]:
        if self._state is _State.DONE:
            return []
        try:
            chunk = fastjson.loads(sse.data)
        except ValueError:
            return []  # not JSON: nothing a client could use
        return self.chunk(chunk) if isinstance(chunk, dict) else []

    def chunk(self, chunk: dict[str, Any]) -> list[ir.StreamEvent]:
        """One `GenerateContentResponse` (a stream's chunk, or a whole answer)."""
        if self._state is _State.DONE:
            return []
        found = errors.error_in_object(chunk)
        if found is not None:
            return self._fail(*found)
        out = self._start(chunk)
        self._usage = usage_from(chunk.get("usageMetadata")) or self._usage
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, dict) and isinstance(feedback.get("blockReason"), str):
            self._blocked = feedback["blockReason"]
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            return out
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                out += self._part(part)
        finish = candidate.get("finishReason")
        if isinstance(finish, str) and finish:
            self._finish_reason = finish
        return out

    def finish(self) -> list[ir.StreamEvent]:
        """End of the stream: the finish, or a truncation when no finish reason came."""
        if self._state is _State.DONE:
            return []
        if self._finish_reason is None and self._blocked is None:
            return self._fail(ErrorKind.SERVER, TRUNCATED)
        out = self._start({}) + self._close()
        note = empty_answer_note(self._finish_reason, self._blocked) if not self._content else None
        if note is not None:
            out += self._text(note) + self._close()
        self._state = _State.DONE
        reason = ir.StopReason.REFUSAL if self._blocked else stop_reason(self._finish_reason, self._calls)
        usage = self._usage or ir.Usage(
            input_uncached=self._input_estimate, output=math.ceil(self._output_chars / CHARS_PER_TOKEN)
        )
        return [*out, ir.Finish(reason, None, usage)]

    def _start(self, chunk: dict[str, Any]) -> list[ir.StreamEvent]:
        if self._state is not _State.WAITING:
            return []
        self._state = _State.STREAMING
        upstream_id = chunk.get("responseId")
        self._response_id = upstream_id if isinstance(upstream_id, str) else ""
        model = chunk.get("modelVersion")
        start_model = model if isinstance(model, str) and model else self._model
        return [ir.MessageStart(self._response_id, start_model, ir.Usage(input_uncached=self._input_estimate))]

    def _part(self, part: dict[str, Any]) -> list[ir.StreamEvent]:
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        text = part.get("text")
        call = part.get("functionCall")
        if isinstance(call, dict):
            return self._call(call, signature)
        if isinstance(text, str) and part.get("thought") is True:
            out = self._thought(text)
            if signature is not None:
                out += self._sign(thoughts.Position.THOUGHT, signature)
            return out
        out = self._text(text) if isinstance(text, str) else []
        out += self._code(part)
        if signature is not None:
            out += self._close() + self._signed_block(thoughts.Position.TEXT, signature)
        return out

    def _thought(self, text: str) -> list[ir.StreamEvent]:
        return self._delta(ir.DeltaKind.THINKING, text)

    def _text(self, text: str) -> list[ir.StreamEvent]:
        if text:
            self._content = True
        return self._delta(ir.DeltaKind.TEXT, text)

    def _code(self, part: dict[str, Any]) -> list[ir.StreamEvent]:
        code, result = part.get("executableCode"), part.get("codeExecutionResult")
        if isinstance(code, dict):
            return self._text(f"\n```{str(code.get('language') or '').lower()}\n{code.get('code', '')}\n```\n")
        if isinstance(result, dict):
            return self._text(f"\n```\n{result.get('output', '')}\n```\n")
        return []

    def _delta(self, kind: ir.DeltaKind, value: str) -> list[ir.StreamEvent]:
        if not value:
            return []
        out: list[ir.StreamEvent] = []
        if self._open is None or self._open.kind is not kind:
            out += self._close()
            self._open = _Open(kind, self._new_index())
            shell: ir.Block = ir.Text("") if kind is ir.DeltaKind.TEXT else ir.Thinking("")
            out.append(ir.BlockStart(self._open.index, shell))
        self._output_chars += len(value)
        return [*out, ir.BlockDelta(self._open.index, kind, value)]

    def _sign(self, position: thoughts.Position, signature: str) -> list[ir.StreamEvent]:
        """Sign the open thinking block and close it (a signature ends its block); with none open, an
        empty thinking block carries the signature."""
        if self._open is None or self._open.kind is not ir.DeltaKind.THINKING:
            return self._close() + self._signed_block(position, signature)
        carried = thoughts.wrap(self._model, signature, position)
        return [ir.BlockDelta(self._open.index, ir.DeltaKind.SIGNATURE, carried), *self._close()]

    def _signed_block(self, position: thoughts.Position, signature: str) -> list[ir.StreamEvent]:
        """An empty thinking block whose only content is the signature."""
        index = self._new_index()
        carried = thoughts.wrap(self._model, signature, position)
        return [
            ir.BlockStart(index, ir.Thinking("")),
            ir.BlockDelta(index, ir.DeltaKind.SIGNATURE, carried),
            ir.BlockStop(index),
        ]

    def _call(self, call: dict[str, Any], signature: str | None) -> list[ir.StreamEvent]:
        out = self._sign(thoughts.Position.CALL, signature) if signature is not None else self._close()
        name = str(call.get("name") or "")
        if not name:
            return out  # never a tool call without a name
        args = call.get("args")
        arguments = stable_json(args if isinstance(args, dict) else {})
        index = self._new_index()
        self._calls += 1
        self._content = True
        self._output_chars += len(arguments)
        shell = ir.ToolCall(self._call_id(call.get("id")), self._names.get(name, name), "")
        delta = ir.BlockDelta(index, ir.DeltaKind.ARGS_JSON, arguments)
        return [*out, ir.BlockStart(index, shell), delta, ir.BlockStop(index)]

    def _call_id(self, given: Any) -> str:
        if isinstance(given, str) and given:
            return given
        if not self._response_id:
            return random_id("call_")
        digest = hashlib.sha256(f"{self._response_id}:{self._calls}".encode()).digest()
        return "call_" + base62(digest)[:24]

    def _close(self) -> list[ir.StreamEvent]:
        current, self._open = self._open, None
        return [ir.BlockStop(current.index)] if current is not None else []

    def _new_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _fail(self, kind: ErrorKind, message: str) -> list[ir.StreamEvent]:
        """The error, with an open block left unfinished (never closed or signed as if complete)."""
        self._open = None
        self._state = _State.DONE
        return [ir.StreamError(kind, message)]


# ------------------------------------------------------------------------------------- encoder


@dataclass(slots=True)
class _Block:
    shell: ir.Block
    parts: list[str] = field(default_factory=list)  # thinking text, a signature, or argument fragments
    signature: list[str] = field(default_factory=list)


class StreamEncoder:
    """IR stream events → `GenerateContentResponse` chunks for a Gemini client."""

    def __init__(self, client_model: str, *, include_thoughts: bool = False) -> None:
        self._state = _State.WAITING
        self._client_model = client_model
        self._id = response_id()
        self._writer = PartWriter("", include_thoughts)
        self._blocks: dict[int, _Block] = {}

    def feed(self, event: ir.StreamEvent) -> list[SSEOut]:
        if self._state is _State.DONE:
            return []
        self._state = _State.STREAMING
        match event:
            case ir.MessageStart(model=model):
                self._writer.upstream_model = model or self._writer.upstream_model
                return []
            case ir.BlockStart(index=index, block=block):
                return self._block_start(index, block)
            case ir.BlockDelta():
                return self._delta(event)
            case ir.BlockStop(index=index):
                return self._block_stop(index)
            case ir.Finish():
                return self._finish(event)
            case ir.StreamError(kind=kind, message=message):
                self._state = _State.DONE
                return [(None, errors.error_payload(kind, message))]
            case _:
                assert_never(event)

    def finish(self) -> list[SSEOut]:
        """End of the IR stream: without a Finish it was cut, which the client must learn."""
        if self._state is _State.DONE:
            return []
        self._state = _State.DONE
        return [(None, errors.error_payload(ErrorKind.SERVER, TRUNCATED))]

    def _chunk(self, parts: list[dict[str, Any]], **candidate: Any) -> SSEOut:
        body: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0, **candidate}],
            "modelVersion": self._client_model,
            "responseId": self._id,
        }
        return (None, body)

    def _block_start(self, index: int, block: ir.Block) -> list[SSEOut]:
        self._blocks[index] = _Block(block)
        match block:
            case ir.Text(text=text):
                return self._parts(self._writer.text(text))
            case ir.Thinking(text=text):
                return self._delta(ir.BlockDelta(index, ir.DeltaKind.THINKING, text))
            case ir.ToolCall(args_json=args):
                self._blocks[index].parts.append(args)
                return []
            case _:
                return []

    def _delta(self, event: ir.BlockDelta) -> list[SSEOut]:
        block = self._blocks.get(event.index)
        if block is None or not event.value:
            return []
        match event.kind:
            case ir.DeltaKind.TEXT:
                return self._parts(self._writer.text(event.value))
            case ir.DeltaKind.THINKING:
                block.parts.append(event.value)
                if not self._writer.include_thoughts:
                    return []
                return self._parts([{"text": event.value, "thought": True}])
            case ir.DeltaKind.SIGNATURE:
                block.signature.append(event.value)
                return []
            case ir.DeltaKind.ARGS_JSON:
                block.parts.append(event.value)
                return []
            case _:
                assert_never(event.kind)

    def _block_stop(self, index: int) -> list[SSEOut]:
        block = self._blocks.pop(index, None)
        if block is None:
            return []
        match block.shell:
            case ir.Thinking():
                # Its text went out as it came; its signature waits for the next part.
                thinking = ir.Thinking("".join(block.parts), "".join(block.signature) or block.shell.signature)
                return self._parts(self._writer.sign(thinking))
            case ir.RedactedThinking():
                return self._parts(self._writer.sign(block.shell))
            case ir.ToolCall():
                call = ir.ToolCall(block.shell.id, block.shell.name, "".join(block.parts))
                return self._parts([self._writer.call(call)])
            case _:
                return []

    def _parts(self, parts: list[dict[str, Any]]) -> list[SSEOut]:
        return [self._chunk(parts)] if parts else []

    def _finish(self, event: ir.Finish) -> list[SSEOut]:
        self._state = _State.DONE
        chunk = self._chunk(self._writer.leftover(), finishReason=finish_reason_name(event.stop_reason))
        chunk[1]["usageMetadata"] = usage_dict(event.usage)
        return [chunk]
