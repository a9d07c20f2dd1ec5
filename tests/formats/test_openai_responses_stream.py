"""The Responses stream decoder fed raw upstream bytes cut anywhere, and the encoder toward Responses clients.

The encoder's output is judged three ways: whole event lists, the grammar Codex and the openai SDK
rely on (`assert_responses_grammar`), and the openai SDK's own stream accumulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.aggregate import TRUNCATED, aggregate
from axonhub.formats.anthropic.stream import StreamDecoder as AnthropicDecoder
from axonhub.formats.anthropic.stream import StreamEncoder as AnthropicEncoder
from axonhub.formats.carrier import make_carrier, parse_carrier
from axonhub.formats.openai_chat.stream import StreamDecoder as ChatDecoder
from axonhub.formats.openai_responses.reasoning import OPENAI
from axonhub.formats.openai_responses.request import parse_request
from axonhub.formats.openai_responses.stream import StreamDecoder, StreamEncoder
from tests.fakes import anthropic as a_wire
from tests.fakes import openai as o_wire
from tests.fakes import responses as wire
from tests.formats.stream_helpers import (
    CUTS,
    assert_anthropic_grammar,
    assert_responses_grammar,
    decode,
    encode_all,
    sdk_final_response,
)
from tests.ids import FC_ID, MSG_ID, RESP_ID, RS_ID, minted

MODEL = "gpt-5"
UPSTREAM_USAGE = wire.usage(1200, 40, cached=1024, reasoning=25)
USAGE = ir.Usage(input_uncached=176, cache_read=1024, cache_write=0, output=40, reasoning_output=25)
START = ir.MessageStart(wire.RESPONSE_ID, MODEL)


def raw(*chunks: bytes) -> bytes:
    return b"".join(chunks)


def stream_of(whole: dict[str, Any], pieces: int = 2) -> bytes:
    return raw(*wire.stream_events(whole, pieces))


# ------------------------------------------------------------------------------------- decoder


@pytest.mark.parametrize("cut", CUTS)
def test_a_text_answer_decodes_to_one_text_block(cut: int) -> None:
    body = stream_of(wire.response([wire.message("Hello ☃ wörld")], body_usage=UPSTREAM_USAGE))
    assert decode(body, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Hello ☃"),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, " wörld"),
        ir.BlockStop(0),
        ir.Finish(ir.StopReason.END_TURN, None, USAGE),
    ]


@pytest.mark.parametrize("cut", CUTS)
def test_reasoning_then_text_keeps_openais_encrypted_content_on_the_signature(cut: int) -> None:
    whole = wire.response([wire.reasoning("Let me think.", "gAAAA=="), wire.message("Done.")])
    events = decode(stream_of(whole), StreamDecoder(MODEL), cut)
    signature = make_carrier(OPENAI, MODEL, enc="gAAAA==", rid="rs_up1")
    assert events == [
        START,
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "Let me "),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "think."),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, signature),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Text("")),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "Don"),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "e."),
        ir.BlockStop(1),
        ir.Finish(ir.StopReason.END_TURN, None, ir.Usage(input_uncached=100, output=10)),
    ]


def two_calls_split_awkwardly() -> bytes:
    """Two function calls whose argument deltas split a JSON escape and a multi-byte character."""
    event = wire.Events()
    calls = [
        wire.function_call("call_a", "get_weather", '{"city":"Z\\u00fcrich ☃"}', "fc_a"),
        wire.function_call("call_b", "get_time", '{"tz":"Europe/Paris"}', "fc_b"),
    ]
    whole = wire.response(calls)
    out = [event("response.created", response={**whole, "status": "in_progress", "output": []})]
    pieces = [['{"city":"Z\\u00', "fc", "rich ", '☃"}'], ['{"tz":', '"Europe/Paris"}']]
    for index, (call, deltas) in enumerate(zip(calls, pieces, strict=True)):
        where = {"item_id": call["id"], "output_index": index}
        out.append(event("response.output_item.added", output_index=index, item={**call, "arguments": ""}))
        out += [event("response.function_call_arguments.delta", **where, delta=d) for d in deltas]
        out.append(event("response.output_item.done", output_index=index, item=call))
    out.append(event("response.completed", response=whole))
    return raw(*out)


@pytest.mark.parametrize("cut", CUTS)
def test_two_function_calls_keep_their_arguments_whatever_the_cuts(cut: int) -> None:
    events = decode(two_calls_split_awkwardly(), StreamDecoder(MODEL), cut)
    answer = aggregate(events)
    assert answer.content == (
        ir.ToolCall("call_a", "get_weather", '{"city":"Z\\u00fcrich ☃"}'),
        ir.ToolCall("call_b", "get_time", '{"tz":"Europe/Paris"}'),
    )
    assert answer.stop_reason is ir.StopReason.TOOL_USE
    anthropic = encode_all(AnthropicEncoder("claude-x"), events)
    assert_anthropic_grammar(anthropic)
    inputs = [
        json.loads(
            "".join(d["delta"]["partial_json"] for n, d in anthropic if n == "content_block_delta" and d["index"] == i)
        )
        for i in (0, 1)
    ]
    assert inputs == [{"city": "Zürich ☃"}, {"tz": "Europe/Paris"}]


@pytest.mark.parametrize("cut", CUTS)
def test_a_custom_tool_call_becomes_a_call_with_one_input_string(cut: int) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi ☃\n*** End Patch\n"
    events = decode(
        stream_of(wire.response([wire.custom_call("call_p", "apply_patch", patch)]), 3), StreamDecoder(MODEL), cut
    )
    assert events[1:] == [
        ir.BlockStart(0, ir.ToolCall("call_p", "apply_patch", "", ir.ToolKind.CUSTOM)),
        ir.BlockDelta(
            0, ir.DeltaKind.ARGS_JSON, json.dumps({"input": patch}, ensure_ascii=False, separators=(",", ":"))
        ),
        ir.BlockStop(0),
        ir.Finish(ir.StopReason.TOOL_USE, None, ir.Usage(input_uncached=100, output=10)),
    ]


def test_usage_that_comes_only_with_the_completed_response_is_the_finishs() -> None:
    events = decode(stream_of(wire.response([wire.message("x")], body_usage=UPSTREAM_USAGE)), StreamDecoder(MODEL), 7)
    assert events[0] == START and events[0].usage == ir.Usage()
    assert events[-1] == ir.Finish(ir.StopReason.END_TURN, None, USAGE)


@pytest.mark.parametrize("cut", CUTS)
def test_an_upstream_failure_mid_stream_leaves_the_open_block_open(cut: int) -> None:
    event = wire.Events()
    error = {"code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 1.5s."}
    body = raw(
        event("response.created", response=wire.response([], status="in_progress")),
        event("response.output_item.added", output_index=0, item={"id": "msg_1", "type": "message", "content": []}),
        event("response.content_part.added", item_id="msg_1", output_index=0, content_index=0, part={}),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hel"),
        event("response.failed", response=wire.response([], status="failed", error=error)),
    )
    assert decode(body, StreamDecoder(MODEL), cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Hel"),
        ir.StreamError(ErrorKind.RATE_LIMIT, error["message"]),
    ]


def test_a_bare_error_event_is_a_failure_and_a_stream_without_its_end_is_cut() -> None:
    event = wire.Events()
    bare = raw(event("error", code="server_error", message="The server had an error.", param=None))
    assert decode(bare, StreamDecoder(MODEL), 100) == [ir.StreamError(ErrorKind.SERVER, "The server had an error.")]
    unfinished = raw(*wire.stream_events(wire.response([wire.message("Hi")]))[:-1])
    assert decode(unfinished, StreamDecoder(MODEL), 100)[-1] == ir.StreamError(ErrorKind.SERVER, TRUNCATED)


@pytest.mark.parametrize("reason", ["max_output_tokens", "content_filter"])
def test_an_incomplete_response_finishes_at_max_tokens_or_as_a_refusal(reason: str) -> None:
    whole = wire.response([wire.message("Partial")], status="incomplete", incomplete=reason)
    expected = ir.StopReason.MAX_TOKENS if reason == "max_output_tokens" else ir.StopReason.REFUSAL
    assert decode(stream_of(whole), StreamDecoder(MODEL), 9)[-1] == ir.Finish(
        expected, None, ir.Usage(input_uncached=100, output=10)
    )


# ------------------------------------------------------------------------------------- encoder


CODEX_REQUEST = parse_request(
    {
        "model": "gpt-6.1-sol",
        "input": "Run the marker command",
        "tools": [
            {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}},
            {"type": "namespace", "name": "clock", "tools": [{"type": "function", "name": "sleep"}]},
            {"type": "custom", "name": "apply_patch", "format": {"type": "text"}},
        ],
    }
)


def encoded(events: list[ir.StreamEvent], request: ir.Request = CODEX_REQUEST) -> list[tuple[str, dict[str, Any]]]:
    out = encode_all(StreamEncoder(request, created=5), events)
    assert_responses_grammar(out)
    return out


def chat_raw(body: list[bytes | float]) -> bytes:
    """A fake OpenAI-compatible stream body as the bytes on the wire (pauses left out)."""
    return b"".join(part for part in body if isinstance(part, bytes))


def test_a_text_answer_is_the_whole_responses_event_grammar() -> None:
    upstream = o_wire.text_stream("Hel", "lo ☃", final_usage=o_wire.usage(1200, 40, cached=1024, reasoning=25))
    events = decode(chat_raw(upstream), ChatDecoder("deepseek-chat"), 5)
    out = minted(encoded(events))
    response = {
        "id": RESP_ID,
        "object": "response",
        "created_at": 5,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-6.1-sol",
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": None,
        "metadata": {},
    }
    part = {"type": "output_text", "text": "Hello ☃", "annotations": [], "logprobs": []}
    item = {"id": MSG_ID, "type": "message", "role": "assistant", "status": "completed", "content": [part]}
    at = {"item_id": MSG_ID, "output_index": 0, "content_index": 0}
    usage = {
        "input_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 1024},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 25},
        "total_tokens": 1240,
    }
    expected = [
        ("response.created", {"response": response}),
        ("response.in_progress", {"response": response}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}}),
        ("response.content_part.added", {**at, "part": {**part, "text": ""}}),
        ("response.output_text.delta", {**at, "delta": "Hel", "logprobs": []}),
        ("response.output_text.delta", {**at, "delta": "lo ☃", "logprobs": []}),
        ("response.output_text.done", {**at, "text": "Hello ☃", "logprobs": []}),
        ("response.content_part.done", {**at, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": {**response, "status": "completed", "output": [item], "usage": usage}}),
    ]
    assert out == [(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(expected)]
    final = sdk_final_response(out)
    assert (final.output_text, final.usage.input_tokens_details.cached_tokens) == ("Hello ☃", 1024)


def test_reasoning_then_text_seals_the_reasoning_in_encrypted_content() -> None:
    upstream = o_wire.text_stream("Done.", reasoning=("Let me ", "think…"), model="deepseek-reasoner")
    out = encoded(decode(chat_raw(upstream), ChatDecoder("deepseek-reasoner"), 3))
    assert [name for name, _ in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    reasoning_item = minted(out[8][1]["item"])
    sealed = reasoning_item.pop("encrypted_content")
    assert reasoning_item == {
        "id": RS_ID,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Let me think…"}],
    }
    found = parse_carrier(sealed)
    assert found is not None
    assert (found.provider, found.model, dict(found.fields)) == ("chat", "deepseek-reasoner", {"text": "Let me think…"})
    assert sdk_final_response(out).output_text == "Done."


def test_anthropic_thinking_is_sealed_with_its_signature_and_exact_text() -> None:
    msg = a_wire.message(
        [{"type": "thinking", "thinking": "Hmm ☃", "signature": "EqQBCkgIsig=="}, {"type": "text", "text": "Hi"}]
    )
    out = encoded(decode(raw(*a_wire.stream_events(msg)), AnthropicDecoder("claude-sonnet-4-5"), 11))
    [reasoning_item, _] = [data["item"] for name, data in out if name == "response.output_item.done"]
    found = parse_carrier(reasoning_item["encrypted_content"])
    assert found is not None and found.provider == "anthropic"
    assert dict(found.fields) == {"sig": "EqQBCkgIsig==", "text": "Hmm ☃"}


def test_two_parallel_calls_split_at_awkward_places_become_two_whole_function_calls() -> None:
    chunks = [
        o_wire.chunk({"role": "assistant", "content": ""}),
        o_wire.chunk(o_wire.tool_delta(0, call_id="call_a", name="get_weather", args='{"city":"Z\\u00')),
        o_wire.chunk(o_wire.tool_delta(1, call_id="call_b", name="sleep", args='{"duration_ms"')),
        o_wire.chunk(o_wire.tool_delta(0, args='fcrich ☃"}')),
        o_wire.chunk(o_wire.tool_delta(1, args=": 5}")),
        o_wire.chunk({}, "tool_calls"),
        o_wire.chunk(chunk_usage=o_wire.usage(50, 20), choices=False),
    ]
    events = decode(chat_raw(o_wire.sse(*chunks)), ChatDecoder("deepseek-chat"), 1)
    out = minted(encoded(events))
    done = [data["item"] for name, data in out if name == "response.output_item.done"]
    assert done == [
        {
            "id": FC_ID,
            "type": "function_call",
            "status": "completed",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city":"Zürich ☃"}',
        },
        {
            "id": FC_ID,
            "type": "function_call",
            "status": "completed",
            "call_id": "call_b",
            "name": "sleep",
            "arguments": '{"duration_ms":5}',
            "namespace": "clock",
        },
    ]
    arguments = [(d["delta"], d["output_index"]) for n, d in out if n == "response.function_call_arguments.delta"]
    assert arguments == [('{"city":"Zürich ☃"}', 0), ('{"duration_ms":5}', 1)]
    final = sdk_final_response(out)
    assert [(c.name, json.loads(c.arguments)) for c in final.output] == [
        ("get_weather", {"city": "Zürich ☃"}),
        ("sleep", {"duration_ms": 5}),
    ]
    assert out[-1][1]["response"]["status"] == "completed"


def test_a_call_of_a_custom_tool_goes_back_as_a_custom_tool_call_with_its_raw_input() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
    events: list[ir.StreamEvent] = [
        START,
        ir.BlockStart(0, ir.ToolCall("toolu_1", "apply_patch", "")),
        ir.BlockDelta(0, ir.DeltaKind.ARGS_JSON, '{"inp'),
        ir.BlockDelta(0, ir.DeltaKind.ARGS_JSON, 'ut": ' + json.dumps(patch) + "}"),
        ir.BlockStop(0),
        ir.Finish(ir.StopReason.TOOL_USE, None, USAGE),
    ]
    out = minted(encoded(events))
    assert [(n, {k: v for k, v in d.items() if k not in ("type", "sequence_number")}) for n, d in out[2:-1]] == [
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {
                    "id": "<minted ctc_>",
                    "type": "custom_tool_call",
                    "status": "in_progress",
                    "call_id": "toolu_1",
                    "name": "apply_patch",
                    "input": "",
                },
            },
        ),
        ("response.custom_tool_call_input.delta", {"item_id": "<minted ctc_>", "output_index": 0, "delta": patch}),
        ("response.custom_tool_call_input.done", {"item_id": "<minted ctc_>", "output_index": 0, "input": patch}),
        (
            "response.output_item.done",
            {
                "output_index": 0,
                "item": {
                    "id": "<minted ctc_>",
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": "toolu_1",
                    "name": "apply_patch",
                    "input": patch,
                },
            },
        ),
    ]
    assert sdk_final_response(out).output[0].input == patch


def test_an_upstream_error_mid_stream_ends_with_error_and_response_failed_leaving_the_item_open() -> None:
    chunks = [
        o_wire.chunk({"role": "assistant", "content": ""}),
        o_wire.chunk({"content": "Hel"}),
        {"error": {"message": "[deepseek] busy", "code": 503}},
    ]
    out = minted(encoded(decode(chat_raw(o_wire.sse(*chunks, done=False)), ChatDecoder("deepseek-chat"), 4)))
    assert [name for name, _ in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "error",
        "response.failed",
    ]
    assert out[-2][1] == {
        "type": "error",
        "sequence_number": 5,
        "code": "server_error",
        "message": "[deepseek] busy",
        "param": None,
    }
    failed = out[-1][1]["response"]
    assert (failed["status"], failed["error"], failed["output"]) == (
        "failed",
        {"code": "server_error", "message": "[deepseek] busy"},
        [],
    )
    assert sdk_final_response(out) is None


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ErrorKind.CONTEXT_OVERFLOW, "context_length_exceeded"),
        (ErrorKind.RATE_LIMIT, "rate_limit_exceeded"),
        (ErrorKind.BILLING, "insufficient_quota"),
        (ErrorKind.INVALID_REQUEST, "invalid_prompt"),
        (ErrorKind.OVERLOADED, "server_error"),
        (ErrorKind.TIMEOUT, "server_error"),
        (ErrorKind.BAD_GATEWAY, "server_error"),
    ],
)
def test_a_failure_carries_the_code_codex_acts_on(kind: ErrorKind, code: str) -> None:
    out = encoded([START, ir.StreamError(kind, "boom")])
    assert [name for name, _ in out] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert out[-1][1]["response"]["error"] == {"code": code, "message": "boom"}


def test_a_stream_cut_before_its_finish_ends_with_response_failed() -> None:
    out = encoded([START, ir.BlockStart(0, ir.Text("")), ir.BlockDelta(0, ir.DeltaKind.TEXT, "Hel")])
    assert out[-1][1]["response"]["error"] == {"code": "server_error", "message": TRUNCATED}


def test_max_tokens_is_an_incomplete_response() -> None:
    upstream = o_wire.text_stream("Partial", finish_reason="length")
    out = encoded(decode(chat_raw(upstream), ChatDecoder("deepseek-chat"), 100))
    assert out[-1][0] == "response.incomplete"
    last = out[-1][1]["response"]
    assert (last["status"], last["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert sdk_final_response(out) is None  # the SDK finalises only completed responses


def test_a_stream_that_fails_before_anything_still_opens_with_response_created() -> None:
    out = encoded([ir.StreamError(ErrorKind.OVERLOADED, "busy")])
    assert [name for name, _ in out] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert encode_all(StreamEncoder(CODEX_REQUEST), [])[-1][0] == "response.failed"  # an empty stream was cut
