"""`previous_response_id`: a response continued by its id, on every channel, from the gateway's own memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.conftest import SECRET, GatewayFactory
from tests.fakes import anthropic as a_wire
from tests.fakes import openai as o_wire
from tests.fakes import responses as r_wire
from tests.fakes.upstream import Reply
from tests.responses_inbound.conftest import ANTHROPIC, CHAT, MODELS, RESPONSES, Upstreams, config, trace_records

SDK = Callable[..., openai.AsyncOpenAI]


def reply(channel: str, text: str) -> Reply:
    if channel == CHAT:
        return Reply.json(o_wire.completion(text, model="gpt-4o-mini"))
    if channel == ANTHROPIC:
        return Reply.json(a_wire.message([{"type": "text", "text": text}]))
    return Reply.json(r_wire.response([r_wire.message(text)]))


@pytest.mark.parametrize("channel", [CHAT, ANTHROPIC, RESPONSES])
async def test_a_continued_response_sends_the_whole_conversation_upstream(
    sdk: SDK, upstreams: Upstreams, channel: str
) -> None:
    upstream = upstreams.of(channel)
    upstream.enqueue(reply(channel, "4"), reply(channel, "6"))
    client = sdk()
    first = await client.responses.create(model=MODELS[channel], input="What is 2+2?", instructions="Be terse.")
    second = await client.responses.create(model=MODELS[channel], input="And 3+3?", previous_response_id=first.id)
    assert (first.output_text, second.output_text) == ("4", "6")
    sent = upstream.requests[1].json()
    if channel == CHAT:  # instructions are not carried over, as on OpenAI's API
        assert sent["messages"] == [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And 3+3?"},
        ]
    elif channel == ANTHROPIC:
        assert sent["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
            {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]},
        ]
        assert "system" not in sent
    else:  # OpenAI gets a self-contained request: the gateway's memory, not OpenAI's
        assert "previous_response_id" not in sent
        assert sent["input"] == [
            {"type": "message", "role": "user", "content": "What is 2+2?"},
            r_wire.message("4"),
            {"type": "message", "role": "user", "content": "And 3+3?"},
        ]


async def test_an_unknown_or_unstored_response_is_openais_400(sdk: SDK, upstreams: Upstreams) -> None:
    upstreams.chat.enqueue(reply(CHAT, "4"))
    client = sdk()
    unstored = await client.responses.create(model="chat", input="What is 2+2?", store=False)
    for unknown in ("resp_never_served", unstored.id):
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model="chat", input="And 3+3?", previous_response_id=unknown)
        assert info.value.status_code == 400
        assert info.value.body == {
            "message": f"Previous response with id '{unknown}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    assert len(upstreams.chat.requests) == 1


async def test_a_streamed_response_can_be_continued_and_each_key_keeps_its_own(
    start_gateway: GatewayFactory, upstreams: Upstreams, tmp_path: Path
) -> None:
    gateway = await start_gateway(config(upstreams, tmp_path / "trace.jsonl", conversations={"max_per_key": 1}))
    upstreams.responses.default = reply(RESPONSES, "ok")
    whole = {**r_wire.response([r_wire.message("first")]), "id": "resp_first"}
    upstreams.responses.enqueue(Reply.sse(r_wire.stream_events(whole)))
    async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=SECRET, max_retries=0) as client:
        async with client.responses.stream(model="gpt-5", input="one") as events:
            first = await events.get_final_response()
        await client.responses.create(model="gpt-5", input="two", previous_response_id=first.id)
        sent = upstreams.responses.requests[1].json()
        assert sent["input"][:2] == [{"type": "message", "role": "user", "content": "one"}, r_wire.message("first")]
        # with max_per_key 1, the second response pushed the first one out
        with pytest.raises(openai.BadRequestError):
            await client.responses.create(model="gpt-5", input="three", previous_response_id=first.id)
    records = await trace_records(gateway)
    assert [r["status"] for r in records] == [200, 200, 400]
    assert records[2]["error"]["type"] == "invalid_request"


async def test_a_key_remembers_conversations_up_to_max_bytes_per_key(
    start_gateway: GatewayFactory, upstreams: Upstreams, tmp_path: Path
) -> None:
    bound = {"max_per_key": 100, "max_bytes_per_key": 20_000}
    gateway = await start_gateway(config(upstreams, tmp_path / "trace.jsonl", conversations=bound))
    upstreams.responses.default = reply(RESPONSES, "ok")
    upstreams.responses.enqueue(
        *(Reply.json({**r_wire.response([r_wire.message("ok")]), "id": f"resp_{n}"}) for n in range(5))
    )
    async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=SECRET, max_retries=0) as client:
        huge = await client.responses.create(model="gpt-5", input="x" * 30_000)  # over the bound alone
        small = [await client.responses.create(model="gpt-5", input=f"question {n} " + "y" * 6_000) for n in range(4)]
        with pytest.raises(openai.BadRequestError):  # never kept
            await client.responses.create(model="gpt-5", input="more", previous_response_id=huge.id)
        with pytest.raises(openai.BadRequestError):  # pushed out by the three after it
            await client.responses.create(model="gpt-5", input="more", previous_response_id=small[0].id)
        await client.responses.create(model="gpt-5", input="more", previous_response_id=small[3].id)
    sent = upstreams.responses.requests[-1].json()
    assert sent["input"][0]["content"].startswith("question 3 ")
