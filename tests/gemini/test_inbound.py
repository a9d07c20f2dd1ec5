"""Gemini clients through the gateway: the google-genai SDK (and raw HTTP where the SDK would hide
something) on a Gemini channel (the fast path) and on a DeepSeek channel (through the IR).

Each test asserts what the client got and what the upstream received.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.fakes import anthropic as a_wire
from tests.fakes import gemini as g_wire
from tests.fakes import openai as o_wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gemini.conftest import GEMINI_KEY, deepseek_channel, gemini_channel, gemini_config, genai_client, traced

DEEPSEEK_RULES = [{"regex": "gemini-.*", "model": "deepseek-chat"}]


@pytest.fixture
async def on_deepseek(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    """Gemini model names served by a DeepSeek channel."""
    config = gemini_config([deepseek_channel("deepseek", upstream.url)], tmp_path / "trace.jsonl", DEEPSEEK_RULES)
    return await start_gateway(config)


@pytest.fixture
async def on_gemini(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    """Gemini model names served by a Gemini channel: the fast path."""
    config = gemini_config([gemini_channel("gemini", upstream.url)], tmp_path / "trace.jsonl", rules=[])
    return await start_gateway(config)


# ------------------------------------------------------------------------------ on a DeepSeek channel


async def test_the_sdk_gets_a_plain_answer_from_a_deepseek_channel(
    on_deepseek: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    upstream.enqueue(Reply.json(o_wire.completion("Hello from DeepSeek")))
    client = genai_client(on_deepseek.url)
    genai_clients.append(client)
    answer = await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="Say hello",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=100, temperature=0.5),
    )
    assert answer.text == "Hello from DeepSeek"
    assert answer.candidates is not None and answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata is not None
    assert (answer.usage_metadata.prompt_token_count, answer.usage_metadata.candidates_token_count) == (10, 5)
    assert answer.model_version == "gemini-2.5-flash"
    sent = upstream.requests[0]
    assert (sent.path, sent.headers["Authorization"]) == ("/chat/completions", "Bearer sk-deepseek-upstream-secret-000")
    assert sent.json() == {
        "model": "deepseek-chat",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
        "max_tokens": 100,
        "temperature": 0.5,
    }


async def test_the_sdk_streams_from_a_deepseek_channel(
    on_deepseek: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    upstream.enqueue(Reply.sse(o_wire.text_stream("Hel", "lo", final_usage=o_wire.usage(20, 2))))
    client = genai_client(on_deepseek.url)
    genai_clients.append(client)
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")]
    assert "".join(c.text or "" for c in chunks) == "Hello"
    last = chunks[-1]
    assert last.candidates is not None and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.total_token_count == 22
    sent = upstream.requests[0].json()
    assert (sent["stream"], sent["stream_options"]) == (True, {"include_usage": True})
    record = (await traced(on_deepseek))[-1]
    assert (record["kind"], record["client_format"], record["stream"], record["stop_reason"]) == (
        "generate_content",
        "gemini",
        True,
        "STOP",
    )
    assert record["path"] == "/gemini/v1/models/gemini-2.5-flash:streamGenerateContent"  # the SDK speaks v1


async def test_a_tool_round_trip_from_the_sdk_keeps_calls_and_responses_paired(
    on_deepseek: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    """Turn 1: DeepSeek calls a tool; the SDK gets a functionCall with an id. Turn 2: the SDK sends the
    call and its functionResponse back; DeepSeek receives them as a tool_calls turn and its tool message."""
    upstream.enqueue(
        Reply.json(
            o_wire.completion(
                None, tool_calls=[o_wire.call("call_w1", "get_weather", {"city": "Paris"})], finish_reason="tool_calls"
            )
        )
    )
    client = genai_client(on_deepseek.url)
    genai_clients.append(client)
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Weather of a city",
        parameters=types.Schema(
            type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}, required=["city"]
        ),
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    first = await client.aio.models.generate_content(
        model="gemini-2.5-flash", contents="Weather in Paris?", config=config
    )
    assert first.function_calls is not None
    [fc] = first.function_calls
    assert (fc.id, fc.name, fc.args) == ("call_w1", "get_weather", {"city": "Paris"})
    assert first.candidates is not None and first.candidates[0].finish_reason == types.FinishReason.STOP

    upstream.enqueue(Reply.json(o_wire.completion("It is 18C in Paris.")))
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        first.candidates[0].content,
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"output": "18C"})]
        ),
    ]
    second = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=history, config=config)
    assert second.text == "It is 18C in Paris."
    sent = upstream.requests[1].json()
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "",  # DeepSeek's thinking mode wants it on every tool-call turn
            "tool_calls": [
                {
                    "id": "call_w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w1", "content": "18C"},
    ]


async def test_count_tokens_on_a_channel_that_cannot_count_is_the_gateways_estimate(
    on_deepseek: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    client = genai_client(on_deepseek.url)
    genai_clients.append(client)
    counted = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="Count these words please")
    assert counted.total_tokens is not None and counted.total_tokens > 0
    assert upstream.requests == []
    assert (await traced(on_deepseek))[-1]["kind"] == "count_tokens"


# ------------------------------------------------------------------------------ on a Gemini channel: the fast path


async def test_the_fast_path_forwards_the_body_untouched_and_the_key_as_the_channels(
    on_gemini: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    upstream.enqueue(Reply.json(g_wire.response([g_wire.text("Hi")])))
    client = genai_client(on_gemini.url)
    genai_clients.append(client)
    answer = await client.aio.models.generate_content(model="gemini-2.5-pro", contents="hello")
    assert answer.text == "Hi"
    sent = upstream.requests[0]
    assert sent.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.query == {}
    assert sent.json() == {"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}


async def test_the_fast_path_relays_an_sse_stream_as_it_came(
    on_gemini: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    upstream.enqueue(Reply.sse(g_wire.text_stream("Hel", "lo", thoughts=("Planning",))))
    client = genai_client(on_gemini.url)
    genai_clients.append(client)
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")]
    texts = [
        p.text
        for c in chunks
        for p in (
            c.candidates[0].content.parts
            if c.candidates and c.candidates[0].content and c.candidates[0].content.parts
            else []
        )
    ]
    assert texts == ["Planning", "Hel", "lo"]
    sent = upstream.requests[0]
    assert (sent.path, sent.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"})
    record = (await traced(on_gemini))[-1]
    assert (record["stop_reason"], record["usage"]) == (
        "STOP",
        {"input": 10, "output": 5, "cache_read": 0, "cache_write": 0, "reasoning": 0},
    )


@pytest.mark.parametrize("how", ["x-goog-api-key", "key query", "bearer"])
async def test_the_axonhub_key_is_accepted_in_each_place_gemini_clients_put_it(
    on_gemini: Gateway, upstream: FakeUpstream, how: str
) -> None:
    upstream.default = Reply.json(g_wire.response([g_wire.text("ok")]))
    path = "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    headers: dict[str, str] = {}
    if how == "x-goog-api-key":
        headers["x-goog-api-key"] = SECRET
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {SECRET}"
    else:
        path += f"?key={SECRET}"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as http, http.post(on_gemini.url + path, json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["candidates"][0]["content"]["parts"] == [{"text": "ok"}]
    assert upstream.requests[0].query == {}  # the client's key never travels on
    assert SECRET not in json.dumps((await traced(on_gemini))[-1])


async def test_a_missing_key_is_a_gemini_shaped_401_that_names_where_keys_go(on_gemini: Gateway) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = on_gemini.url + "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        assert response.status == 401
        assert await response.json() == {
            "error": {
                "code": 401,
                "message": "missing API key: send your AxonHub key as `x-goog-api-key`, `?key=` or "
                "`Authorization: Bearer` (create one with `axonhub keys create NAME`)",
                "status": "UNAUTHENTICATED",
            }
        }


async def test_the_sdk_raises_the_gemini_error_of_an_unknown_model(
    on_deepseek: Gateway, genai_clients: list[genai.Client]
) -> None:
    client = genai_client(on_deepseek.url)
    genai_clients.append(client)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model="mystery-model", contents="hi")
    assert raised.value.code == 404
    assert raised.value.status == "NOT_FOUND"


async def test_the_sdk_lists_the_models_the_key_reaches_in_gemini_shape(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, genai_clients: list[genai.Client]
) -> None:
    channel = gemini_channel("gemini", upstream.url, models=["gemini-2.5-flash", "gemini-2.0-flash"])
    gateway = await start_gateway(gemini_config([channel], tmp_path / "trace.jsonl", rules=[]))
    client = genai_client(gateway.url)
    genai_clients.append(client)
    listed = [m async for m in await client.aio.models.list()]
    assert [(m.name, m.output_token_limit, m.supported_actions) for m in listed] == [
        ("models/gemini-2.0-flash", 8192, ["generateContent", "countTokens"]),
        ("models/gemini-2.5-flash", 65536, ["generateContent", "countTokens"]),
    ]
    async with (
        aiohttp.ClientSession() as http,
        http.get(gateway.url + f"/gemini/v1beta/models?key={SECRET}") as response,
    ):
        raw = await response.json()
    assert raw["models"][1] == {
        "name": "models/gemini-2.5-flash",
        "baseModelId": "gemini-2.5-flash",
        "version": "axonhub",
        "displayName": "gemini-2.5-flash",
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


async def test_the_sdk_gets_one_model_and_a_model_the_key_does_not_reach_is_not_found(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, genai_clients: list[genai.Client]
) -> None:
    channel = gemini_channel("gemini", upstream.url, models=["gemini-2.5-flash"])
    gateway = await start_gateway(gemini_config([channel], tmp_path / "trace.jsonl", rules=[]))
    client = genai_client(gateway.url)
    genai_clients.append(client)
    model = await client.aio.models.get(model="gemini-2.5-flash")
    assert (model.name, model.display_name, model.output_token_limit) == (
        "models/gemini-2.5-flash",
        "gemini-2.5-flash",
        65536,
    )
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.get(model="gemini-1.0-pro")
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")
    assert raised.value.message == "model 'gemini-1.0-pro' is not served to this key"
    async with aiohttp.ClientSession() as http:
        # an action on a model is POST only: a GET is told so, it is not looked up as a model
        url = gateway.url + f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={SECRET}"
        async with http.get(url) as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST"


# ------------------------------------------------------------------------------ on an Anthropic channel

ANTHROPIC_RULES = [{"regex": "gemini-.*", "model": "claude-sonnet-4-5"}]
CLAUDE_SIGNATURE = "EqQBCkYIBxgCKkDrealAnthropicSignatureBytes+/=="


@pytest.fixture
async def on_anthropic(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    channel = {
        "name": "claude",
        "type": "anthropic",
        "base_url": upstream.url,
        "api_key": "${FAKE_ANTHROPIC_KEY}",
        "models": [{"regex": "claude-.*"}],
    }
    return await start_gateway(gemini_config([channel], tmp_path / "trace.jsonl", ANTHROPIC_RULES))


async def weather_tool_loop(
    gateway: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client], turn1: list[dict[str, Any]]
) -> tuple[list[types.GenerateContentResponse], list[types.Part], str]:
    """The google-genai SDK's weather tool loop on Claude, streamed, thoughts shown: turn 1 answered by
    Claude with the blocks `turn1`, then turn 2 with the tool's result. Turn 1's chunks and parts, and
    turn 2's text."""
    upstream.enqueue(Reply.sse(list(a_wire.stream_events(a_wire.message(turn1, stop_reason="tool_use")))))
    client = genai_client(gateway.url)
    genai_clients.append(client)
    weather = types.FunctionDeclaration(
        name="get_weather", parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}}
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
        max_output_tokens=4096,
    )
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents="Weather?", config=config
        )
    ]
    parts = [
        p
        for c in chunks
        if c.candidates and c.candidates[0].content and c.candidates[0].content.parts
        for p in c.candidates[0].content.parts
    ]
    upstream.enqueue(Reply.sse(list(a_wire.stream_events(a_wire.message([{"type": "text", "text": "18C."}])))))
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather?")]),
        types.Content(role="model", parts=parts),
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"output": "18C"})]
        ),
    ]
    final = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents=history, config=config
        )
    ]
    return chunks, parts, "".join(c.text or "" for c in final)


async def test_claudes_signed_thinking_survives_a_tool_loop_through_the_python_sdk(
    on_anthropic: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    """Claude thinks (signed) and calls a tool. The SDK shows the thinking as a thought part and holds
    the signature as bytes on the function call (it decodes base64, and re-encodes it URL-safe). On
    turn 2, Claude gets back its thinking block byte for byte, before the tool_use, as Anthropic
    requires of a tool loop with thinking on."""
    chunks, parts, answer = await weather_tool_loop(
        on_anthropic,
        upstream,
        genai_clients,
        [
            {"type": "thinking", "thinking": "Need the weather.", "signature": CLAUDE_SIGNATURE},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    )
    assert answer == "18C."
    assert [(p.thought, p.text) for p in parts if p.text] == [(True, "Need the weather.")]
    [call_part] = [p for p in parts if p.function_call]
    assert call_part.function_call is not None and call_part.function_call.id == "toolu_01"
    assert call_part.thought_signature is not None and call_part.thought_signature.startswith(b"gw1.")
    assert chunks[-1].candidates is not None and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    sent = upstream.requests[0].json()
    # Claude Sonnet 4.5 summarises its thinking by itself: `display` is for later models
    assert (sent["thinking"], sent["max_tokens"]) == ({"type": "enabled", "budget_tokens": 2048}, 4096)

    messages = upstream.requests[1].json()["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Need the weather.", "signature": CLAUDE_SIGNATURE},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "18C"}]}
            ],
        },
    ]


async def test_count_tokens_for_a_gemini_client_uses_anthropics_count_tokens(
    on_anthropic: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    upstream.enqueue(Reply.json({"input_tokens": 77}))
    client = genai_client(on_anthropic.url)
    genai_clients.append(client)
    counted = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="How many?")
    assert counted.total_tokens == 77
    sent = upstream.requests[0]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json() == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "How many?"}]}],
    }


# ------------------------------------------------------------------------------ the JSON array stream (no alt=sse)


def array_elements(raw: bytes) -> list[dict[str, Any]]:
    """The whole body is one JSON array."""
    value = json.loads(raw)
    assert isinstance(value, list)
    return value


@pytest.mark.parametrize("channel", ["gemini", "deepseek"])
async def test_streaming_without_alt_sse_is_one_json_array_on_either_path(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, channel: str
) -> None:
    if channel == "gemini":
        config = gemini_config([gemini_channel("gemini", upstream.url)], tmp_path / "t.jsonl", rules=[])
        upstream.enqueue(Reply.sse(g_wire.text_stream("Hel", "lo")))
    else:
        config = gemini_config([deepseek_channel("deepseek", upstream.url)], tmp_path / "t.jsonl", DEEPSEEK_RULES)
        upstream.enqueue(Reply.sse(o_wire.text_stream("Hel", "lo")))
    gateway = await start_gateway(config)
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = gateway.url + "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        assert response.headers["Content-Type"].startswith("application/json")
        elements = array_elements(await response.read())
    texts = [p["text"] for e in elements for p in e["candidates"][0]["content"]["parts"] if p.get("text")]
    assert texts == ["Hel", "lo"]
    assert elements[-1]["candidates"][0]["finishReason"] == "STOP"
    assert elements[-1]["usageMetadata"]["totalTokenCount"] == 15
    if channel == "gemini":
        assert upstream.requests[0].query == {"alt": "sse"}  # the channel is always read as SSE


async def test_a_json_array_stream_cut_short_ends_with_an_error_element(
    on_gemini: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.sse(g_wire.sse(g_wire.chunk([g_wire.text("Hel")])), reset=True))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = on_gemini.url + "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        elements = array_elements(await response.read())
    assert elements[-1] == {
        "error": {
            "code": 502,
            "message": "[gemini] the upstream connection closed before the answer was complete",
            "status": "UNAVAILABLE",
        }
    }


async def test_a_key_presented_as_the_key_query_parameter_is_hidden_in_what_the_gateway_writes(
    on_deepseek: Gateway, upstream: FakeUpstream
) -> None:
    """An upstream error that echoes what it was sent must not carry the client's key back, nor into
    the trace, also when the key came as `?key=`."""
    upstream.enqueue(Reply.json(o_wire.error(f"bad request from {SECRET}"), status=400))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = on_deepseek.url + f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={SECRET}"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        error = await response.json()
    assert (response.status, error["error"]["message"]) == (400, "[deepseek] bad request from [redacted]")
    record = (await traced(on_deepseek))[-1]
    assert SECRET not in json.dumps(record)


async def test_keep_alives_while_the_upstream_is_quiet_do_not_upset_the_sdks_stream_reader(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, genai_clients: list[genai.Client]
) -> None:
    """Gemini clients choke on SSE comments; their keep-alive is a blank line, which their readers skip."""
    config = gemini_config([deepseek_channel("deepseek", upstream.url)], tmp_path / "t.jsonl", DEEPSEEK_RULES)
    config["server"]["ping_interval"] = 0.05
    gateway = await start_gateway(config)
    chunks = o_wire.text_stream("Hel", "lo")
    upstream.enqueue(Reply.sse([chunks[0], 0.3, *chunks[1:2], 0.3, *chunks[2:]]))
    client = genai_client(gateway.url)
    genai_clients.append(client)
    got = [c async for c in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")]
    assert "".join(c.text or "" for c in got) == "Hello"
    upstream.enqueue(Reply.sse([chunks[0], 0.3, *chunks[1:]]))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = gateway.url + "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        raw = await response.read()
    assert raw.startswith(b"\n\n")  # blank lines while the upstream was quiet
    assert not any(line.startswith(b":") for line in raw.split(b"\n"))  # never an SSE comment


async def test_with_bodies_kept_the_trace_holds_the_whole_answer_of_a_relayed_json_array_stream(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = gemini_config([gemini_channel("gemini", upstream.url)], tmp_path / "t.jsonl", rules=[])
    config["server"]["trace"]["bodies"] = "all"
    gateway = await start_gateway(config)
    upstream.enqueue(Reply.sse(g_wire.text_stream("Hel", "lo")))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = gateway.url + "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        assert len(array_elements(await response.read())) == 2
    answer = (await traced(gateway))[-1]["response_body"]
    assert answer["candidates"][0]["content"]["parts"] == [{"text": "Hello"}]
    assert (answer["candidates"][0]["finishReason"], answer["usageMetadata"]["totalTokenCount"]) == ("STOP", 15)


async def test_a_google_hosted_tool_left_out_on_another_provider_is_a_trace_note(
    on_deepseek: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.json(o_wire.completion("ok")))
    body = {"contents": [{"role": "user", "parts": [{"text": "news?"}]}], "tools": [{"googleSearch": {}}]}
    url = on_deepseek.url + "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        assert response.status == 200
    assert "tools" not in upstream.requests[0].json()
    record = (await traced(on_deepseek))[-1]
    assert record["notes"] == ["tools[0].googleSearch left out: only Google's API runs its hosted tools"]


async def test_claudes_thinking_before_its_text_and_call_comes_back_first_and_keeps_thinking_on(
    on_anthropic: Gateway, upstream: FakeUpstream, genai_clients: list[genai.Client]
) -> None:
    """Claude thinks, says a sentence, then calls a tool. The signature rides on the text part that
    follows the thinking (the next part, as Gemini places its own), and must come back as it went: on
    turn 2 the thinking block opens the assistant turn again, so thinking stays on for the tool loop
    (Anthropic requires a tool loop's last assistant turn to start with thinking; with it after the
    text, the gateway would have to switch thinking off)."""
    _, parts, answer = await weather_tool_loop(
        on_anthropic,
        upstream,
        genai_clients,
        [
            {"type": "thinking", "thinking": "Need the weather.", "signature": CLAUDE_SIGNATURE},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    )
    assert answer == "18C."
    assert [(p.thought, p.text) for p in parts if p.text] == [(True, "Need the weather."), (None, "Let me check.")]

    sent = upstream.requests[1].json()
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Need the weather.", "signature": CLAUDE_SIGNATURE},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    }


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_claudes_redacted_and_consecutive_thinking_blocks_all_come_back(
    on_anthropic: Gateway, upstream: FakeUpstream, stream: bool
) -> None:
    """Claude may answer with several thinking blocks, redacted ones among them (their `data` must go
    back untouched). A Gemini part holds one signature, so each block's carrier rides on a part of its
    own when another block follows; on turn 2 Claude gets every block back, in order, and thinking
    stays on for the tool loop."""
    content = [
        {"type": "thinking", "thinking": "First.", "signature": CLAUDE_SIGNATURE},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3redactedData"},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    turn1 = a_wire.message(content, stop_reason="tool_use")
    upstream.enqueue(Reply.sse(list(a_wire.stream_events(turn1))) if stream else Reply.json(turn1))
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT"}}]}]
    config = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048}, "maxOutputTokens": 4096}
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "Weather?"}]}]
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    base = f"{on_anthropic.url}/gemini/v1beta/models/gemini-2.5-pro"
    headers = {"x-goog-api-key": SECRET}
    body = {"contents": contents, "tools": tools, "generationConfig": config}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}:{verb}", json=body, headers=headers) as response:
            raw = await response.text()
        if stream:
            chunks = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]
        else:
            chunks = [json.loads(raw)]
        parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
        contents.append({"role": "model", "parts": parts})
        response_part = {"functionResponse": {"id": "toolu_01", "name": "get_weather", "response": {"output": "18C"}}}
        contents.append({"role": "user", "parts": [response_part]})
        upstream.enqueue(Reply.json(a_wire.message([{"type": "text", "text": "18C."}])))
        async with http.post(f"{base}:generateContent", json=body, headers=headers) as response:
            assert response.status == 200
    sent = upstream.requests[1].json()
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["messages"][1] == {"role": "assistant", "content": content}


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ({"generationConfig": {"stopSequences": 1}}, "generationConfig.stopSequences"),
        ({"generationConfig": {"responseModalities": True}}, "generationConfig.responseModalities"),
        ({"systemInstruction": {"parts": 1.5}}, "systemInstruction.parts"),
        (
            {"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": -1}}},
            "toolConfig.functionCallingConfig.allowedFunctionNames",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}, "parts": 7}}]},
                ]
            },
            "contents[2].parts[0].functionResponse.parts",
        ),
    ],
)
async def test_a_number_where_a_list_belongs_is_a_400_naming_the_field_not_a_500(
    on_deepseek: Gateway, upstream: FakeUpstream, field: dict[str, Any], where: str
) -> None:
    """Through the IR (another provider's channel), a repeated field given as a number is refused
    like any other malformed field; no request body may cause a 5xx."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **field}
    url = on_deepseek.url + "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"x-goog-api-key": SECRET}) as response,
    ):
        error = (await response.json())["error"]
    assert (response.status, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"].startswith(f"{where}: must be a list")
    assert upstream.requests == []
