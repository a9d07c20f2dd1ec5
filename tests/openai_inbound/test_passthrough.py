"""An OpenAI client on an OpenAI-compatible channel: the same-format fast path, judged by the official SDK."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.conftest import Gateway, GatewayFactory, base_config
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.openai_inbound.conftest import BASE_PATHS, OPENAI_KEY, bearer, trace_records

SDK = Callable[..., openai.AsyncOpenAI]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "strict": True,
        },
    }
]


@pytest.mark.parametrize("base_path", BASE_PATHS)
async def test_the_upstream_gets_the_clients_body_with_only_the_model_replaced(
    sdk: SDK, gateway: Gateway, openai_upstream: FakeUpstream, base_path: str
) -> None:
    openai_upstream.enqueue(Reply.json(wire.completion("Sunny.", model="gpt-4o-mini", body_usage=wire.usage(20, 4))))
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    answer = await sdk(base_path).chat.completions.create(
        model="fast",
        messages=messages,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        temperature=0.2,
        seed=7,
        metadata={"purpose": "test"},
        extra_body={"provider_specific": {"keep": True}},
    )
    assert answer.choices[0].message.content == "Sunny."
    assert answer.usage is not None and answer.usage.prompt_tokens == 20
    [sent] = openai_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json() == {
        "model": "gpt-4o-mini",
        "messages": messages,
        "tools": TOOLS,
        "temperature": 0.2,
        "seed": 7,
        "metadata": {"purpose": "test"},
        "provider_specific": {"keep": True},
    }
    assert sent.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-api-key" not in sent.headers
    [record] = await trace_records(gateway)
    assert record["client_format"] == "openai_chat"
    assert record["kind"] == "chat_completions"
    assert (record["requested_model"], record["channel"], record["upstream_model"]) == (
        "fast",
        "fake-openai",
        "gpt-4o-mini",
    )
    assert record["usage"] == {"input": 20, "output": 4, "cache_read": 0, "cache_write": 0, "reasoning": 0}
    assert record["stop_reason"] == "stop"
    assert record["trace_id"] == record["request_id"]


async def test_every_byte_but_the_model_name_reaches_the_upstream(
    gateway: Gateway, openai_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    openai_upstream.enqueue(Reply.json(wire.completion("ok", model="gpt-4o-mini")))
    raw = b'{ "model" : "fast",\n  "messages": [{"role":"user","content":"caf\\u00e9 1.50"}], "top_p": 1.0 }'
    async with http.post(gateway.url + "/v1/chat/completions", data=raw, headers=bearer()) as response:
        assert response.status == 200
    assert openai_upstream.requests[0].body == raw.replace(b'"model" : "fast"', b'"model":"gpt-4o-mini"')


async def test_a_stream_is_relayed_as_the_upstream_sent_it_and_its_usage_traced(
    gateway: Gateway, openai_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    chunks = wire.text_stream("Hel", "lo", model="gpt-4o-mini", final_usage=wire.usage(30, 2, cached=10))
    openai_upstream.enqueue(Reply.sse(chunks))
    body = {
        "model": "fast",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {**bearer(), "X-Trace-Id": "my-trace-1"}
    async with http.post(gateway.url + "/openai/v1/chat/completions", json=body, headers=headers) as response:
        relayed = await response.read()
        assert response.status == 200
        assert response.content_type == "text/event-stream"
    assert relayed == b"".join(c for c in chunks if isinstance(c, bytes))
    assert openai_upstream.requests[0].json() == {**body, "model": "gpt-4o-mini"}
    [record] = await trace_records(gateway)
    assert record["stream"] is True
    assert record["trace_id"] == "my-trace-1"
    assert record["usage"] == {"input": 20, "output": 2, "cache_read": 10, "cache_write": 0, "reasoning": 0}
    assert record["stop_reason"] == "stop"
    assert record["error"] is None


async def test_the_sdk_accumulates_a_relayed_tool_call_stream(sdk: SDK, openai_upstream: FakeUpstream) -> None:
    call = wire.call("call_abc", "get_weather", {"city": "Paris"})
    openai_upstream.enqueue(wire.answer({"model": "gpt-4o-mini", "stream": True}, calls=[call]))
    stream = await sdk().chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    arguments, finish, names = "", None, []
    async for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                names += [delta.function.name] if delta.function and delta.function.name else []
                arguments += delta.function.arguments or "" if delta.function else ""
            finish = choice.finish_reason or finish
    assert (names, json.loads(arguments), finish) == (["get_weather"], {"city": "Paris"}, "tool_calls")


async def test_stream_options_stay_as_the_client_sent_them(
    sdk: SDK, gateway: Gateway, openai_upstream: FakeUpstream
) -> None:
    no_usage = [wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "ok"}), wire.chunk({}, "stop")]
    openai_upstream.enqueue(Reply.sse(wire.sse(*no_usage)))
    stream = await sdk().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert "stream_options" not in openai_upstream.requests[0].json()
    [record] = await trace_records(gateway)
    assert (record["usage"], record["stop_reason"], record["error"]) == (None, "stop", None)


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [
        # above the model's cap (deepseek-chat 8192, deepseek-reasoner 65536): lowered, in the field the client chose
        ("deepseek-chat", {"max_tokens": 20000}, {"max_tokens": 8192}),
        ("deepseek-reasoner", {"max_completion_tokens": 100000}, {"max_completion_tokens": 65536}),
        # under it: the body goes as it came
        ("deepseek-chat", {"max_tokens": 512}, None),
    ],
)
async def test_an_output_limit_above_the_channels_cap_is_lowered_on_the_fast_path(
    start_gateway: GatewayFactory, tmp_path: Path, model: str, asked: dict[str, int], sent: dict[str, int] | None
) -> None:
    deepseek = FakeUpstream()
    await deepseek.start()
    try:
        config = base_config(deepseek.url, tmp_path / "trace.jsonl")
        config["channels"] = [
            {
                "name": "deepseek",
                "type": "deepseek",
                "base_url": deepseek.url,
                "api_key": "${FAKE_OPENAI_KEY}",
                "models": ["deepseek-chat", "deepseek-reasoner"],
            }
        ]
        config["profiles"] = {"passthrough": {"rules": [{"match": "gpt-4o", "model": model}]}}
        gateway = await start_gateway(config)
        deepseek.enqueue(Reply.json(wire.completion("ok", model=model)))
        raw = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **asked}).encode()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                gateway.url + "/v1/chat/completions",
                data=raw,
                headers={**bearer(), "Content-Type": "application/json"},
            ) as response,
        ):
            assert response.status == 200, await response.text()
        [upstream] = deepseek.requests
        if sent is None:
            # every other byte kept
            assert upstream.body == raw.replace(b'"model": "gpt-4o"', b'"model":' + json.dumps(model).encode())
        else:
            assert upstream.json() == {"model": model, "messages": [{"role": "user", "content": "hi"}], **sent}
    finally:
        await deepseek.close()
