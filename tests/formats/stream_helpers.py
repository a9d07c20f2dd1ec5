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
