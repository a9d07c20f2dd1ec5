"""The OpenAI Chat stream decoder fed raw upstream bytes cut anywhere, and the encoder toward OpenAI clients."""

from __future__ import annotations

import json
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.anthropic.stream import StreamEncoder as AnthropicEncoder
from axonhub.formats.carrier import make_carrier, parse_carrier
from axonhub.formats.openai_chat.stream import StreamDecoder, StreamEncoder
from tests.formats.stream_helpers import CUTS, assert_anthropic_grammar, data_frames, decode, encode_all
from tests.ids import COMPLETION_ID, MSG_ID, minted

MODEL = "deepseek-reasoner"
SIGNATURE = make_carrier("chat", MODEL)
DEEPSEEK_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 40,
    "total_tokens": 1240,
    "prompt_cache_hit_tokens": 1024,
    "prompt_cache_miss_tokens": 176,
    "completion_tokens_details": {"reasoning_tokens": 25},
}
USAGE = ir.Usage(input_uncached=176, cache_read=1024, cache_write=0, output=40, reasoning_output=25)
START = ir.MessageStart("chatcmpl-42", MODEL, ir.Usage())


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {
        "id": "chatcmpl-42",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [choice],
    } | extra


def usage_chunk(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-42",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [],
        "usage": usage,
    }


def tool_delta(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return chunk({"tool_calls": [call]})


TEXT_ONLY = data_frames(
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo ☃ wörld"}),
    chunk({}, "stop", usage=DEEPSEEK_USAGE),
    "[DONE]",
)

THINKING_THEN_TEXT = (
    b": keep-alive\n\n"
    + data_frames(
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        chunk({"reasoning_content": "Let me "}),
        chunk({"reasoning_content": "think…"}),
        chunk({"content": "Done."}),
        chunk({}, "stop"),
    )
    + b": OPENROUTER PROCESSING\n\n"
    + data_frames(usage_chunk(DEEPSEEK_USAGE), "[DONE]")
)

# two calls whose fragments interleave; one argument splits inside a \u escape, one after a multi-byte char
PARALLEL_TOOLS = data_frames(
    chunk({"role": "assistant", "content": None}),
    tool_delta(0, "", "call_00_a", "Read"),
    tool_delta(1, '{"comm', "call_01_b", "Bash"),
    tool_delta(0, '{"file_path": "/tmp/caf\\u00'),
    tool_delta(1, 'and": "echo ☃'),
    tool_delta(0, 'e9.txt"}'),
    tool_delta(1, '"}'),
    chunk({}, "tool_calls"),
    usage_chunk(DEEPSEEK_USAGE),
    "[DONE]",
)

TOOL_AFTER_TEXT = data_frames(
    chunk({"role": "assistant", "content": "I'll run it."}),
    tool_delta(0, '{"command": "ls"}', "call_x", "Bash"),
    chunk({}, "stop"),  # some providers say stop after a call: the tool override still reports tool_use
    usage_chunk(DEEPSEEK_USAGE),
    "[DONE]",
)


@pytest.mark.parametrize("cut", CUTS)
def test_a_text_only_stream_is_one_text_block_with_the_usage_of_the_finish_chunk(cut: int) -> None:
    assert decode(TEXT_ONLY, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Hel"),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "lo ☃ wörld"),
        ir.BlockStop(0),
        ir.Finish(ir.StopReason.END_TURN, None, USAGE),
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_reasoning_becomes_a_thinking_block_signed_with_a_gateway_carrier_then_text(cut: int) -> None:
    assert decode(THINKING_THEN_TEXT, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "Let me "),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "think…"),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, SIGNATURE),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Text("")),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "Done."),
        ir.BlockStop(1),
        ir.Finish(ir.StopReason.END_TURN, None, USAGE),
    ]
    found = parse_carrier(SIGNATURE)
    assert found is not None and (found.provider, found.model) == ("chat", MODEL)


@pytest.mark.parametrize("cut", CUTS)
def test_interleaved_parallel_tool_calls_are_buffered_and_emitted_whole(cut: int) -> None:
    assert decode(PARALLEL_TOOLS, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.ToolCall("call_00_a", "Read", "")),
        ir.BlockDelta(0, ir.DeltaKind.ARGS_JSON, '{"file_path":"/tmp/café.txt"}'),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolCall("call_01_b", "Bash", "")),
        ir.BlockDelta(1, ir.DeltaKind.ARGS_JSON, '{"command":"echo ☃"}'),
        ir.BlockStop(1),
        ir.Finish(ir.StopReason.TOOL_USE, None, USAGE),
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_a_tool_call_after_text_closes_the_text_and_overrides_a_stop_finish(cut: int) -> None:
    assert decode(TOOL_AFTER_TEXT, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "I'll run it."),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolCall("call_x", "Bash", "")),
        ir.BlockDelta(1, ir.DeltaKind.ARGS_JSON, '{"command":"ls"}'),
        ir.BlockStop(1),
        ir.Finish(ir.StopReason.TOOL_USE, None, USAGE),
    ]


def test_usage_only_in_a_final_empty_choices_chunk_reaches_the_finish() -> None:
    raw = data_frames(
        chunk({"content": "Hi"}, usage=None),
        chunk({}, "length", usage=None),
        usage_chunk(
            {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
            }
        ),
        "[DONE]",
    )
    events = decode(raw, StreamDecoder(MODEL), 3)
    assert events[-1] == ir.Finish(ir.StopReason.MAX_TOKENS, None, ir.Usage(30, 60, 10, 7, 0))


def test_without_any_usage_the_output_is_estimated_from_the_characters_and_the_input_from_the_request() -> None:
    raw = data_frames(
        chunk({"content": "x" * 10}), tool_delta(0, '{"a": 1}', "c1", "f"), chunk({}, "tool_calls"), "[DONE]"
    )
    events = decode(raw, StreamDecoder(MODEL, input_estimate=321), 7)
    assert events[0] == ir.MessageStart("chatcmpl-42", MODEL, ir.Usage(input_uncached=321))
    assert events[-1] == ir.Finish(ir.StopReason.TOOL_USE, None, ir.Usage(input_uncached=321, output=5))  # 17 chars / 4


def test_moonshot_usage_inside_the_last_choice_is_read() -> None:
    last = chunk({}, "stop")
    last["choices"][0]["usage"] = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    events = decode(data_frames(chunk({"content": "ok"}), last, "[DONE]"), StreamDecoder(MODEL), 100)
    assert events[-1] == ir.Finish(ir.StopReason.END_TURN, None, ir.Usage(input_uncached=9, output=2))


@pytest.mark.parametrize("cut", CUTS)
def test_an_error_payload_mid_stream_leaves_the_text_open_and_becomes_a_stream_error(cut: int) -> None:
    raw = data_frames(
        chunk({"content": "Par"}),
        tool_delta(0, '{"x":', "c1", "f"),
        {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": "rate_limit_exceeded"}},
        chunk({"content": "ignored after the error"}),
    )
    assert decode(raw, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Par"),
        ir.StreamError(ErrorKind.RATE_LIMIT, "Rate limit reached"),
    ]


def test_a_vllm_error_object_and_an_overflow_mid_stream_are_mapped() -> None:
    overflow = {
        "object": "error",
        "message": "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens (39000 in the messages, 1000 in the completion).",
        "code": 400,
    }
    assert decode(data_frames(overflow), StreamDecoder(MODEL), 100) == [
        ir.StreamError(ErrorKind.CONTEXT_OVERFLOW, "prompt is too long: 39000 tokens > 32768 maximum")
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_eof_without_a_finish_reason_is_a_truncation_error_never_an_end_turn(cut: int) -> None:
    raw = data_frames(chunk({"reasoning_content": "hmm"}), tool_delta(0, '{"path": "/tm', "c1", "Read"))
    assert decode(raw, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "hmm"),
        ir.StreamError(ErrorKind.SERVER, "the upstream stream ended before its answer was complete"),
    ]


def test_an_empty_upstream_stream_is_a_truncation() -> None:
    assert decode(b": keep-alive\n\n", StreamDecoder(MODEL), 1) == [
        ir.StreamError(ErrorKind.SERVER, "the upstream stream ended before its answer was complete")
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_a_missing_done_after_a_finish_reason_is_a_normal_end(cut: int) -> None:
    raw = data_frames(chunk({"content": "Bye"}), chunk({}, "stop", usage=DEEPSEEK_USAGE))
    assert decode(raw, StreamDecoder(MODEL), cut)[-3:] == [
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Bye"),
        ir.BlockStop(0),
        ir.Finish(ir.StopReason.END_TURN, None, USAGE),
    ]


@pytest.mark.parametrize(
    ("finish", "kind"), [("insufficient_system_resource", ErrorKind.OVERLOADED), ("error", ErrorKind.SERVER)]
)
def test_failed_finish_reasons_are_stream_errors(finish: str, kind: ErrorKind) -> None:
    events = decode(data_frames(chunk({"content": "a"}), chunk({}, finish), "[DONE]"), StreamDecoder(MODEL), 100)
    assert [type(e) for e in events] == [ir.MessageStart, ir.BlockStart, ir.BlockDelta, ir.StreamError]
    assert isinstance(events[-1], ir.StreamError) and events[-1].kind is kind


def test_a_surrogate_pair_split_across_two_deltas_is_rejoined() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    raw += b'data: {"choices":[{"index":0,"delta":{"content":"\\ude00b"}}]}\n\n'
    raw += data_frames(chunk({}, "stop"), "[DONE]")
    texts = [e.value for e in decode(raw, StreamDecoder(MODEL), 100) if isinstance(e, ir.BlockDelta)]
    assert texts == ["a", "😀b"]


def test_calls_that_arrive_whole_in_one_delta_without_indices_are_kept_apart() -> None:
    whole = [
        {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "b", "arguments": {"k": "v"}}},
    ]
    raw = data_frames(chunk({"tool_calls": whole}), chunk({}, "tool_calls"), "[DONE]")
    calls = [e for e in decode(raw, StreamDecoder(MODEL), 100) if isinstance(e, ir.BlockStart | ir.BlockDelta)]
    assert calls == [
        ir.BlockStart(0, ir.ToolCall("c1", "a", "")),
        ir.BlockDelta(0, ir.DeltaKind.ARGS_JSON, "{}"),
        ir.BlockStart(1, ir.ToolCall("c2", "b", "")),
        ir.BlockDelta(1, ir.DeltaKind.ARGS_JSON, '{"k":"v"}'),
    ]


def test_broken_arguments_are_repaired_and_a_call_without_a_name_is_dropped() -> None:
    raw = data_frames(
        tool_delta(0, '```json\n{"a": [1, 2', "c1", "f"),
        tool_delta(1, "{}", "c2", ""),
        chunk({}, "tool_calls"),
        "[DONE]",
    )
    deltas = [e for e in decode(raw, StreamDecoder(MODEL), 100) if isinstance(e, ir.BlockDelta)]
    assert deltas == [ir.BlockDelta(0, ir.DeltaKind.ARGS_JSON, '{"a":[1,2]}')]


# ------------------------------------------------------------------ through to an Anthropic client


def anthropic_events(raw: bytes, cut: int) -> list[tuple[str, dict[str, Any]]]:
    return encode_all(AnthropicEncoder("claude-sonnet-4-5"), decode(raw, StreamDecoder(MODEL), cut))


def block(index: int, content_block: dict[str, Any], *deltas: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": content_block}),
        *[("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas],
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_a_deepseek_reasoning_tool_loop_stream_reaches_an_anthropic_client_in_its_exact_grammar(cut: int) -> None:
    raw = data_frames(
        chunk({"role": "assistant", "content": None, "reasoning_content": "Two files."}),
        chunk({"content": "Reading both."}),
        tool_delta(0, '{"file_path": "/a"}', "call_00_a", "Read"),
        tool_delta(1, '{"file_path": "/b"}', "call_01_b", "Read"),
        chunk({}, "tool_calls", usage=DEEPSEEK_USAGE),
        "[DONE]",
    )
    message = {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        },
    }
    events = anthropic_events(raw, cut)
    assert minted(events) == [
        ("message_start", {"type": "message_start", "message": message}),
        *block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "thinking_delta", "thinking": "Two files."},
            {"type": "signature_delta", "signature": SIGNATURE},
        ),
        *block(1, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Reading both."}),
        *block(
            2,
            {"type": "tool_use", "id": "call_00_a", "name": "Read", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"file_path":"/a"}'},
        ),
        *block(
            3,
            {"type": "tool_use", "id": "call_01_b", "name": "Read", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"file_path":"/b"}'},
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {
                    "input_tokens": 176,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 1024,
                    "output_tokens": 40,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert_anthropic_grammar(events)


@pytest.mark.parametrize("raw", [TEXT_ONLY, THINKING_THEN_TEXT, PARALLEL_TOOLS, TOOL_AFTER_TEXT])
@pytest.mark.parametrize("cut", [1, 7])
def test_every_scenario_keeps_the_anthropic_stream_invariants(raw: bytes, cut: int) -> None:
    assert_anthropic_grammar(anthropic_events(raw, cut))


def test_a_truncated_upstream_reaches_the_anthropic_client_as_an_error_event_without_message_stop() -> None:
    events = anthropic_events(data_frames(chunk({"content": "half an ans"})), 5)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert events[-1][1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "the upstream stream ended before its answer was complete"},
    }
    assert_anthropic_grammar(events)


def test_a_rate_limit_mid_stream_reaches_the_anthropic_client_as_a_rate_limit_error_event() -> None:
    raw = data_frames(chunk({"content": "a"}), {"error": {"message": "slow down", "type": "requests", "code": 429}})
    assert anthropic_events(raw, 100)[-1] == (
        "error",
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    )


def test_the_anthropic_sdk_accumulates_the_translated_stream_into_the_right_message() -> None:
    from anthropic.lib.streaming._messages import accumulate_event

    raw = data_frames(
        chunk({"reasoning_content": "r"}),
        tool_delta(0, '{"command": "echo h', "c1", "Bash"),
        tool_delta(0, 'i"}'),
        chunk({}, "tool_calls"),
        "[DONE]",
    )
    snapshot = None
    buffers: dict[int, bytes] = {}
    for _name, data in anthropic_events(raw, 2):
        snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=buffers)  # type: ignore[arg-type]
    assert snapshot is not None
    thinking, tool_use = snapshot.content
    assert (thinking.type, thinking.thinking, thinking.signature) == ("thinking", "r", SIGNATURE)  # type: ignore[union-attr]
    assert (tool_use.type, tool_use.id, tool_use.name, tool_use.input) == (  # type: ignore[union-attr]
        "tool_use",
        "c1",
        "Bash",
        {"command": "echo hi"},
    )
    assert snapshot.stop_reason == "tool_use"


# ------------------------------------------------------------------ encoder toward OpenAI clients


def test_the_encoder_writes_openai_chunks_with_tool_ordinals_usage_and_done() -> None:
    events = [
        ir.MessageStart("msg_1", "claude-x", ir.Usage(10)),
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "hm"),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, "sig"),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Text("")),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "Hi"),
        ir.BlockStop(1),
        ir.BlockStart(2, ir.ToolCall("toolu_1", "Bash", "")),
        ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '{"c":'),
        ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '"ls"}'),
        ir.BlockStop(2),
        ir.Finish(ir.StopReason.TOOL_USE, None, ir.Usage(5, 3, 2, 7, 1)),
    ]
    out = encode_all(StreamEncoder("gpt-client", include_usage=True, reasoning=True, created=7), events)
    head = {"id": COMPLETION_ID, "object": "chat.completion.chunk", "created": 7, "model": "gpt-client"}

    def delta(d: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        return (None, head | {"choices": [{"index": 0, "delta": d, "finish_reason": finish}], "usage": None})

    assert minted(out) == [
        delta({"role": "assistant", "content": ""}),
        delta({"reasoning_content": "hm"}),
        delta({"content": "Hi"}),
        delta(
            {
                "tool_calls": [
                    {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": ""}}
                ]
            }
        ),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"c":'}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]}),
        delta({}, "tool_calls"),
        (
            None,
            head
            | {
                "choices": [],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 7,
                    "total_tokens": 17,
                    "prompt_tokens_details": {"cached_tokens": 3},
                    "completion_tokens_details": {"reasoning_tokens": 1},
                },
            },
        ),
        (None, "[DONE]"),
    ]


def test_the_openai_sdk_reads_the_encoded_stream() -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    events = decode(PARALLEL_TOOLS, StreamDecoder(MODEL), 64)
    state = ChatCompletionStreamState()
    for _, data in encode_all(StreamEncoder("m", include_usage=True, created=1), events):
        if data != "[DONE]":
            state.handle_chunk(ChatCompletionChunk.model_validate(data))
    completion = state.get_final_completion()
    calls = completion.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("call_00_a", "Read", {"file_path": "/tmp/café.txt"}),
        ("call_01_b", "Bash", {"command": "echo ☃"}),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.prompt_tokens == 1200


def test_the_openai_encoder_reports_errors_and_truncation_without_done() -> None:
    encoder = StreamEncoder("m", created=1)
    out = encoder.feed(ir.MessageStart("x", "m")) + encoder.feed(ir.StreamError(ErrorKind.OVERLOADED, "busy"))
    assert out[-1] == (
        None,
        {"error": {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"}},
    )
    assert encoder.finish() == []
    cut = StreamEncoder("m", created=1)
    cut.feed(ir.MessageStart("x", "m"))
    assert cut.finish() == [
        (
            None,
            {
                "error": {
                    "message": "the upstream stream ended before its answer was complete",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )
    ]
