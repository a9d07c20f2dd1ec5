"""Whole responses: OpenAI Chat and Anthropic to and from the IR, and the stream ⇄ response reducers."""

from __future__ import annotations

from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import ErrorKind, UpstreamError
from axonhub.formats.aggregate import aggregate, response_events
from axonhub.formats.anthropic import response as anthropic
from axonhub.formats.carrier import make_carrier
from axonhub.formats.openai_chat import response as chat
from axonhub.formats.openai_chat.stream import StreamDecoder
from tests.formats.stream_helpers import data_frames, decode
from tests.ids import COMPLETION_ID, MSG_ID, minted

DEEPSEEK_ANSWER = {
    "id": "chatcmpl-9f3a",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "deepseek-reasoner",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "reasoning_content": "The user wants the weather.",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_00_x",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"'},
                    },
                    {"id": "call:01/y", "type": "function", "function": {"name": "time", "arguments": ""}},
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 40,
        "total_tokens": 1240,
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
        "completion_tokens_details": {"reasoning_tokens": 25},
    },
}


def test_a_deepseek_answer_becomes_the_anthropic_message_claude_code_expects() -> None:
    message = anthropic.render_response(chat.parse_response(DEEPSEEK_ANSWER), "claude-sonnet-4-5")
    rewritten_id = message["content"][3]["id"]  # "call:01/y" breaks Anthropic's id pattern: hashed
    assert rewritten_id.startswith("toolu_") and len(rewritten_id) == 30
    assert minted(message) == {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {
                "type": "thinking",
                "thinking": "The user wants the weather.",
                "signature": make_carrier("chat", "deepseek-reasoner"),
            },
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_00_x", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": rewritten_id, "name": "time", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 176,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1024,
            "output_tokens": 40,
        },
    }


def answer(message: dict[str, Any], finish: str | None, choices: bool = True) -> dict[str, Any]:
    choice = {"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}
    return {
        "id": "c",
        "model": "m",
        "choices": [choice] if choices else [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }


@pytest.mark.parametrize(
    ("body", "stop_reason", "content"),
    [
        (answer({"content": "hi"}, "stop"), ir.StopReason.END_TURN, (ir.Text("hi"),)),
        (answer({"content": "cut"}, "length"), ir.StopReason.MAX_TOKENS, (ir.Text("cut"),)),
        (answer({"content": ""}, "content_filter"), ir.StopReason.REFUSAL, ()),
        (answer({"content": None, "refusal": "I can't."}, "stop"), ir.StopReason.REFUSAL, (ir.Text("I can't."),)),
        (answer({"content": "no call survived"}, "tool_calls"), ir.StopReason.END_TURN, (ir.Text("no call survived"),)),
        (answer({"content": [{"type": "text", "text": "parts"}]}, None), ir.StopReason.END_TURN, (ir.Text("parts"),)),
        (answer({}, None, choices=False), ir.StopReason.REFUSAL, ()),
    ],
)
def test_finish_reasons_map_to_stop_reasons(
    body: dict[str, Any], stop_reason: ir.StopReason, content: tuple[ir.Block, ...]
) -> None:
    response = chat.parse_response(body)
    assert (response.stop_reason, response.content, response.usage) == (stop_reason, content, ir.Usage(3, output=1))


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (answer({"content": "x"}, "insufficient_system_resource"), ErrorKind.OVERLOADED),
        (answer({"content": "x"}, "error"), ErrorKind.SERVER),
        (
            {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
            ErrorKind.BILLING,
        ),
    ],
)
def test_a_failed_generation_in_a_200_answer_raises(body: dict[str, Any], kind: ErrorKind) -> None:
    with pytest.raises(UpstreamError) as caught:
        chat.parse_response(body)
    assert caught.value.kind is kind


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {"prompt_tokens": 100, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 70}},
            ir.Usage(30, 70, 0, 9),
        ),
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 70, "cache_write_tokens": 20},
                "completion_tokens_details": {"reasoning_tokens": 4},
            },
            ir.Usage(10, 70, 20, 9, 4),
        ),
        ({"prompt_tokens": 50, "completion_tokens": 2, "prompt_cache_hit_tokens": 40}, ir.Usage(10, 40, 0, 2)),
        (
            {"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 9}},
            ir.Usage(0, 9, 0, 2),
        ),
        (None, ir.Usage()),
    ],
)
def test_openai_usage_is_split_into_the_three_input_buckets(usage: dict[str, Any] | None, expected: ir.Usage) -> None:
    assert chat.usage_from(usage) == expected


OPENAI_CANONICAL = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "client-model",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Two calls.",
                "reasoning_content": "thinking aloud",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x":"é"}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 5},
    },
}

ANTHROPIC_CANONICAL = {
    "id": "msg_01ABC",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Hmm.", "signature": "EqQBCkgIARAB"},
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "text", "text": "Result:"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "/x", "opts": [1, None]}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "output_tokens": 85,
    },
}


def test_openai_responses_round_trip_through_the_ir() -> None:
    parsed = chat.parse_response(OPENAI_CANONICAL)
    rendered = chat.render_response(parsed, "client-model", created=1700000000, reasoning=True)
    assert minted(rendered) == {**OPENAI_CANONICAL, "id": COMPLETION_ID}


def test_anthropic_responses_round_trip_through_the_ir() -> None:
    rendered = anthropic.render_response(anthropic.parse_response(ANTHROPIC_CANONICAL), "claude-sonnet-4-5")
    assert minted(rendered) == {**ANTHROPIC_CANONICAL, "id": MSG_ID}


def test_an_anthropic_answer_becomes_an_openai_chat_completion() -> None:
    completion = chat.render_response(anthropic.parse_response(ANTHROPIC_CANONICAL), "gpt-name", created=5)
    assert minted(completion) == {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": 5,
        "model": "gpt-name",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Result:",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "Read", "arguments": '{"file_path":"/x","opts":[1,null]}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 2160,
            "completion_tokens": 85,
            "total_tokens": 2245,
            "prompt_tokens_details": {"cached_tokens": 2048},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_an_unsigned_thinking_block_and_empty_text_never_reach_an_anthropic_client() -> None:
    response = ir.Response("x", "m", (ir.Thinking("t"), ir.Text("")), ir.StopReason.MAX_TOKENS)
    content = anthropic.render_response(response, "m")["content"]
    assert [b["type"] for b in content] == ["thinking"]
    assert content[0]["signature"].startswith("gw1.")


# ------------------------------------------------------------------ stream ⇄ response


def test_a_response_replayed_as_a_stream_aggregates_back_to_itself() -> None:
    response = anthropic.parse_response(ANTHROPIC_CANONICAL)
    events = response_events(response)
    assert aggregate(events) == response
    assert events[:4] == [
        ir.MessageStart("msg_01ABC", "claude-sonnet-4-5", response.usage),
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "Hmm."),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, "EqQBCkgIARAB"),
    ]


def test_the_streamed_and_the_whole_deepseek_answer_give_the_same_response() -> None:
    message = DEEPSEEK_ANSWER["choices"][0]["message"]  # type: ignore[index]
    head = {"id": "chatcmpl-9f3a", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-reasoner"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return head | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    calls = message["tool_calls"]
    raw = data_frames(
        chunk({"role": "assistant", "reasoning_content": message["reasoning_content"]}),
        chunk({"content": message["content"]}),
        chunk({"tool_calls": [{"index": 0, **calls[0]}]}),
        chunk({"tool_calls": [{"index": 1, **calls[1]}]}),
        chunk({}, "tool_calls"),
        head | {"choices": [], "usage": DEEPSEEK_ANSWER["usage"]},
        "[DONE]",
    )
    assert aggregate(decode(raw, StreamDecoder("deepseek-reasoner"), 11)) == chat.parse_response(DEEPSEEK_ANSWER)


def test_aggregating_a_failed_or_cut_stream_raises_the_upstream_error() -> None:
    with pytest.raises(UpstreamError) as failed:
        aggregate([ir.MessageStart("a", "m"), ir.StreamError(ErrorKind.RATE_LIMIT, "slow")])
    assert (failed.value.kind, failed.value.message) == (ErrorKind.RATE_LIMIT, "slow")
    with pytest.raises(UpstreamError, match="ended before its answer was complete"):
        aggregate([ir.MessageStart("a", "m"), ir.BlockStart(0, ir.Text(""))])
