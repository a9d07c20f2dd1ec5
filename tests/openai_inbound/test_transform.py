"""An OpenAI client on an Anthropic channel: the request through the IR, the answer back in OpenAI's shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import Gateway
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.ids import COMPLETION_ID, minted
from tests.openai_inbound.conftest import BASE_PATHS, bearer, trace_records

SDK = Callable[..., openai.AsyncOpenAI]
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {"type": "function", "function": {"name": "get_time"}},
]
# A tool loop in progress: system and developer text, an image, one call answered, a follow-up question.
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Where is this, and what is the weather there?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        ],
    },
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "user", "content": "And the time?"},
]
# What Anthropic must receive for CONVERSATION.
EXPECTED_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Where is this, and what is the weather there?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "18C, sunny"}]},
            {"type": "text", "text": "And the time?"},
        ],
    },
]
CALL_TIME = {"type": "tool_use", "id": "toolu_time1", "name": "get_time", "input": {"zone": "Europe/Paris"}}
USAGE = {"input_tokens": 50, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 12}
TOOL_ANSWER = wire.message(
    [{"type": "text", "text": "Checking the time."}, CALL_TIME], stop_reason="tool_use", usage=USAGE
)


async def test_a_tool_loop_reaches_anthropic_whole_and_the_sdk_parses_the_tool_call(
    sdk: SDK, gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.json(TOOL_ANSWER))
    answer = await sdk().chat.completions.create(
        model="smart",
        messages=CONVERSATION,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice="auto",
        parallel_tool_calls=False,
        max_completion_tokens=1000,
        temperature=0.5,
        stop=["END"],
        user="user-42",
    )
    [sent] = upstream.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-key-000"
    assert "Authorization" not in sent.headers
    assert sent.json() == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1000,
        "messages": EXPECTED_MESSAGES,
        "system": [{"type": "text", "text": "You are a weather bot."}, {"type": "text", "text": "Answer in English."}],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": TOOLS[0]["function"]["parameters"],
            },
            {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
    }
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking the time."
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_time1",
        "get_time",
        {"zone": "Europe/Paris"},
    )
    assert answer.model == "smart"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (155, 12, 167)
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 100
    [record] = await trace_records(gateway)
    assert (record["client_format"], record["kind"], record["channel"]) == (
        "openai_chat",
        "chat_completions",
        "fake-anthropic",
    )
    assert record["usage"] == {"input": 50, "output": 12, "cache_read": 100, "cache_write": 5, "reasoning": 0}


@pytest.mark.parametrize("base_path", BASE_PATHS)
async def test_a_streamed_tool_call_accumulates_in_the_sdk_with_usage_last(
    sdk: SDK, gateway: Gateway, upstream: FakeUpstream, base_path: str
) -> None:
    upstream.enqueue(Reply.sse(wire.stream_events(TOOL_ANSWER)))
    stream = await sdk(base_path).chat.completions.create(
        model="smart",
        messages=CONVERSATION,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert text == "Checking the time."
    assert calls == {0: {"id": "toolu_time1", "name": "get_time", "arguments": '{"zone": "Europe/Paris"}'}}
    assert finishes == ["tool_calls"]
    assert len({chunk.id for chunk in chunks}) == 1  # one id, the gateway's own
    assert minted({"id": chunks[0].id}) == {"id": COMPLETION_ID}
    assert {chunk.model for chunk in chunks} == {"smart"}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (155, 12)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    sent = upstream.requests[0].json()
    assert sent["stream"] is True and sent["messages"] == EXPECTED_MESSAGES
    [record] = await trace_records(gateway)
    assert (record["stream"], record["stop_reason"], record["error"]) == (
        True,
        "tool_calls",
        None,
    )  # as the client saw it
    assert record["usage"] == {"input": 50, "output": 12, "cache_read": 100, "cache_write": 5, "reasoning": 0}


async def test_without_include_usage_the_stream_has_no_usage_chunk_and_ends_with_done(
    gateway: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.stream_events(wire.message())))
    body = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        raw = await response.read()
    frames = [frame.removeprefix(b"data: ") for frame in raw.strip().split(b"\n\n")]
    assert frames[-1] == b"[DONE]"
    chunks = [json.loads(frame) for frame in frames[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hello from the fake upstream."


async def test_thinking_stays_out_of_the_answer(sdk: SDK, upstream: FakeUpstream) -> None:
    thought = {"type": "thinking", "thinking": "secret plan", "signature": "sig=="}
    upstream.enqueue(Reply.json(wire.message([thought, {"type": "text", "text": "42"}])))
    answer = await sdk().chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "6*7?"}],
        reasoning_effort="low",
    )
    assert answer.choices[0].message.content == "42"
    assert answer.choices[0].message.model_dump().get("reasoning_content") is None
    assert upstream.requests[0].json()["thinking"]["type"] == "enabled"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter")],
)
async def test_stop_reasons_map_to_finish_reasons(
    sdk: SDK, upstream: FakeUpstream, stop_reason: str, finish_reason: str
) -> None:
    upstream.enqueue(Reply.json(wire.message(stop_reason=stop_reason)))
    answer = await sdk().chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].finish_reason == finish_reason
