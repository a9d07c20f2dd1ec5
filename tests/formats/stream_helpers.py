"""Helpers for stream tests: raw SSE bytes in, decoded in arbitrary cuts, and the Anthropic grammar checker."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from axonhub import ir
from axonhub.sse import ServerSentEvent, SSEDecoder

# every cut size splits the bytes differently: 1 puts a boundary inside every UTF-8 character
CUTS = (1, 2, 5, 13, 64, 100_000)


class Decoder(Protocol):
    def feed(self, sse: ServerSentEvent) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


def data_frames(*items: dict[str, Any] | str) -> bytes:
    """`data:` frames as an OpenAI-compatible upstream writes them (UTF-8, not ASCII-escaped)."""
    frames = []
    for item in items:
        payload = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        frames.append(b"data: " + payload.encode() + b"\n\n")
    return b"".join(frames)


def named_frames(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def decode(raw: bytes, decoder: Decoder, cut: int) -> list[ir.StreamEvent]:
    """Feed `raw` to `decoder` through an SSEDecoder, `cut` bytes at a time, then end the stream."""
    sse = SSEDecoder()
    events: list[ir.StreamEvent] = []
    for at in range(0, len(raw), cut):
        for event in sse.feed(raw[at : at + cut]):
            events += decoder.feed(event)
    for event in sse.finish():
        events += decoder.feed(event)
    return events + decoder.finish()


def encode_all(encoder: Any, events: Iterable[ir.StreamEvent]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out += encoder.feed(event)
    return out + encoder.finish()


def assert_anthropic_grammar(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """The stream invariants that the SDK accumulator and Claude Code rely on."""
    names = [name for name, _ in events]
    assert names[0] in ("message_start", "error"), names
    for name, data in events:
        assert data["type"] == name
    if names[-1] == "error":
        assert "message_stop" not in names and "message_delta" not in names
    else:
        assert names[-2:] == ["message_delta", "message_stop"], names
        assert names.count("message_delta") == 1 and names.count("message_stop") == 1
    if names[0] == "message_start":
        usage = events[0][1]["message"]["usage"]
        assert set(usage) >= {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
    _assert_blocks(events)


def _assert_blocks(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    next_index, open_block, signed, json_parts = 0, None, False, []
    for name, data in events:
        if name == "content_block_start":
            assert open_block is None, "blocks must not overlap"
            assert data["index"] == next_index, "indices are 0, 1, 2… in the order blocks open"
            open_block, signed, json_parts = data["content_block"]["type"], False, []
            next_index += 1
        elif name == "content_block_delta":
            assert open_block is not None and data["index"] == next_index - 1, "a delta for a closed block"
            delta = data["delta"]
            if delta["type"] == "signature_delta":
                assert open_block == "thinking" and delta["signature"]
                signed = True
            if delta["type"] == "input_json_delta":
                json_parts.append(delta["partial_json"])
            if delta["type"] == "text_delta":
                assert delta["text"]
        elif name == "content_block_stop":
            assert open_block is not None and data["index"] == next_index - 1
            if open_block == "thinking":
                assert signed, "a thinking block needs a signature before its stop"
            if open_block == "tool_use":
                assert isinstance(json.loads("".join(json_parts) or "{}"), dict)
            open_block = None
        elif name in ("message_delta", "message_stop"):
            assert open_block is None, "message_delta only after every block closed"


# ------------------------------------------------------------------------------------- Responses

_LIFECYCLE = (
    "response.created",
    "response.in_progress",
    "response.completed",
    "response.incomplete",
    "response.failed",
)
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def assert_responses_grammar(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """The stream invariants Codex and the openai SDK's accumulator rely on."""
    names = [name for name, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"], names
    assert names[-1] in _TERMINAL and sum(n in _TERMINAL for n in names) == 1, names
    for name, data in events:
        assert data["type"] == name
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert len({data["response"]["id"] for name, data in events if name in _LIFECYCLE}) == 1
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    for name, data in events:
        if name == "response.output_item.added":
            assert data["output_index"] == len(added), "output indexes are 0, 1, 2… in the order items open"
            assert all(i in done for i in added), "an item opens only after the previous one is done"
            added[data["output_index"]] = data["item"]
        elif name == "response.output_item.done":
            index = data["output_index"]
            assert index in added and index not in done
            assert (data["item"]["id"], data["item"]["type"]) == (added[index]["id"], added[index]["type"])
            done[index] = data["item"]
        elif "item_id" in data:
            index = data["output_index"]
            assert index in added and index not in done, f"{name} outside its item"
            assert data["item_id"] == added[index]["id"]
    assert len({item["id"] for item in added.values()}) == len(added), "item ids are unique"
    last = events[-1][1]
    if names[-1] == "response.failed":
        assert set(last["response"]["error"]) == {"code", "message"} and last["response"]["error"]["message"]
    else:
        assert last["response"]["output"] == [done[i] for i in sorted(done)]
        usage = last["response"]["usage"]
        assert set(usage) == {
            "input_tokens",
            "input_tokens_details",
            "output_tokens",
            "output_tokens_details",
            "total_tokens",
        }
        assert "cached_tokens" in usage["input_tokens_details"] and "reasoning_tokens" in usage["output_tokens_details"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def sdk_final_response(events: Sequence[tuple[str, dict[str, Any]]]) -> Any:
    """The response the openai SDK's stream accumulator makes of `events` (it raises on a malformed stream);
    None when the stream did not complete."""
    from openai import omit
    from openai._models import construct_type
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.responses import ResponseStreamEvent

    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for _, data in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=data))  # type: ignore[arg-type]
    return state._completed_response
