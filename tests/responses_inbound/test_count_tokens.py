"""Token counts and the Responses API: `POST /v1/responses/input_tokens` from a Responses client on
every kind of channel, and Claude Code's count_tokens on a Responses channel."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import openai
import pytest

from tests.conftest import SECRET, Gateway
from tests.fakes.upstream import Reply
from tests.responses_inbound.conftest import ANTHROPIC, CHAT, MODELS, OPENAI_KEY, Upstreams, trace_records

SDK = Callable[..., openai.AsyncOpenAI]
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize("base_path", ["/v1", "/openai/v1"])
async def test_a_count_on_the_responses_channel_goes_to_its_input_tokens_as_it_came(
    gateway: Gateway, upstreams: Upstreams, sdk: SDK, base_path: str
) -> None:
    upstreams.responses.enqueue(Reply.json({"object": "response.input_tokens", "input_tokens": 1234}))
    counted = await sdk(base_path).responses.input_tokens.count(
        model="gpt-5", input="Weather in Paris?", instructions="Be brief.", tools=[TOOL]
    )
    assert (counted.object, counted.input_tokens) == ("response.input_tokens", 1234)
    [sent] = upstreams.responses.requests
    assert (sent.path, sent.headers["Authorization"]) == ("/v1/responses/input_tokens", f"Bearer {OPENAI_KEY}")
    assert sent.json() == {
        "model": "gpt-5",
        "input": "Weather in Paris?",
        "instructions": "Be brief.",
        "tools": [TOOL],
    }
    [record] = await trace_records(gateway)
    assert (record["kind"], record["channel"], record["status"], record["usage"], record["counted_tokens"]) == (
        "count_tokens",
        "fake-responses",
        200,
        None,
        1234,
    )


async def test_a_count_for_a_claude_model_goes_to_anthropics_count_tokens(
    gateway: Gateway, upstreams: Upstreams, sdk: SDK
) -> None:
    upstreams.anthropic.enqueue(Reply.json({"input_tokens": 42}))
    counted = await sdk().responses.input_tokens.count(model=MODELS[ANTHROPIC], input="hello", instructions="Be brief.")
    assert (counted.object, counted.input_tokens) == ("response.input_tokens", 42)
    [sent] = upstreams.anthropic.requests
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json() == {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }
    [record] = await trace_records(gateway)
    assert (record["kind"], record["channel"], record["counted_tokens"]) == ("count_tokens", "fake-anthropic", 42)


async def test_a_count_on_a_channel_that_cannot_count_is_the_gateways_estimate(
    gateway: Gateway, upstreams: Upstreams, sdk: SDK
) -> None:
    short = await sdk().responses.input_tokens.count(model=MODELS[CHAT], input="hello")
    long = await sdk().responses.input_tokens.count(model=MODELS[CHAT], input="hello there " * 500)
    assert short.object == "response.input_tokens"
    assert 0 < short.input_tokens < long.input_tokens
    assert upstreams.chat.requests == []
    records = await trace_records(gateway)
    assert [(r["kind"], r["counted_tokens"]) for r in records] == [
        ("count_tokens", short.input_tokens),
        ("count_tokens", long.input_tokens),
    ]


async def test_a_count_continuing_a_stored_response_counts_the_conversation_it_continues(
    gateway: Gateway, upstreams: Upstreams, sdk: SDK
) -> None:
    client = sdk()
    upstreams.anthropic.enqueue(
        Reply.json(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Paris is sunny."}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 4},
            }
        )
    )
    first = await client.responses.create(model=MODELS[ANTHROPIC], input="Weather in Paris?")
    upstreams.anthropic.requests.clear()
    upstreams.anthropic.enqueue(Reply.json({"input_tokens": 31}))
    counted = await client.responses.input_tokens.count(
        model=MODELS[ANTHROPIC], previous_response_id=first.id, input="And tomorrow?"
    )
    assert counted.input_tokens == 31
    [sent] = upstreams.anthropic.requests
    assert [(m["role"], m["content"][0]["text"]) for m in sent.json()["messages"]] == [
        ("user", "Weather in Paris?"),
        ("assistant", "Paris is sunny."),
        ("user", "And tomorrow?"),
    ]


async def test_claude_codes_count_tokens_on_a_responses_channel_goes_to_input_tokens(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    upstreams.responses.enqueue(Reply.json({"object": "response.input_tokens", "input_tokens": 321}))
    tool = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}}
    async with anthropic.AsyncAnthropic(base_url=gateway.url + "/anthropic", api_key=SECRET, max_retries=0) as client:
        counted = await client.messages.count_tokens(
            model="gpt-5",
            system="Be brief.",
            messages=[{"role": "user", "content": "foo"}],
            tools=[tool],  # type: ignore[list-item]
        )
    assert counted.input_tokens == 321
    [sent] = upstreams.responses.requests
    assert sent.path == "/v1/responses/input_tokens"
    body = sent.json()
    # Only what the counting endpoint takes: no store, stream, max_output_tokens or sampling.
    assert set(body) == {"model", "instructions", "input", "tools"}
    assert (body["model"], body["instructions"], [t["name"] for t in body["tools"]]) == (
        "gpt-5",
        "Be brief.",
        ["get_weather"],
    )
    assert body["input"] == [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "foo"}]}]
    [record] = await trace_records(gateway)
    assert (record["kind"], record["channel"], record["counted_tokens"]) == ("count_tokens", "fake-responses", 321)
