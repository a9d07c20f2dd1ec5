"""The Anthropic stream decoder (upstream SSE → IR) and encoder (IR → the grammar Claude Code needs)."""

from __future__ import annotations

from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.anthropic.stream import StreamDecoder, StreamEncoder, ping
from axonhub.formats.carrier import parse_carrier
from axonhub.sse import encode_event
from tests.formats.stream_helpers import CUTS, assert_anthropic_grammar, decode, encode_all, named_frames
from tests.ids import MSG_ID, minted

MODEL = "claude-sonnet-4-5"
USAGE = {"input_tokens": 12, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2048, "output_tokens": 1}


def delta(index: int, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": body})


def start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def stop(index: int) -> tuple[str, dict[str, Any]]:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


MESSAGE = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [],
    "stop_reason": None,
    "stop_sequence": None,
    "usage": USAGE,
}
# A stream as Anthropic sends it: thinking, text, a tool call with input split mid-escape.
UPSTREAM: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": MESSAGE}),
    start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, {"type": "thinking_delta", "thinking": "Let me think…"}),
    delta(0, {"type": "signature_delta", "signature": "EqQBCkgIARABGAIiQL"}),
    stop(0),
    start(1, {"type": "text", "text": ""}),
    delta(1, {"type": "text_delta", "text": "Weather in "}),
    delta(1, {"type": "text_delta", "text": "Zürich:"}),
    stop(1),
    start(2, {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}),
    delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Z\\u00'}),
    delta(2, {"type": "input_json_delta", "partial_json": 'fcrich"}'}),
    stop(2),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 2048,
                "output_tokens": 89,
            },
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]
FINAL_USAGE = ir.Usage(input_uncached=12, cache_read=2048, cache_write=100, output=89)
IR_EVENTS: list[ir.StreamEvent] = [
    ir.MessageStart("msg_01XYZ", MODEL, ir.Usage(12, 2048, 100, 1)),
    ir.BlockStart(0, ir.Thinking("")),
    ir.BlockDelta(0, ir.DeltaKind.THINKING, "Let me think…"),
    ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, "EqQBCkgIARABGAIiQL"),
    ir.BlockStop(0),
    ir.BlockStart(1, ir.Text("")),
    ir.BlockDelta(1, ir.DeltaKind.TEXT, "Weather in "),
    ir.BlockDelta(1, ir.DeltaKind.TEXT, "Zürich:"),
    ir.BlockStop(1),
    ir.BlockStart(2, ir.ToolCall("toolu_01A", "get_weather", "")),
    ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '{"city": "Z\\u00'),
    ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, 'fcrich"}'),
    ir.BlockStop(2),
    ir.Finish(ir.StopReason.TOOL_USE, None, FINAL_USAGE),
]


@pytest.mark.parametrize("cut", CUTS)
def test_an_anthropic_upstream_stream_decodes_to_ir_events(cut: int) -> None:
    raw = named_frames(UPSTREAM[0], ("ping", {"type": "ping"}), *UPSTREAM[1:])
    assert decode(raw, StreamDecoder(MODEL), cut) == IR_EVENTS


def minted_upstream() -> list[tuple[str, dict[str, Any]]]:
    """UPSTREAM as the gateway renders it: the same but for a message id of its own."""
    return [("message_start", {"type": "message_start", "message": {**MESSAGE, "id": MSG_ID}}), *UPSTREAM[1:]]


def test_decoding_then_encoding_gives_back_the_same_anthropic_stream() -> None:
    events = encode_all(StreamEncoder(MODEL), decode(named_frames(*UPSTREAM), StreamDecoder(MODEL), 9))
    assert minted(events) == minted_upstream()
    assert_anthropic_grammar(events)


def test_an_upstream_error_event_becomes_a_stream_error_of_its_kind() -> None:
    raw = named_frames(
        UPSTREAM[0],
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
    assert decode(raw, StreamDecoder(MODEL), 4)[-1] == ir.StreamError(ErrorKind.OVERLOADED, "Overloaded")


def test_an_anthropic_stream_cut_before_message_stop_is_a_truncation() -> None:
    events = decode(named_frames(*UPSTREAM[:7]), StreamDecoder(MODEL), 4)
    assert events[-1] == ir.StreamError(ErrorKind.SERVER, "the upstream stream ended before its answer was complete")


def test_the_encoder_numbers_blocks_itself_closes_overlaps_and_signs_unsigned_thinking() -> None:
    events = [
        ir.MessageStart("chatcmpl-7", "kimi-k2", ir.Usage(3)),
        ir.BlockStart(5, ir.Thinking("")),
        ir.BlockDelta(5, ir.DeltaKind.THINKING, "a"),
        ir.BlockStart(9, ir.Text("")),  # opens before 5 stopped: 5 is closed first
        ir.BlockDelta(5, ir.DeltaKind.TEXT, "late delta of a closed block"),
        ir.BlockDelta(9, ir.DeltaKind.TEXT, "b"),
        ir.BlockStop(9),
        ir.Finish(ir.StopReason.END_TURN, None, ir.Usage(3, output=2)),
    ]
    out = encode_all(StreamEncoder("claude-opus-4-8"), events)
    assert_anthropic_grammar(out)
    signature = out[3][1]["delta"]["signature"]
    found = parse_carrier(signature)
    assert found is not None and (found.provider, found.model) == ("gateway", "kimi-k2")
    assert out[1:] == [
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "a"}),
        delta(0, {"type": "signature_delta", "signature": signature}),
        stop(0),
        start(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "b"}),
        stop(1),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {
                    "input_tokens": 3,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 2,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert minted(out[0][1]["message"])["id"] == MSG_ID  # a fresh id, never the upstream's "chatcmpl-7"


def test_a_text_block_that_never_gets_text_is_not_sent() -> None:
    events = [
        ir.MessageStart("msg_1", "m"),
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, ""),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolCall("t1", "f", "")),
        ir.BlockStop(1),
        ir.Finish(ir.StopReason.TOOL_USE),
    ]
    out = encode_all(StreamEncoder("m"), events)
    assert [name for name, _ in out] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert out[1] == start(0, {"type": "tool_use", "id": "t1", "name": "f", "input": {}})


def test_a_failure_ends_the_stream_with_an_error_event_leaving_the_open_block_open() -> None:
    encoder = StreamEncoder("m")
    out = encoder.feed(ir.MessageStart("msg_1", "m"))
    out += encoder.feed(ir.BlockStart(0, ir.Text("")))
    out += encoder.feed(ir.BlockDelta(0, ir.DeltaKind.TEXT, "par"))
    out += encoder.feed(ir.StreamError(ErrorKind.CONTEXT_OVERFLOW, "prompt is too long: 5 tokens > 4 maximum"))
    out += encoder.feed(ir.Finish(ir.StopReason.END_TURN)) + encoder.finish()
    assert [name for name, _ in out] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert out[-1][1] == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 5 tokens > 4 maximum"},
    }


def test_an_ir_stream_that_just_ends_is_reported_as_cut() -> None:
    encoder = StreamEncoder("m")
    encoder.feed(ir.MessageStart("msg_1", "m"))
    assert encoder.finish() == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "api_error", "message": "the upstream stream ended before its answer was complete"},
            },
        )
    ]


def test_an_error_before_anything_else_is_the_only_event() -> None:
    assert encode_all(StreamEncoder("m"), [ir.StreamError(ErrorKind.RATE_LIMIT, "slow down")]) == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    ]


def test_ping_is_a_named_event_for_keepalives() -> None:
    assert encode_event(*ping()) == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_redacted_thinking_and_anthropic_server_blocks_pass_through() -> None:
    server_block = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    events = [
        ir.MessageStart("msg_1", "m"),
        ir.BlockStart(0, ir.RedactedThinking("abc")),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Opaque("anthropic", server_block)),
        ir.BlockDelta(1, ir.DeltaKind.ARGS_JSON, '{"query":"x"}'),
        ir.BlockStop(1),
        ir.BlockStart(2, ir.Opaque("gemini", {"type": "executableCode"})),
        ir.BlockStop(2),
        ir.Finish(ir.StopReason.END_TURN),
    ]
    out = encode_all(StreamEncoder("m"), events)
    assert out[1:6] == [
        start(0, {"type": "redacted_thinking", "data": "abc"}),
        stop(0),
        start(1, server_block),
        delta(1, {"type": "input_json_delta", "partial_json": '{"query":"x"}'}),
        stop(1),
    ]
    assert out[6][0] == "message_delta"
