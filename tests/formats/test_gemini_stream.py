"""The Gemini stream decoder fed raw upstream bytes cut anywhere, and the encoder toward Gemini clients."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.anthropic.stream import StreamEncoder as AnthropicEncoder
from axonhub.formats.carrier import make_carrier, parse_carrier
from axonhub.formats.gemini.codec import CODEC
from axonhub.formats.gemini.stream import StreamDecoder, StreamEncoder
from tests.fakes import gemini as g_wire
from tests.formats.stream_helpers import CUTS, assert_anthropic_grammar, decode, encode_all

MODEL = "gemini-2.5-flash"
START = ir.MessageStart(g_wire.RESPONSE_ID, MODEL, ir.Usage(input_uncached=0))


def raw(*chunks: dict[str, Any]) -> bytes:
    return b"".join(g_wire.data(c) for c in chunks)


def wrapped(signature: str, position: str) -> str:
    return make_carrier("gemini", MODEL, sig=signature, pos=position)


def decoded(data: bytes, cut: int = 100_000, **options: Any) -> list[ir.StreamEvent]:
    return decode(data, StreamDecoder(MODEL, **options), cut)


# ------------------------------------------------------------------------------------- decoder


@pytest.mark.parametrize("cut", CUTS)
def test_text_across_chunks_with_usage_only_in_the_last_chunk(cut: int) -> None:
    data = raw(
        g_wire.chunk([g_wire.text("Héllo, ")]),
        g_wire.chunk([g_wire.text("wörld")]),
        g_wire.chunk([], "STOP", chunk_usage=g_wire.usage(120, 9, cached=100, thoughts=4)),
    )
    assert decoded(data, cut) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Héllo, "),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "wörld"),
        ir.BlockStop(0),
        ir.Finish(
            ir.StopReason.END_TURN, None, ir.Usage(input_uncached=20, cache_read=100, output=13, reasoning_output=4)
        ),
    ]


def test_thoughts_then_text_are_a_thinking_block_then_a_text_block() -> None:
    data = raw(
        g_wire.chunk([g_wire.thought("**Planning**")]),
        g_wire.chunk([g_wire.thought(" more"), g_wire.text("Answer")]),
        g_wire.chunk([g_wire.text("", signature=g_wire.SIGNATURE)], "STOP", chunk_usage=g_wire.usage(5, 1)),
    )
    assert decoded(data) == [
        START,
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "**Planning**"),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, " more"),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Text("")),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "Answer"),
        ir.BlockStop(1),
        # the signature Gemini put on an empty text part at the end, kept for that position
        ir.BlockStart(2, ir.Thinking("")),
        ir.BlockDelta(2, ir.DeltaKind.SIGNATURE, wrapped(g_wire.SIGNATURE, "text")),
        ir.BlockStop(2),
        ir.Finish(ir.StopReason.END_TURN, None, ir.Usage(input_uncached=5, output=1)),
    ]


def test_function_calls_in_separate_chunks_arrive_whole_the_first_signed_and_stop_is_tool_use() -> None:
    data = raw(
        g_wire.chunk([g_wire.thought("Two lookups.")]),
        g_wire.chunk([g_wire.call("get_weather", {"city": "Paris"}, signature=g_wire.SIGNATURE)]),
        g_wire.chunk(
            [g_wire.call("get_weather", {"city": "Oslo"}, call_id="fc-2")], "STOP", chunk_usage=g_wire.usage(30, 8)
        ),
    )
    events = decoded(data)
    first_id = next(e.block.id for e in events if isinstance(e, ir.BlockStart) and isinstance(e.block, ir.ToolCall))
    assert first_id.startswith("call_") and len(first_id) == 29
    assert events == [
        START,
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "Two lookups."),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, wrapped(g_wire.SIGNATURE, "call")),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolCall(first_id, "get_weather", "")),
        ir.BlockDelta(1, ir.DeltaKind.ARGS_JSON, '{"city":"Paris"}'),
        ir.BlockStop(1),
        ir.BlockStart(2, ir.ToolCall("fc-2", "get_weather", "")),
        ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '{"city":"Oslo"}'),
        ir.BlockStop(2),
        ir.Finish(ir.StopReason.TOOL_USE, None, ir.Usage(input_uncached=30, output=8)),
    ]
    assert decoded(data) == events  # ids of calls without one are stable for the same answer


def test_a_signed_call_without_thoughts_gets_an_empty_signed_thinking_block_first() -> None:
    data = raw(g_wire.chunk([g_wire.call("ls", {}, signature=g_wire.SIGNATURE, call_id="c1")], "STOP"))
    assert decoded(data)[1:5] == [
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, wrapped(g_wire.SIGNATURE, "call")),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolCall("c1", "ls", "")),
    ]


def test_a_function_name_rewritten_for_gemini_is_given_back_under_the_clients_name() -> None:
    data = raw(g_wire.chunk([g_wire.call("_9tool_abcdefgh", {}, call_id="c1")], "STOP"))
    events = decode(data, StreamDecoder(MODEL, {"_9tool_abcdefgh": "9tool"}), 100)
    assert ir.BlockStart(0, ir.ToolCall("c1", "9tool", "")) in events


@pytest.mark.parametrize(
    ("finish", "reason", "note"),
    [
        ("SAFETY", ir.StopReason.REFUSAL, "[Gemini withheld the answer (finish reason SAFETY)]"),
        ("RECITATION", ir.StopReason.REFUSAL, "[Gemini withheld the answer (finish reason RECITATION)]"),
        (
            "MALFORMED_FUNCTION_CALL",
            ir.StopReason.END_TURN,
            "[Gemini stopped without an answer (finish reason MALFORMED_FUNCTION_CALL)]",
        ),
        ("MAX_TOKENS", ir.StopReason.MAX_TOKENS, None),
    ],
)
def test_a_stop_with_nothing_to_show_says_why(finish: str, reason: ir.StopReason, note: str | None) -> None:
    events = decoded(raw(g_wire.chunk([], finish, chunk_usage=g_wire.usage(7, 0))))
    body = [ir.BlockStart(0, ir.Text("")), ir.BlockDelta(0, ir.DeltaKind.TEXT, note), ir.BlockStop(0)] if note else []
    assert events == [START, *body, ir.Finish(reason, None, ir.Usage(input_uncached=7))]


def test_a_blocked_prompt_is_a_refusal_that_says_so() -> None:
    events = decoded(raw(g_wire.blocked("SAFETY")))
    assert events[-2:] == [ir.BlockStop(0), ir.Finish(ir.StopReason.REFUSAL, None, ir.Usage(input_uncached=12))]
    assert (
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "[Gemini blocked the prompt (block reason SAFETY) and gave no answer]")
        in events
    )


def test_an_error_mid_stream_leaves_the_open_block_open() -> None:
    data = raw(
        g_wire.chunk([g_wire.text("Hel")]), g_wire.error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED")
    )
    assert decoded(data) == [
        START,
        ir.BlockStart(0, ir.Text("")),
        ir.BlockDelta(0, ir.DeltaKind.TEXT, "Hel"),
        ir.StreamError(ErrorKind.RATE_LIMIT, "Resource has been exhausted"),
    ]


def test_an_end_without_a_finish_reason_is_a_truncation() -> None:
    assert decoded(raw(g_wire.chunk([g_wire.text("Hel")])))[-1] == ir.StreamError(
        ErrorKind.SERVER, "the upstream stream ended before its answer was complete"
    )


def test_a_stream_without_usage_is_estimated() -> None:
    events = decode(raw(g_wire.chunk([g_wire.text("x" * 40)], "STOP")), StreamDecoder(MODEL, input_estimate=33), 100)
    assert events[-1] == ir.Finish(ir.StopReason.END_TURN, None, ir.Usage(input_uncached=33, output=10))


def test_the_decoded_stream_is_what_an_anthropic_client_accepts() -> None:
    data = raw(
        g_wire.chunk([g_wire.thought("hmm")]),
        g_wire.chunk([g_wire.text("ok"), g_wire.call("Bash", {"command": "ls"}, signature=g_wire.SIGNATURE)], "STOP"),
    )
    events = decoded(data)
    assert_anthropic_grammar(encode_all(AnthropicEncoder("claude-sonnet-5"), events))


def test_a_whole_answer_is_the_same_as_its_one_chunk_stream() -> None:
    body = g_wire.response(
        [g_wire.thought("hmm", signature=g_wire.SIGNATURE), g_wire.text("Hi")], body_usage=g_wire.usage(4, 2)
    )
    request = ir.Request(MODEL, ())
    assert CODEC.parse_response(body, request) == ir.Response(
        g_wire.RESPONSE_ID,
        MODEL,
        (ir.Thinking("hmm", wrapped(g_wire.SIGNATURE, "thought")), ir.Text("Hi")),
        ir.StopReason.END_TURN,
        None,
        ir.Usage(input_uncached=4, output=2),
    )


# ------------------------------------------------------------------------------------- encoder


def chunk_parts(frames: list[Any]) -> list[Any]:
    out = []
    for _, body in frames:
        if "error" in body:
            out.append(("error", body["error"]))
            continue
        candidate = body["candidates"][0]
        out.append((candidate["content"]["parts"], candidate.get("finishReason"), body.get("usageMetadata")))
    return out


def test_the_encoder_writes_thoughts_text_and_whole_calls_with_the_signature_on_the_call() -> None:
    encoder = StreamEncoder("gemini-pro-alias", include_thoughts=True)
    events: list[ir.StreamEvent] = [
        ir.MessageStart("msg_up", "claude-sonnet-4-5"),
        ir.BlockStart(0, ir.Thinking("")),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "Let me "),
        ir.BlockDelta(0, ir.DeltaKind.THINKING, "see."),
        ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, "EqQBsig"),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.Text("")),
        ir.BlockDelta(1, ir.DeltaKind.TEXT, "Checking."),
        ir.BlockStop(1),
        ir.BlockStart(2, ir.ToolCall("toolu_1", "lookup", "")),
        ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '{"q":'),
        ir.BlockDelta(2, ir.DeltaKind.ARGS_JSON, '"x"}'),
        ir.BlockStop(2),
        ir.Finish(
            ir.StopReason.TOOL_USE, None, ir.Usage(input_uncached=10, cache_read=5, output=7, reasoning_output=3)
        ),
    ]
    frames = encode_all(encoder, events)
    signature = base64.b64encode(
        make_carrier("anthropic", "claude-sonnet-4-5", sig="EqQBsig", text="Let me see.").encode()
    ).decode()
    assert chunk_parts(frames) == [
        ([{"text": "Let me ", "thought": True}], None, None),
        ([{"text": "see.", "thought": True}], None, None),
        ([{"text": "Checking.", "thoughtSignature": signature}], None, None),
        ([{"functionCall": {"id": "toolu_1", "name": "lookup", "args": {"q": "x"}}}], None, None),
        (
            [],
            "STOP",
            {
                "promptTokenCount": 15,
                "candidatesTokenCount": 4,
                "totalTokenCount": 22,
                "cachedContentTokenCount": 5,
                "thoughtsTokenCount": 3,
            },
        ),
    ]
    assert {body["modelVersion"] for _, body in frames} == {"gemini-pro-alias"}
    assert len({body["responseId"] for _, body in frames}) == 1


def test_without_include_thoughts_the_thought_text_stays_behind_but_the_signature_goes_along() -> None:
    frames = encode_all(
        StreamEncoder("m"),
        [
            ir.MessageStart("", "deepseek-reasoner"),
            ir.BlockStart(0, ir.Thinking("")),
            ir.BlockDelta(0, ir.DeltaKind.THINKING, "secret"),
            ir.BlockDelta(0, ir.DeltaKind.SIGNATURE, make_carrier("chat", "deepseek-reasoner")),
            ir.BlockStop(0),
            ir.Finish(ir.StopReason.END_TURN),
        ],
    )
    [(parts, finish, _)] = chunk_parts(frames)
    assert finish == "STOP" and parts[0]["text"] == ""
    carried = parse_carrier(base64.b64decode(parts[0]["thoughtSignature"]).decode())
    assert carried is not None and (carried.provider, carried.model, dict(carried.fields)) == (
        "chat",
        "deepseek-reasoner",
        {"text": "secret"},
    )


def test_the_encoder_ends_a_failed_or_cut_stream_with_an_error_chunk() -> None:
    failed = encode_all(
        StreamEncoder("m"), [ir.BlockStart(0, ir.Text("")), ir.StreamError(ErrorKind.OVERLOADED, "busy")]
    )
    assert chunk_parts(failed) == [("error", {"code": 503, "message": "busy", "status": "UNAVAILABLE"})]
    cut = encode_all(StreamEncoder("m"), [ir.BlockStart(0, ir.Text("")), ir.BlockDelta(0, ir.DeltaKind.TEXT, "a")])
    assert chunk_parts(cut)[-1] == (
        "error",
        {"code": 500, "message": "the upstream stream ended before its answer was complete", "status": "INTERNAL"},
    )


def test_a_gemini_signature_in_the_ir_goes_back_to_a_gemini_client_as_it_came() -> None:
    response = ir.Response(
        "x", MODEL, (ir.Thinking("", wrapped(g_wire.SIGNATURE, "call")), ir.ToolCall("c1", "ls", "{}"))
    )
    body = CODEC.render_response(response, ir.Request("gemini-2.5-flash", ()))
    assert body["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c1", "name": "ls", "args": {}}, "thoughtSignature": g_wire.SIGNATURE}
    ]
    assert json.dumps(body).count("gw1.") == 0
