"""The official SDKs as judges of the fault table: they raise on every fault, never hand back half an answer.

An SDK's stream accumulator can swallow a malformed ending (a half event, an error glued onto a
partial one) and return a truncated message with no stop reason. Each post-commit fault of
tests/test_fault_table.py is replayed here through `anthropic`, `openai` and `google-genai` on every pair; each
must raise the SDK's API error, and the one stream that ends well must accumulate into the whole
answer. Before the first byte, the status picks the SDK's exception class. The openai SDK's Responses
stream raises no API error for `response.failed` (it is a lifecycle event): there the judge is its
accumulator, which must refuse to hand back a final response, after a `response.failed` with an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream
from tests.test_fault_table import (
    ANTHROPIC,
    FAULTS,
    GEMINI,
    PAIRS,
    RESPONSES,
    Broken,
    Completed,
    Fault,
    Refused,
    channel_config,
)

POST_COMMIT = [f for f in FAULTS if isinstance(f.expect(ANTHROPIC, True, False), Broken | Completed)]
ANTHROPIC_CLASSES = {
    "rate_limit": anthropic.RateLimitError,
    "server": anthropic.InternalServerError,
    "overloaded": anthropic.OverloadedError,
    "bad_gateway": anthropic.InternalServerError,
    "timeout": anthropic.InternalServerError,
}
# google-genai raises ClientError for 4xx and ServerError for 5xx
GEMINI_CLASSES = {
    "rate_limit": genai_errors.ClientError,
    "server": genai_errors.ServerError,
    "overloaded": genai_errors.ServerError,
    "bad_gateway": genai_errors.ServerError,
    "timeout": genai_errors.ServerError,
}
OPENAI_CLASSES = {
    "rate_limit": openai.RateLimitError,
    "server": openai.InternalServerError,
    "overloaded": openai.InternalServerError,
    "bad_gateway": openai.InternalServerError,
    "timeout": openai.InternalServerError,
}


async def gateway_url(start_gateway: GatewayFactory, tmp_path: Path, upstream: FakeUpstream, channel: str) -> str:
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["channels"] = [channel_config("primary", channel, upstream.url, 0)]
    return (await start_gateway(config)).url


SDK = anthropic.AsyncAnthropic | openai.AsyncOpenAI | genai.Client


@pytest.fixture
async def clients() -> AsyncIterator[list[SDK]]:
    made: list[SDK] = []
    yield made
    for client in made:
        if isinstance(client, genai.Client):
            await client.aio.aclose()
            client.close()
        else:
            await client.close()


async def ask_gemini(url: str, stream: bool, made: list[SDK]) -> str:
    """The answer's text as google-genai reads it; a stream must end with a finish reason."""
    options = types.HttpOptions(base_url=url + "/gemini", retry_options=types.HttpRetryOptions(attempts=1))
    client = genai.Client(api_key=SECRET, http_options=options)
    made.append(client)
    if not stream:
        return (await client.aio.models.generate_content(model="m", contents="hi")).text or ""
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="m", contents="hi")]
    last = chunks[-1].candidates
    assert last is not None and last[0].finish_reason is not None
    return "".join(c.text or "" for c in chunks)


async def ask(url: str, client_format: str, stream: bool, made: list[SDK]) -> str:
    """The whole answer's text as the SDK accumulates it (raises what the SDK raises)."""
    if client_format == GEMINI:
        return await ask_gemini(url, stream, made)
    messages = [{"role": "user", "content": "hi"}]
    if client_format == ANTHROPIC:
        a_client = anthropic.AsyncAnthropic(base_url=url + "/anthropic", api_key=SECRET, max_retries=0)
        made.append(a_client)
        if not stream:
            message = await a_client.messages.create(model="m", max_tokens=100, messages=messages)  # type: ignore[arg-type]
            return "".join(b.text for b in message.content if b.type == "text")
        async with a_client.messages.stream(model="m", max_tokens=100, messages=messages) as events:  # type: ignore[arg-type]
            final = await events.get_final_message()
        assert final.stop_reason is not None
        return "".join(b.text for b in final.content if b.type == "text")
    o_client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=SECRET, max_retries=0)
    made.append(o_client)
    if client_format == RESPONSES:
        return await ask_responses(o_client, stream)
    if not stream:
        completion = await o_client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        return completion.choices[0].message.content or ""
    chunks = await o_client.chat.completions.create(model="m", messages=messages, stream=True)  # type: ignore[arg-type]
    text, finished = "", False
    async for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finished = finished or choice.finish_reason is not None
    assert finished
    return text


class StreamFailed(Exception):
    """The Responses stream ended with response.failed and the accumulator handed back nothing."""


async def ask_responses(client: openai.AsyncOpenAI, stream: bool) -> str:
    if not stream:
        return (await client.responses.create(model="m", input="hi")).output_text
    async with client.responses.stream(model="m", input="hi") as events:
        seen = [event async for event in events]
        try:
            final = await events.get_final_response()
        except RuntimeError as exc:
            last = seen[-1]
            assert last.type == "response.failed" and last.response.error is not None, last
            assert last.response.error.code and last.response.error.message
            raise StreamFailed(last.response.error.code) from exc
    return final.output_text


def raised(client_format: str) -> type[BaseException]:
    errors = {ANTHROPIC: anthropic.APIError, RESPONSES: StreamFailed, GEMINI: genai_errors.APIError}
    return errors.get(client_format, openai.APIError)


@pytest.mark.slow
@pytest.mark.parametrize("fault", POST_COMMIT, ids=[f.name for f in POST_COMMIT])
@pytest.mark.parametrize(("client_format", "channel"), PAIRS, ids=[f"{c}-on-{ch}" for c, ch in PAIRS])
async def test_the_sdks_raise_on_every_fault_after_the_stream_began(
    start_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeUpstream,
    clients: list[SDK],
    fault: Fault,
    client_format: str,
    channel: str,
) -> None:
    url = await gateway_url(start_gateway, tmp_path, upstream, channel)
    reply = fault.script(channel, True)
    assert reply is not None
    upstream.enqueue(reply)
    if isinstance(fault.expect(channel, True, client_format == channel), Completed):
        assert await ask(url, client_format, True, clients) == "Hello"
        return
    with pytest.raises(raised(client_format)):
        await ask(url, client_format, True, clients)


PRE_COMMIT = [
    f for f in FAULTS if isinstance(f.expect(ANTHROPIC, False, False), Refused) and f.name != "connection refused"
]


@pytest.mark.slow
@pytest.mark.parametrize("fault", PRE_COMMIT, ids=[f.name for f in PRE_COMMIT])
@pytest.mark.parametrize(("client_format", "channel"), PAIRS, ids=[f"{c}-on-{ch}" for c, ch in PAIRS])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_before_the_first_byte_the_status_picks_the_sdks_exception_class(
    start_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeUpstream,
    clients: list[SDK],
    fault: Fault,
    client_format: str,
    channel: str,
    stream: bool,
) -> None:
    expected = fault.expect(channel, stream, client_format == channel)
    if not isinstance(expected, Refused):
        pytest.skip("in this mode the fault comes after the stream began: the test above covers it")
    url = await gateway_url(start_gateway, tmp_path, upstream, channel)
    reply = fault.script(channel, stream)
    assert reply is not None
    upstream.enqueue(reply)
    classes = {ANTHROPIC: ANTHROPIC_CLASSES, GEMINI: GEMINI_CLASSES}.get(client_format, OPENAI_CLASSES)
    with pytest.raises(classes[expected.kind]):
        await ask(url, client_format, stream, clients)
