"""Errors an OpenAI client gets: always OpenAI's shape, with the right status, on both base URLs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import DISABLED_SECRET, Gateway
from tests.errors_shape import assert_openai_error
from tests.fakes import anthropic as anthropic_wire
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.openai_inbound.conftest import BASE_PATHS, bearer, trace_records

SDK = Callable[..., openai.AsyncOpenAI]
HI = [{"role": "user", "content": "hi"}]
MISSING_KEY = (
    "missing API key: send your AxonHub key as `x-api-key` or `Authorization: Bearer` "
    "(create one with `axonhub keys create NAME`)"
)


UNKNOWN_KEY = (
    "invalid API key: Authorization holds an AxonHub key unknown to this config (revoked, rotated, or from another "
    "config?)"
)


@pytest.mark.parametrize("base_path", BASE_PATHS)
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, MISSING_KEY),
        (bearer("ah-not-a-key"), UNKNOWN_KEY),
        (bearer(DISABLED_SECRET), "API key 'mallory' is disabled"),
    ],
)
async def test_a_missing_or_wrong_key_is_a_401_in_openai_shape(
    gateway: Gateway, http: aiohttp.ClientSession, base_path: str, headers: dict[str, str], message: str
) -> None:
    body = {"model": "fast", "messages": HI}
    async with http.post(gateway.url + base_path + "/chat/completions", json=body, headers=headers) as response:
        await assert_openai_error(response, 401, "invalid_request_error", message, "invalid_api_key")


async def test_the_sdk_raises_its_authentication_error(sdk: SDK, openai_upstream: FakeUpstream) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk(api_key="ah-not-a-key").chat.completions.create(model="fast", messages=HI)  # type: ignore[arg-type]
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "message": UNKNOWN_KEY,
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert openai_upstream.requests == []


INVALID_BODIES: list[tuple[Any, str]] = [
    ({"messages": HI}, "model: field required (a non-empty string)"),
    ({"model": "", "messages": HI}, "model: field required (a non-empty string)"),
    ({"model": "fast"}, "messages: field required (a non-empty list of messages)"),
    ({"model": "fast", "messages": []}, "messages: field required (a non-empty list of messages)"),
    ({"model": "fast", "messages": "hi"}, "messages: field required (a non-empty list of messages)"),
    ({"model": "fast", "messages": ["hi"]}, "messages.0: must be an object with a `role`"),
    ({"model": "fast", "messages": [{"content": "hi"}]}, "messages.0.role: field required"),
    (
        {"model": "fast", "messages": [*HI, {"role": "robot", "content": "x"}]},
        "messages.1.role: unsupported role 'robot' "
        "(expected one of assistant, developer, function, system, tool, user)",
    ),
    ({"model": "fast", "messages": HI, "stream": "yes"}, "stream: must be a boolean"),
    ({"model": "fast", "messages": HI, "stream": True, "stream_options": 1}, "stream_options: must be an object"),
    (
        {"model": "fast", "messages": HI, "n": 2},
        "n: only one choice per request is supported (omit `n` or set it to 1)",
    ),
    (
        {"model": "fast", "messages": HI, "logprobs": True},
        "logprobs: log probabilities are not supported by this gateway",
    ),
    (
        {"model": "fast", "messages": HI, "top_logprobs": 3},
        "logprobs: log probabilities are not supported by this gateway",
    ),
    (
        {
            "model": "fast",
            "messages": HI,
            "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": "mp3"},
        },
        "audio: audio output is not supported by this gateway",
    ),
    ([1, 2], "request body must be a JSON object, not list"),
]


@pytest.mark.parametrize(("body", "message"), INVALID_BODIES)
async def test_an_invalid_body_is_a_400_naming_the_field_and_never_reaches_an_upstream(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    body: Any,
    message: str,
) -> None:
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        await assert_openai_error(response, 400, "invalid_request_error", message)
    assert upstream.requests == [] and openai_upstream.requests == []


async def test_a_body_that_is_not_json_is_a_400(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.post(gateway.url + "/openai/v1/chat/completions", data=b"{nope", headers=bearer()) as response:
        body = await response.json()
        assert response.status == 400
        assert body["error"]["message"].startswith("request body is not valid JSON: ")
        assert body == {"error": {**body["error"], "type": "invalid_request_error", "param": None, "code": None}}


async def test_an_unknown_model_is_a_404_model_not_found(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    body = {"model": "nope", "messages": HI}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        await assert_openai_error(
            response,
            404,
            "invalid_request_error",
            "model 'nope' is not served by any channel (no rule of profile 'passthrough' matched it)",
            "model_not_found",
        )
    [record] = await trace_records(gateway)
    assert (record["client_format"], record["kind"], record["status"]) == ("openai_chat", "chat_completions", 404)


async def test_an_upstream_429_goes_back_verbatim_with_its_retry_after(
    gateway: Gateway, http: aiohttp.ClientSession, openai_upstream: FakeUpstream
) -> None:
    upstream_error = wire.error("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded")
    openai_upstream.enqueue(Reply.json(upstream_error, status=429, headers={"Retry-After": "7"}))
    body = {"model": "fast", "messages": HI}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        assert response.status == 429
        assert await response.json() == upstream_error
        assert response.headers["Retry-After"] == "7"
        assert response.headers["x-should-retry"] == "true"


async def test_an_anthropic_429_becomes_an_openai_rate_limit_error(
    gateway: Gateway, http: aiohttp.ClientSession, upstream: FakeUpstream
) -> None:
    upstream.enqueue(
        Reply.json(anthropic_wire.error("rate_limit_error", "slow down"), status=429, headers={"retry-after": "3"})
    )
    body = {"model": "smart", "messages": HI}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        await assert_openai_error(
            response, 429, "rate_limit_error", "[fake-anthropic] slow down", "rate_limit_exceeded"
        )
        assert response.headers["retry-after"] == "3"


async def test_the_sdk_raises_a_rate_limit_error(sdk: SDK, openai_upstream: FakeUpstream) -> None:
    openai_upstream.enqueue(Reply.json(wire.error("slow down", "requests", "rate_limit_exceeded"), status=429))
    with pytest.raises(openai.RateLimitError):
        await sdk().chat.completions.create(model="fast", messages=HI)  # type: ignore[arg-type]


def _error_chunk(raw: bytes) -> dict[str, Any]:
    last = raw.strip().split(b"\n\n")[-1]
    assert last.startswith(b"data: ")
    payload: dict[str, Any] = json.loads(last[6:])
    return payload


async def test_an_upstream_cut_mid_stream_ends_the_relayed_stream_with_an_error_chunk(
    sdk: SDK, gateway: Gateway, http: aiohttp.ClientSession, openai_upstream: FakeUpstream
) -> None:
    chunks = wire.text_stream("Hel", "lo", model="gpt-4o-mini")
    openai_upstream.enqueue(Reply.sse(chunks[:2], reset=True), Reply.sse(chunks[:2], reset=True))
    body = {"model": "fast", "messages": HI, "stream": True}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        raw = await response.read()
    assert raw.startswith(chunks[0])  # type: ignore[arg-type]
    error = _error_chunk(raw)["error"]
    assert error["message"] == "[fake-openai] the upstream connection closed before the answer was complete"
    assert error | {"message": ""} == {"message": "", "type": "server_error", "param": None, "code": None}
    stream = await sdk().chat.completions.create(model="fast", messages=HI, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="upstream connection closed before the answer was complete"):
        async for _ in stream:
            pass
    records = await trace_records(gateway)
    assert [r["error"]["type"] for r in records] == ["bad_gateway", "bad_gateway"]


async def test_an_upstream_stream_that_stops_before_finishing_is_reported(
    gateway: Gateway, http: aiohttp.ClientSession, openai_upstream: FakeUpstream
) -> None:
    chunks = wire.text_stream("Hel", "lo", model="gpt-4o-mini")
    openai_upstream.enqueue(Reply.sse(chunks[:2]))
    body = {"model": "fast", "messages": HI, "stream": True}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        raw = await response.read()
    assert _error_chunk(raw) == {
        "error": {
            "message": "[fake-openai] the upstream stream ended before its answer was complete",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


async def test_an_anthropic_stream_cut_becomes_an_openai_error_chunk(sdk: SDK, upstream: FakeUpstream) -> None:
    events = anthropic_wire.stream_events(anthropic_wire.message())
    upstream.enqueue(Reply.sse(events[:4], reset=True))
    stream = await sdk().chat.completions.create(model="smart", messages=HI, stream=True)  # type: ignore[arg-type]
    texts: list[str] = []
    with pytest.raises(openai.APIError, match=r"\[fake-anthropic\] the upstream connection closed before"):
        async for chunk in stream:
            texts += [c.delta.content or "" for c in chunk.choices]
    assert "".join(texts) == "Hello from the fake upstream."


async def test_an_upstream_error_that_is_not_openai_json_is_rendered_not_relayed(
    gateway: Gateway, http: aiohttp.ClientSession, openai_upstream: FakeUpstream
) -> None:
    page = Reply(status=502, body=[b"<html>Bad Gateway</html>"], headers={"Content-Type": "text/html"})
    openai_upstream.enqueue(page)
    body = {"model": "fast", "messages": HI}
    async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
        await assert_openai_error(
            response, 502, "server_error", "[fake-openai] the upstream answered HTTP 502 (Bad Gateway)"
        )
