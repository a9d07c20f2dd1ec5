"""How gateways are known to break Claude Code, answer side, each a test, on an OpenAI-compatible channel.

Streams are read raw and compared as whole lists of SSE event names (pings folded into one), then
checked against the grammar the SDK and Claude Code rely on; errors as whole Anthropic error bodies.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.errors_shape import assert_anthropic_error
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.formats.stream_helpers import assert_anthropic_grammar
from tests.ids import MSG_ID, minted
from tests.transform.conftest import openai_channel, transform_config
from tests.transform.helpers import SSEEvents, post, sse_events

C = wire.chunk
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**BODY, "stream": True}
START = ["message_start"]
TEXT = ["content_block_start", "content_block_delta", "content_block_stop"]
OPEN_TEXT = TEXT[:2]  # a text block a failure left open
THINKING = ["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"]  # + signature
THINKING_OF_2 = ["content_block_start", *["content_block_delta"] * 3, "content_block_stop"]  # 2 deltas + signature
TEXT_OF_2 = ["content_block_start", *["content_block_delta"] * 2, "content_block_stop"]
END = ["message_delta", "message_stop"]
STOP_USAGE = {"cache_creation_input_tokens": 0}


def folded(events: SSEEvents) -> list[str]:
    """Event names with each run of pings folded into one `ping`: how many depends on timing."""
    names = [name for name, _ in events]
    return [name for i, name in enumerate(names) if name != "ping" or i == 0 or names[i - 1] != "ping"]


def deltas(events: SSEEvents) -> list[dict[str, Any]]:
    return [data["delta"] for name, data in events if name == "content_block_delta"]


async def stream(http: aiohttp.ClientSession, gateway: Gateway, body: dict[str, Any] = STREAM) -> SSEEvents:
    response, raw = await post(http, gateway.url, body)
    assert response.status == 200, raw
    assert response.content_type == "text/event-stream"
    events = sse_events(raw)
    assert_anthropic_grammar([e for e in events if e[0] != "ping"])
    return events


# 8. thinking merged into the visible answer / 10. invalid SSE sequences


async def test_reasoning_streams_as_a_signed_thinking_block_and_never_leaks_into_the_text(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream("The answer", " is 4.", reasoning=("2+2 ", "is 4"))))
    events = await stream(http, deepseek)
    assert folded(events) == START + THINKING_OF_2 + TEXT_OF_2 + END
    assert deltas(events) == [
        {"type": "thinking_delta", "thinking": "2+2 "},
        {"type": "thinking_delta", "thinking": "is 4"},
        {"type": "signature_delta", "signature": "gw1.eyJtIjoiZGVlcHNlZWstcmVhc29uZXIiLCJwIjoiY2hhdCJ9"},
        {"type": "text_delta", "text": "The answer"},
        {"type": "text_delta", "text": " is 4."},
    ]


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("text only", wire.text_stream("a", "b"), START + TEXT_OF_2 + END),
        ("[DONE] missing after the finish", wire.text_stream("a")[:-1], START + TEXT + END),
        (
            "usage only in a final empty-choices chunk, no usage at all",
            wire.sse(C({"content": "a"}), C({}, "stop")),
            START + TEXT + END,
        ),
        (
            "a tool call after text, an empty content delta before it",
            wire.sse(
                C({"content": "Let me run it."}),
                C({"content": ""}),
                C(wire.tool_delta(0, call_id="call_1", name="Bash", args='{"command":')),
                C(wire.tool_delta(0, args='"ls"}')),
                C({}, "tool_calls"),
            ),
            START + TEXT + TEXT + END,
        ),
        ("nothing but a finish", wire.sse(C({"role": "assistant", "content": ""}), C({}, "stop")), START + END),
    ],
)
async def test_every_stream_follows_the_anthropic_grammar_with_indices_in_order(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, name: str, body: Any, expected: list[str]
) -> None:
    upstream.enqueue(Reply.sse(body))
    events = await stream(http, deepseek)
    assert folded(events) == expected
    starts = [data["index"] for n, data in events if n == "content_block_start"]
    assert starts == list(range(len(starts)))


# 9. tool-call arguments lost, only the first of parallel calls kept


async def test_each_streamed_tool_call_is_one_block_whose_json_deltas_concatenate_to_its_arguments(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(
        Reply.sse(
            wire.sse(
                C(wire.tool_delta(0, call_id="call_a", name="Read", args='{"file_path":"/a')),
                C(wire.tool_delta(1, call_id="call_b", name="Read", args='{"file_path":"/b"}')),
                C(wire.tool_delta(0, args='.txt"}')),
                C({}, "tool_calls"),
            )
        )
    )
    events = await stream(http, deepseek)
    assert folded(events) == START + TEXT + TEXT + END
    blocks = [data["content_block"] for n, data in events if n == "content_block_start"]
    assert blocks == [
        {"type": "tool_use", "id": "call_a", "name": "Read", "input": {}},
        {"type": "tool_use", "id": "call_b", "name": "Read", "input": {}},
    ]
    assert deltas(events) == [
        {"type": "input_json_delta", "partial_json": '{"file_path":"/a.txt"}'},
        {"type": "input_json_delta", "partial_json": '{"file_path":"/b"}'},
    ]
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}


# 10. message_start.usage without the cache fields / 17. cached-token usage not mapped back


async def test_message_start_has_the_full_usage_and_message_delta_the_final_counts_with_cache_reads(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream("ok", final_usage=wire.deepseek_usage(4096, 120, 7, reasoning=3))))
    events = await stream(http, deepseek)
    start_usage = events[0][1]["message"]["usage"]
    assert set(start_usage) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }
    assert start_usage["input_tokens"] > 0  # the local estimate until the upstream's count arrives
    assert events[-2] == (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "input_tokens": 120,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 4096,
                "output_tokens": 7,
            },
        },
    )


# 18. errors with the wrong status or shape


@pytest.mark.parametrize("body", [BODY, STREAM], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("status", "upstream_body", "headers", "expected"),
    [
        (
            400,
            wire.error("Invalid 'messages[1].content': empty", code="invalid_value"),
            {},
            (400, "invalid_request_error", "[deepseek] Invalid 'messages[1].content': empty", "false"),
        ),
        (
            422,
            wire.error("Failed to deserialize the JSON body"),
            {},
            (422, "invalid_request_error", "[deepseek] Failed to deserialize the JSON body", "false"),
        ),
        (
            402,
            wire.error("Insufficient Balance", "unknown_error"),
            {},
            (402, "billing_error", "[deepseek] Insufficient Balance", "false"),
        ),
        (
            429,
            wire.error("Rate limit reached", "rate_limit_error", "rate_limit_exceeded"),
            {"Retry-After": "7"},
            (429, "rate_limit_error", "[deepseek] Rate limit reached", "true"),
        ),
        (
            500,
            wire.error("Internal error", "server_error"),
            {},
            (500, "api_error", "[deepseek] Internal error", "true"),
        ),
        (
            503,
            wire.error("Server busy, please try again later", "service_unavailable_error"),
            {},
            (529, "overloaded_error", "[deepseek] Server busy, please try again later", "true"),
        ),
    ],
    ids=["400", "422", "402", "429", "500", "503"],
)
async def test_upstream_errors_keep_their_status_class_and_come_back_as_anthropic_errors(
    deepseek: Gateway,
    upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    status: int,
    upstream_body: dict[str, Any],
    headers: dict[str, str],
    expected: tuple[int, str, str, str],
) -> None:
    upstream.default = Reply.json(upstream_body, status=status, headers=headers)
    response, _ = await post(http, deepseek.url, body)
    client_status, error_type, message, should_retry = expected
    await assert_anthropic_error(response, client_status, error_type, message)
    assert response.headers["x-should-retry"] == should_retry
    assert response.headers.get("retry-after") == headers.get("Retry-After")


async def test_a_non_json_upstream_error_page_is_an_anthropic_error_with_its_status_class(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.default = Reply(status=502, body=[b"<html>Bad Gateway</html>"], headers={"Content-Type": "text/html"})
    response, _ = await post(http, deepseek.url, STREAM)
    await assert_anthropic_error(response, 502, "api_error", "[deepseek] the upstream answered HTTP 502 (Bad Gateway)")


# 26. context overflow must read `prompt is too long: N tokens > M maximum`


@pytest.mark.parametrize("body", [BODY, STREAM], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("upstream_message", "client_message"),
    [
        (
            "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens "
            "(139000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
            "prompt is too long: 139000 tokens > 131072 maximum",
        ),
        (
            "This model's maximum context length is 131072 tokens. However, you requested 138192 tokens "
            "(130000 in the messages, 8192 in the completion). Please reduce the length of the messages or completion.",
            "input length and `max_tokens` exceed context limit: 130000 + 8192 > 131072",
        ),
        ("context length exceeded", "prompt is too long: 0 tokens > 0 maximum"),
    ],
    ids=["prompt", "prompt-plus-max-tokens", "no-numbers"],
)
async def test_a_context_overflow_becomes_the_message_that_triggers_claude_codes_compaction(
    deepseek: Gateway,
    upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    upstream_message: str,
    client_message: str,
) -> None:
    upstream.default = Reply.json(wire.error(upstream_message, code="context_length_exceeded"), status=400)
    response, _ = await post(http, deepseek.url, body)
    await assert_anthropic_error(response, 400, "invalid_request_error", client_message)


async def test_vllms_max_tokens_too_large_error_asks_claude_code_for_a_smaller_max_tokens(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    # vLLM's own error shape, when Claude Code's max_tokens alone is more than the model's window
    vllm = {
        "object": "error",
        "message": "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context "
        "length is 32768 tokens and your request has 500 input tokens (64000 > 32768 - 500).",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    upstream.default = Reply.json(vllm, status=400)
    response, _ = await post(http, deepseek.url, STREAM)
    await assert_anthropic_error(
        response,
        400,
        "invalid_request_error",
        "input length and `max_tokens` exceed context limit: 500 + 64000 > 32768",
    )


# 18. mid-stream failures as `event: error`; an upstream EOF is never a fake end_turn


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        (
            [wire.data(wire.error("The server had an error while processing your request.", "server_error"))],
            {"type": "api_error", "message": "[deepseek] The server had an error while processing your request."},
        ),
        (
            [wire.data(wire.error("Rate limit reached", "rate_limit_error", "rate_limit_exceeded"))],
            {"type": "rate_limit_error", "message": "[deepseek] Rate limit reached"},
        ),
        (
            [wire.data(C({}, "insufficient_system_resource"))],
            {
                "type": "overloaded_error",
                "message": "[deepseek] upstream interrupted the generation: insufficient system resource",
            },
        ),
        ([], {"type": "api_error", "message": "[deepseek] the upstream stream ended before its answer was complete"}),
    ],
    ids=["error-payload", "rate-limit-payload", "deepseek-insufficient-resource", "eof-without-finish"],
)
async def test_a_stream_that_fails_after_it_began_ends_with_an_error_event_and_no_message_stop(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, tail: list[bytes], error: dict[str, str]
) -> None:
    head = wire.sse(C({"role": "assistant", "content": ""}), C({"content": "Half an ans"}), done=False)
    upstream.enqueue(Reply.sse([*head, *tail]))
    events = await stream(http, deepseek)
    assert folded(events) == START + OPEN_TEXT + ["error"]  # left open, as Anthropic does: Claude Code retries
    assert events[-1][1] == {"type": "error", "error": error}


async def test_a_connection_reset_mid_tool_arguments_ends_with_an_error_and_no_half_tool_call(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    head = wire.sse(
        C({"content": "Running."}), C(wire.tool_delta(0, call_id="c", name="Bash", args='{"comm')), done=False
    )
    upstream.enqueue(Reply.sse(head, reset=True))
    events = await stream(http, deepseek)
    assert folded(events) == START + OPEN_TEXT + ["error"]
    assert events[-1][1]["error"]["type"] == "api_error"
    assert (
        events[-1][1]["error"]["message"] == "[deepseek] the upstream connection closed before the answer was complete"
    )


async def test_a_json_answer_cut_short_is_a_502_never_half_a_message(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply(body=[b'{"id":"chatcmpl-1","choices":[{"mes'], headers={"Content-Type": "application/json"}))
    response, _ = await post(http, deepseek.url, BODY)
    await assert_anthropic_error(
        response,
        502,
        "api_error",
        "[deepseek] the upstream answered HTTP 200 with JSON that is cut short or not an object "
        "instead of an API response",
    )


@pytest.mark.parametrize("body", [BODY, STREAM], ids=["json", "stream"])
async def test_an_error_answered_with_status_200_is_the_http_error_it_describes_before_anything_is_sent(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    upstream.enqueue(Reply.json({"error": {"message": "Too many requests", "code": 429}}))
    response, _ = await post(http, deepseek.url, body)
    await assert_anthropic_error(response, 429, "rate_limit_error", "[deepseek] Too many requests")


@pytest.mark.parametrize("body", [BODY, STREAM], ids=["json", "stream"])
async def test_a_200_page_that_is_not_json_is_a_502_before_anything_is_sent(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    upstream.enqueue(Reply(body=[b"<html>maintenance</html>"], headers={"Content-Type": "text/html"}))
    response, _ = await post(http, deepseek.url, body)
    await assert_anthropic_error(
        response,
        502,
        "api_error",
        "[deepseek] the upstream answered HTTP 200 with an HTML page instead of an API response",
    )


# 25. a stream cut after message_start, then Claude Code's non-streaming retry


async def test_a_stream_cut_after_message_start_then_the_non_streaming_retry_gets_the_whole_message(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    cut = Reply.sse(wire.sse(C({"role": "assistant", "content": ""}), done=False), reset=True)
    upstream.enqueue(cut, Reply.json(wire.completion("Complete answer.", model="deepseek-reasoner")))
    events = await stream(http, deepseek)
    assert folded(events) == [*START, "error"]

    retry = {k: v for k, v in STREAM.items() if k != "stream"}
    response, _ = await post(http, deepseek.url, retry)
    assert response.status == 200
    assert minted(await response.json()) == {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Complete answer."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 5,
        },
    }
    assert [r.json().get("stream") for r in upstream.requests] == [True, None]


# 19. total timeouts cutting long generations / 20. no bytes while a slow model thinks


async def slow_gateway(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, *, read: float = 5.0
) -> Gateway:
    channel = openai_channel("deepseek", upstream.url, timeouts={"connect": 1, "read": read})
    return await start_gateway(transform_config([channel], tmp_path / "trace.jsonl", ping_interval=0.05))


async def test_pings_flow_while_the_upstream_is_silent_before_its_first_chunk_and_between_chunks(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    gateway = await slow_gateway(start_gateway, upstream, tmp_path)
    body = wire.text_stream("after thinking", reasoning=("hmm",))
    upstream.enqueue(Reply.sse([0.3, *body[:2], 0.3, *body[2:]]))  # silent, role + reasoning, silent, the rest
    events = await stream(http, gateway)
    assert folded(events) == [*START, "ping", *THINKING[:2], "ping", *THINKING[2:], *TEXT, *END]
    assert events[1] == ("ping", {"type": "ping"})


async def test_pings_flow_while_deepseek_sends_only_keep_alive_comments(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # a queued DeepSeek request: `: keep-alive` comments, far more often than our ping interval, no data
    gateway = await slow_gateway(start_gateway, upstream, tmp_path)
    comments: list[bytes | float] = [b": keep-alive\n\n", 0.01] * 30
    upstream.enqueue(Reply.sse([*comments, *wire.text_stream("finally")]))
    events = await stream(http, gateway)
    assert folded(events) == [*START, "ping", *TEXT, *END]


async def test_a_long_generation_that_keeps_streaming_is_never_cut_by_the_read_timeout(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    gateway = await slow_gateway(start_gateway, upstream, tmp_path, read=0.4)
    pieces: list[bytes | float] = []
    for i in range(6):  # 1.5 s in all, never more than 0.25 s of silence
        pieces += [0.25, wire.data(C({"content": f"part {i}. "}))]
    upstream.enqueue(Reply.sse([*pieces, wire.data(C({}, "stop")), wire.DONE]))
    events = await stream(http, gateway)
    assert "".join(d["text"] for d in deltas(events)) == "".join(f"part {i}. " for i in range(6))
    assert events[-1] == ("message_stop", {"type": "message_stop"})


async def test_an_upstream_that_goes_silent_past_the_read_timeout_ends_the_stream_with_a_timeout_error(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    gateway = await slow_gateway(start_gateway, upstream, tmp_path, read=0.3)
    upstream.enqueue(Reply.sse([wire.data(C({"content": "Hal"})), 5.0, wire.data(C({}, "stop"))]))
    events = await stream(http, gateway)
    assert folded(events) == START + OPEN_TEXT + ["ping", "error"]
    assert events[-1][1] == {
        "type": "error",
        "error": {"type": "timeout_error", "message": "[deepseek] the upstream went silent mid-answer (read timeout)"},
    }


# 21. a client disconnect must cancel the upstream call


async def test_a_client_that_hangs_up_mid_stream_closes_the_upstream_connection(
    deepseek: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.sse([wire.data(C({"content": "Thinking about it"})), 30.0, *wire.text_stream("late")]))
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            deepseek.url + "/anthropic/v1/messages", json=STREAM, headers={"x-api-key": SECRET}
        )
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"event: message_start")
        response.close()
    await asyncio.wait_for(upstream.client_gone.wait(), timeout=5)


async def test_a_client_that_hangs_up_while_waiting_for_a_json_answer_closes_the_upstream_connection(
    deepseek: Gateway, upstream: FakeUpstream
) -> None:
    # Claude Code's non-streaming retry, abandoned: aiohttp cancels the handler (as under `axonhub serve`)
    upstream.enqueue(Reply(body=[30.0, b"{}"], headers={"Content-Type": "application/json"}))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            await session.post(
                deepseek.url + "/anthropic/v1/messages",
                json=BODY,
                headers={"x-api-key": SECRET},
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
    await asyncio.wait_for(upstream.client_gone.wait(), timeout=5)
