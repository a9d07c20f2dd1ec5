"""Whole Responses answers to and from the IR, and the format's errors."""

from __future__ import annotations

import json
from typing import Any

from axonhub import ir
from axonhub.errors import ErrorKind, InvalidRequest, UpstreamError
from axonhub.formats import carrier
from axonhub.formats.anthropic import response as anthropic
from axonhub.formats.openai_chat import response as chat
from axonhub.formats.openai_responses.codec import CODEC
from axonhub.formats.openai_responses.reasoning import OPENAI
from axonhub.formats.openai_responses.request import parse_request
from tests.fakes import responses as wire
from tests.ids import CTC_ID, FC_ID, MSG_ID, RESP_ID, RS_ID, minted

REQUEST = parse_request(
    {
        "model": "codex-model",
        "input": "hi",
        "tools": [
            {"type": "function", "name": "get_weather"},
            {"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "clock", "tools": [{"type": "function", "name": "sleep"}]},
        ],
        "max_output_tokens": 500,
    }
)


def canonical(model: str = "codex-model") -> dict[str, Any]:
    """A response as the gateway renders it for REQUEST."""
    output = [
        {
            "id": RS_ID,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Think."}],
            "encrypted_content": "gAAAA==",
        },
        {
            "id": MSG_ID,
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Here ☃", "annotations": [], "logprobs": []}],
        },
        {
            "id": FC_ID,
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "id": CTC_ID,
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "call_2",
            "name": "apply_patch",
            "input": "*** Begin Patch",
        },
        {
            "id": FC_ID,
            "type": "function_call",
            "status": "completed",
            "call_id": "call_3",
            "name": "sleep",
            "arguments": '{"duration_ms":5}',
            "namespace": "clock",
        },
    ]
    return {
        "id": RESP_ID,
        "object": "response",
        "created_at": 7,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": 500,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 1000},
            "output_tokens": 90,
            "output_tokens_details": {"reasoning_tokens": 30},
            "total_tokens": 1290,
        },
        "metadata": {},
    }


def test_a_responses_answer_round_trips_through_the_ir() -> None:
    parsed = CODEC.parse_response(canonical(), REQUEST)
    assert parsed.stop_reason is ir.StopReason.TOOL_USE
    assert parsed.usage == ir.Usage(input_uncached=200, cache_read=1000, output=90, reasoning_output=30)
    assert parsed.content[0] == ir.Thinking(
        "Think.", carrier.make_carrier(OPENAI, "codex-model", enc="gAAAA==", rid=RS_ID)
    )
    rendered = minted(CODEC.render_response(parsed, REQUEST))
    assert rendered == {**canonical(), "created_at": rendered["created_at"]}


def test_an_anthropic_answer_becomes_a_responses_answer_with_its_thinking_sealed() -> None:
    message = {
        "id": "msg_up",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "EqQBsig=="},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": "*** Begin Patch"}},
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
    rendered = minted(CODEC.render_response(anthropic.parse_response(message), REQUEST))
    assert rendered["output"] == [
        {
            "id": RS_ID,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Hmm."}],
            "encrypted_content": carrier.make_carrier("anthropic", "claude-sonnet-4-5", sig="EqQBsig==", text="Hmm."),
        },
        {
            "id": RS_ID,
            "type": "reasoning",
            "summary": [],
            "encrypted_content": carrier.make_carrier("anthropic", "claude-sonnet-4-5", redacted="EmwKAhgB"),
        },
        {
            "id": CTC_ID,
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "toolu_1",
            "name": "apply_patch",
            "input": "*** Begin Patch",
        },
    ]
    assert rendered["usage"] == {
        "input_tokens": 2160,
        "input_tokens_details": {"cached_tokens": 2048},
        "output_tokens": 85,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 2245,
    }


def test_max_tokens_and_refusals_are_incomplete_responses() -> None:
    answer = chat.parse_response({"choices": [{"message": {"content": "Par"}, "finish_reason": "length"}]})
    rendered = CODEC.render_response(answer, REQUEST)
    assert (rendered["status"], rendered["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    refused = chat.parse_response(
        {"choices": [{"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}]}
    )
    rendered = CODEC.render_response(refused, REQUEST)
    assert (rendered["status"], rendered["incomplete_details"]) == ("incomplete", {"reason": "content_filter"})
    assert CODEC.stop_reason_name(ir.StopReason.MAX_TOKENS) == "max_output_tokens"
    assert CODEC.stop_reason_name(ir.StopReason.TOOL_USE) == "completed"


def test_a_failed_response_in_a_200_is_the_error_it_describes() -> None:
    failed = wire.response([], status="failed", error={"code": "rate_limit_exceeded", "message": "Slow down."})
    assert CODEC.error_in_answer(failed) == (ErrorKind.RATE_LIMIT, "Slow down.")
    assert CODEC.error_in_answer(wire.response([wire.message("fine")])) is None
    assert CODEC.error_in_answer({"error": {"message": "bad", "code": "invalid_prompt"}}) == (
        ErrorKind.INVALID_REQUEST,
        "bad",
    )


def test_upstream_errors_keep_openais_body_for_responses_clients() -> None:
    raw = json.dumps(wire.error("Context too long", code="context_length_exceeded")).encode()
    err = CODEC.parse_error(400, raw, "openai")
    assert isinstance(err, UpstreamError)
    assert (err.kind, err.status, err.body_format, err.body) == (
        ErrorKind.CONTEXT_OVERFLOW,
        400,
        "openai_responses",
        raw,
    )
    html = CODEC.parse_error(502, b"<html>bad gateway</html>", "openai")
    assert (html.kind, html.body_format, html.message) == (
        ErrorKind.BAD_GATEWAY,
        None,
        "[openai] the upstream answered HTTP 502 (Bad Gateway)",
    )


def test_errors_before_the_stream_use_openais_shape_and_status_table() -> None:
    assert CODEC.render_error(InvalidRequest("input: bad"), "input: bad", "req_1") == (
        400,
        {"error": {"message": "input: bad", "type": "invalid_request_error", "param": None, "code": None}},
    )
    overloaded = UpstreamError("[x] busy", kind=ErrorKind.OVERLOADED, status=529)
    assert CODEC.render_error(overloaded, "[x] busy", "req_1")[0] == 503
