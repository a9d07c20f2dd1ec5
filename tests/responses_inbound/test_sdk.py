"""A Responses client (the official openai SDK's `client.responses`) on each kind of channel.

On an OpenAI-compatible and an Anthropic channel the request goes through the IR; on a Responses
channel it is the same-format fast path. The SDK judges the answers (`responses.create`, and
`responses.stream` whose accumulator rejects a malformed stream); what each upstream received is
asserted whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.fakes import anthropic as a_wire
from tests.fakes import openai as o_wire
from tests.fakes import responses as r_wire
from tests.fakes.upstream import Reply
from tests.responses_inbound.conftest import (
    ANTHROPIC,
    BASE_PATHS,
    CHAT,
    MODELS,
    OPENAI_KEY,
    RESPONSES,
    Upstreams,
    config,
    trace_records,
)

SDK = Callable[..., openai.AsyncOpenAI]
CHANNELS = [CHAT, ANTHROPIC, RESPONSES]
TEXT = "Hello there ☃"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


def text_reply(channel: str, stream: bool, text: str = TEXT) -> Reply:
    """`text` in the channel's own wire format, with usage (20 input of which 5 cached, 7 output)."""
    if channel == CHAT:
        usage = o_wire.usage(20, 7, cached=5)
        if stream:
            return Reply.sse(o_wire.text_stream(text[:6], text[6:], model="gpt-4o-mini", final_usage=usage))
        return Reply.json(o_wire.completion(text, model="gpt-4o-mini", body_usage=usage))
    if channel == ANTHROPIC:
        usage = {"input_tokens": 15, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 5, "output_tokens": 7}
        msg = a_wire.message([{"type": "text", "text": text}], usage=usage)
        return Reply.sse(a_wire.stream_events(msg)) if stream else Reply.json(msg)
    whole = r_wire.response([r_wire.message(text)], body_usage=r_wire.usage(20, 7, cached=5))
    return Reply.sse(r_wire.stream_events(whole)) if stream else Reply.json(whole)


def call_reply(channel: str, stream: bool) -> Reply:
    """A call of get_weather for Paris in the channel's own wire format."""
    if channel == CHAT:
        body = {"model": "gpt-4o-mini", "stream": stream}
        return o_wire.answer(body, calls=[o_wire.call("call_w1", "get_weather", {"city": "Paris"})])
    if channel == ANTHROPIC:
        use = {"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}}
        return a_wire.answer({"stream": stream}, [use])
    return r_wire.answer({"stream": stream}, [r_wire.function_call("call_w1", "get_weather", '{"city":"Paris"}')])


def expected_upstream(channel: str, stream: bool) -> dict[str, Any]:
    """What each upstream receives for REQUEST."""
    if channel == CHAT:
        body: dict[str, Any] = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}],
            "max_tokens": 300,
            "temperature": 0.5,
        }
        return {**body, "stream": True, "stream_options": {"include_usage": True}} if stream else body
    if channel == ANTHROPIC:
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 300,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}],
            "system": [{"type": "text", "text": "Be terse."}],
            "temperature": 0.5,
        }
        return {**body, "stream": True} if stream else body
    return {**REQUEST, "model": "gpt-5", **({"stream": True} if stream else {})}


REQUEST: dict[str, Any] = {
    "instructions": "Be terse.",
    "input": "Say hello",
    "max_output_tokens": 300,
    "temperature": 0.5,
}


@pytest.mark.parametrize("base_path", BASE_PATHS)
@pytest.mark.parametrize("channel", CHANNELS)
async def test_create_gets_a_whole_response_on_every_channel(
    sdk: SDK, gateway: Gateway, upstreams: Upstreams, channel: str, base_path: str
) -> None:
    upstreams.of(channel).enqueue(text_reply(channel, stream=False))
    answer = await sdk(base_path).responses.create(model=MODELS[channel], **REQUEST)
    assert (answer.output_text, answer.status, answer.model) == (TEXT, "completed", MODELS[channel])
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (20, 7, 27)
    assert answer.usage.input_tokens_details.cached_tokens == 5
    [sent] = upstreams.of(channel).requests
    assert sent.json() == expected_upstream(channel, stream=False)
    [record] = await trace_records(gateway)
    assert (record["client_format"], record["kind"], record["path"], record["stop_reason"]) == (
        "openai_responses",
        "responses",
        base_path + "/responses",
        "completed",
    )
    assert record["usage"] == {"input": 15, "output": 7, "cache_read": 5, "cache_write": 0, "reasoning": 0}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_stream_accumulates_the_whole_response_on_every_channel(
    sdk: SDK, gateway: Gateway, upstreams: Upstreams, channel: str
) -> None:
    upstreams.of(channel).enqueue(text_reply(channel, stream=True))
    async with sdk().responses.stream(model=MODELS[channel], **REQUEST) as events:
        seen = [event async for event in events]
        final = await events.get_final_response()
    assert (final.output_text, final.status) == (TEXT, "completed")
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (20, 7)
    assert "".join(e.delta for e in seen if e.type == "response.output_text.delta") == TEXT
    assert [e.sequence_number for e in seen] == list(range(len(seen)))
    assert seen[0].type == "response.created" and seen[-1].type == "response.completed"
    [sent] = upstreams.of(channel).requests
    assert sent.json() == expected_upstream(channel, stream=True)
    [record] = await trace_records(gateway)
    assert (record["stream"], record["status"], record["stop_reason"], record["error"]) == (
        True,
        200,
        "completed",
        None,
    )


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_function_call_and_its_output_round_trip_on_every_channel(
    sdk: SDK, upstreams: Upstreams, channel: str
) -> None:
    upstream = upstreams.of(channel)
    upstream.enqueue(call_reply(channel, stream=True))
    client = sdk()
    question = [{"role": "user", "content": "Weather in Paris?"}]
    async with client.responses.stream(model=MODELS[channel], input=question, tools=[WEATHER_TOOL]) as events:  # type: ignore[arg-type,list-item]
        final = await events.get_final_response()
    [call] = final.output
    assert call.type == "function_call"
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("call_w1", "get_weather", {"city": "Paris"})
    upstream.enqueue(text_reply(channel, stream=False, text="Sunny in Paris."))
    follow_up = [
        *question,
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "call_w1", "output": "18C, sunny"},
    ]
    answer = await client.responses.create(model=MODELS[channel], input=follow_up, tools=[WEATHER_TOOL])  # type: ignore[arg-type,list-item]
    assert answer.output_text == "Sunny in Paris."
    sent = upstream.requests[1].json()
    if channel == CHAT:
        assert sent["messages"] == [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_w1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_w1", "content": "18C, sunny"},
        ]
    elif channel == ANTHROPIC:
        assert sent["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_w1",
                        "content": [{"type": "text", "text": "18C, sunny"}],
                    }
                ],
            },
        ]
    else:  # the fast path: the client's items as it sent them
        assert sent["input"] == follow_up


async def test_a_responses_client_on_a_responses_channel_is_relayed_byte_for_byte(
    gateway: Gateway, upstreams: Upstreams, http: Any
) -> None:
    body = (
        b'{"model":  "gpt-5", "input": [{"role":"user","content":"hi \\u2603"}],'
        b' "stream": true, "include": ["reasoning.encrypted_content"], "future_field": {"kept": [1, 2.50]}}'
    )
    whole = r_wire.response([r_wire.reasoning("Hmm.", "gAAAAopaque=="), r_wire.message("Hi ☃")])
    chunks = r_wire.stream_events(whole, pieces=3)
    upstreams.responses.enqueue(Reply.sse(list(chunks)))
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "Content-Type": "application/json",
    }
    async with http.post(gateway.url + "/v1/responses", data=body, headers=headers) as response:
        received = await response.read()
        assert response.headers["Content-Type"].startswith("text/event-stream")
    [sent] = upstreams.responses.requests
    assert sent.body == body  # the model is unchanged, so not one byte is rewritten
    assert sent.path == "/v1/responses"
    assert sent.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    assert received == b"".join(chunks)
    [record] = await trace_records(gateway)
    assert (record["channel"], record["upstream_id"], record["stop_reason"]) == (
        "fake-responses",
        "resp_upstream01",
        "completed",
    )
    assert record["usage"] == {"input": 100, "output": 10, "cache_read": 0, "cache_write": 0, "reasoning": 0}


async def test_on_the_fast_path_fields_no_other_channel_takes_go_upstream_as_sent(
    upstreams: Upstreams, sdk: SDK
) -> None:
    upstreams.responses.enqueue(text_reply(RESPONSES, stream=False))
    extra = {
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "s1",
        "text": {"verbosity": "low"},
    }
    await sdk().responses.create(model="gpt-5", input="hi", tools=[{"type": "web_search"}], **extra)  # type: ignore[list-item]
    [sent] = upstreams.responses.requests
    assert sent.json() == {"model": "gpt-5", "input": "hi", "tools": [{"type": "web_search"}], **extra}


@pytest.mark.parametrize(("served", "reasons"), [("gpt-4.1", False), ("gpt-5.1-codex", True)])
async def test_a_profile_serving_a_codex_model_on_one_that_does_not_reason_leaves_reasoning_behind(
    start_gateway: GatewayFactory, upstreams: Upstreams, tmp_path: Path, served: str, reasons: bool
) -> None:
    data = config(upstreams, tmp_path / "trace.jsonl")
    data["channels"][-1]["models"] = [served]
    rules = data["profiles"]["passthrough"]["rules"]
    data["profiles"] = {"passthrough": {"rules": [*rules, {"match": "gpt-5-codex", "model": served}]}}
    gateway = await start_gateway(data)
    upstreams.responses.enqueue(text_reply(RESPONSES, stream=False))
    turn = [
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAopaque=="},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
        {"role": "user", "content": "and?"},
    ]
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=SECRET, max_retries=0)
    async with client:
        answer = await client.responses.create(
            model="gpt-5-codex",
            input=turn,  # type: ignore[arg-type]
            reasoning={"effort": "high", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            store=False,
        )
    assert answer.output_text == TEXT
    [sent] = upstreams.responses.requests
    body = sent.json()
    assert body["model"] == served
    if reasons:  # the client's body as it came, but for the model
        assert (body["reasoning"], body["include"], body["input"]) == (
            {"effort": "high", "summary": "auto"},
            ["reasoning.encrypted_content"],
            turn,
        )
    else:  # gpt-4.1 refuses reasoning fields and items with a 400
        assert "reasoning" not in body and "include" not in body
        assert body["input"] == [turn[0], turn[2], turn[3]]
        assert body["store"] is False
