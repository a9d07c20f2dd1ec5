"""Anthropic and OpenAI Chat clients on an `openai_responses` channel (OpenAI's own API), through the IR."""

from __future__ import annotations

import json
from collections.abc import Callable

import anthropic
import openai

from tests.conftest import SECRET, Gateway
from tests.fakes import responses as r_wire
from tests.fakes.upstream import Reply
from tests.responses_inbound.conftest import OPENAI_KEY, Upstreams, trace_records

SDK = Callable[..., openai.AsyncOpenAI]
REASONING = r_wire.reasoning("I should check the weather.", "gAAAAencrypted==")
CALL = r_wire.function_call("call_w1", "get_weather", '{"city":"Paris"}')
TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_an_anthropic_client_gets_reasoning_text_and_a_tool_call_and_its_reasoning_goes_back(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    whole = r_wire.response(
        [REASONING, r_wire.message("Let me check."), CALL], body_usage=r_wire.usage(300, 40, cached=200, reasoning=12)
    )
    upstreams.responses.enqueue(Reply.sse(r_wire.stream_events(whole, pieces=3)))
    question = {"role": "user", "content": "Weather in Paris?"}
    async with anthropic.AsyncAnthropic(base_url=gateway.url + "/anthropic", api_key=SECRET, max_retries=0) as client:
        async with client.messages.stream(
            model="gpt-5",
            max_tokens=4000,
            system="Be brief.",
            messages=[question],  # type: ignore[list-item]
            tools=[TOOL],  # type: ignore[list-item]
            thinking={"type": "enabled", "budget_tokens": 2000},
        ) as events:
            final = await events.get_final_message()
        thinking, text, use = final.content
        assert (thinking.type, thinking.thinking) == ("thinking", "I should check the weather.")  # type: ignore[union-attr]
        assert (text.type, text.text) == ("text", "Let me check.")  # type: ignore[union-attr]
        assert (use.type, use.id, use.name, use.input) == ("tool_use", "call_w1", "get_weather", {"city": "Paris"})  # type: ignore[union-attr]
        assert final.stop_reason == "tool_use"
        assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (
            100,
            200,
            40,
        )
        [sent] = upstreams.responses.requests
        assert sent.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
        assert sent.json() == {
            "model": "gpt-5",
            "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}
            ],
            "tools": [
                {
                    "type": "function",
                    **{k: v for k, v in TOOL.items() if k != "input_schema"},
                    "parameters": TOOL["input_schema"],
                    "strict": False,
                }
            ],
            "max_output_tokens": 4000,
            "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "stream": True,
        }
        upstreams.responses.enqueue(Reply.json(r_wire.response([r_wire.message("Sunny.")])))
        result = {"type": "tool_result", "tool_use_id": "call_w1", "content": "18C, sunny"}
        answer = await client.messages.create(
            model="gpt-5",
            max_tokens=4000,
            messages=[question, {"role": "assistant", "content": final.content}, {"role": "user", "content": [result]}],  # type: ignore[list-item]
            tools=[TOOL],  # type: ignore[list-item]
            thinking={"type": "enabled", "budget_tokens": 2000},
        )
        assert answer.content[0].text == "Sunny."  # type: ignore[union-attr]
    replayed = upstreams.responses.requests[1].json()["input"]
    assert replayed[1:] == [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "I should check the weather."}],
            "encrypted_content": "gAAAAencrypted==",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
        {"type": "function_call", "call_id": "call_w1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_w1", "output": "18C, sunny"},
    ]
    records = await trace_records(gateway)
    assert [(r["client_format"], r["channel"], r["stop_reason"]) for r in records] == [
        ("anthropic", "fake-responses", "tool_use"),
        ("anthropic", "fake-responses", "end_turn"),
    ]
    assert records[0]["usage"] == {"input": 100, "output": 40, "cache_read": 200, "cache_write": 0, "reasoning": 12}


async def test_a_chat_client_gets_its_answer_and_its_streamed_tool_call(sdk: SDK, upstreams: Upstreams) -> None:
    upstreams.responses.enqueue(Reply.json(r_wire.response([r_wire.message("Hi!")])))
    client = sdk()
    answer = await client.chat.completions.create(
        model="gpt-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        max_completion_tokens=100,
    )
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == ("Hi!", "stop")
    assert upstreams.responses.requests[0].json() == {
        "model": "gpt-5",
        "instructions": "Be brief.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
        "max_output_tokens": 100,
        "store": False,
    }
    upstreams.responses.enqueue(Reply.sse(r_wire.stream_events(r_wire.response([CALL]))))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": TOOL["input_schema"]}}]
    stream = await client.chat.completions.create(
        model="gpt-5",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=tools,
        stream=True,  # type: ignore[list-item]
    )
    chunks = [chunk async for chunk in stream]
    calls = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or []]
    arguments = "".join(d.function.arguments or "" for d in calls if d.function)
    assert (calls[0].id, calls[0].function.name, json.loads(arguments)) == ("call_w1", "get_weather", {"city": "Paris"})  # type: ignore[union-attr]
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]
