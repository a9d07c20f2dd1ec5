"""What an OpenAI-compatible upstream receives for Claude Code's requests: whole bodies, path and headers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Gateway, GatewayFactory
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform import claude_code_requests as cc
from tests.transform.conftest import DEEPSEEK_KEY, openai_channel, transform_config
from tests.transform.helpers import names, post, sse_events

SYSTEM = f"{cc.AGENT}\n\n{cc.MAIN_PROMPT}\n\n{cc.AGENT_TYPES}"
FIRST_USER = {"role": "user", "content": f"{cc.REMINDER}\n\nRun the marker command"}
TITLE_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}
STREAMED = ["message_start", "content_block_start", "content_block_delta", "content_block_stop"]
STREAMED += ["message_delta", "message_stop"]


async def generic_gateway(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, **extra: Any
) -> Gateway:
    """An `openai` channel (any OpenAI-compatible server) serving gpt-4.1 and gpt-5."""
    channel = openai_channel("generic", upstream.url, "openai", models=["gpt-4.1", "gpt-5"], **extra)
    return await start_gateway(transform_config([channel], tmp_path / "trace.jsonl"))


async def test_claude_codes_first_turn_reaches_deepseek_reasoner_as_exactly_this_request(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream("Done.", model="deepseek-reasoner")))
    response, raw = await post(http, deepseek.url, cc.main_body("claude-opus-4-8"))
    assert response.status == 200
    assert names(sse_events(raw)) == STREAMED
    [sent] = upstream.requests
    assert (sent.method, sent.path, sent.query) == ("POST", "/chat/completions", {})
    assert {k: v for k, v in sent.headers.items() if k not in ("Host", "Content-Length")} == {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "User-Agent": "axonhub/0.1.0",
        "Authorization": f"Bearer {DEEPSEEK_KEY}",
        "Accept-Encoding": "gzip, deflate",
    }
    # the billing line is gone, the mid-conversation system message is hoisted, cache_control,
    # context_management and metadata are not forwarded, the 2020-12 schemas go as they are
    assert sent.json() == {
        "model": "deepseek-reasoner",
        "messages": [{"role": "system", "content": SYSTEM}, FIRST_USER],
        "tools": cc.OPENAI_TOOLS,
        "max_tokens": 64000,
        "user": cc.USER_HASH,
        "thinking": {"type": "enabled"},
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_a_tool_loop_sends_the_tool_message_right_after_the_call_and_the_reminder_after_it(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream("It printed 42.", model="deepseek-reasoner")))
    thinking = {
        "type": "thinking",
        "thinking": "The user wants the marker.",
        "signature": "gw1.eyJtIjoiZGVlcHNlZWstcmVhc29uZXIiLCJwIjoiY2hhdCJ9",
    }
    messages = cc.tool_loop("call_0_abc", "echo TOOL_RAN_$((40+2))", "TOOL_RAN_42", thinking=thinking)
    response, _ = await post(http, deepseek.url, cc.main_body("claude-sonnet-4-5", messages))
    assert response.status == 200
    assert upstream.requests[0].json() == {
        "model": "deepseek-reasoner",
        "messages": [
            {"role": "system", "content": SYSTEM},
            FIRST_USER,
            {
                "role": "assistant",
                "content": "Running it.",
                "reasoning_content": "The user wants the marker.",
                "tool_calls": [
                    {
                        "id": "call_0_abc",
                        "type": "function",
                        "function": {
                            "name": "Bash",
                            "arguments": '{"command":"echo TOOL_RAN_$((40+2))","description":"Run it"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_0_abc", "content": "TOOL_RAN_42"},
            {"role": "user", "content": "<system-reminder>\nThe task list is empty.\n</system-reminder>"},
        ],
        "tools": cc.OPENAI_TOOLS,
        "max_tokens": 64000,
        "user": cc.USER_HASH,
        "thinking": {"type": "enabled"},
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_title_generation_on_deepseek_chat_asks_for_a_json_object_with_max_tokens_clamped(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream('{"title": "Fix the build"}')))
    response, raw = await post(http, deepseek.url, cc.title_body())
    assert response.status == 200
    text = "".join(d["delta"]["text"] for n, d in sse_events(raw) if n == "content_block_delta")
    assert json.loads(text) == {"title": "Fix the build"}
    assert upstream.requests[0].json() == {
        "model": "deepseek-chat",
        "messages": [
            {
                "role": "system",
                "content": "Generate a concise title for this coding session.\n\n"
                "Respond only with a JSON object that matches this JSON schema: "
                + json.dumps(TITLE_SCHEMA, separators=(",", ":")),
            },
            {"role": "user", "content": "<session>\nfix the build\n</session>"},
        ],
        "max_tokens": 8192,
        "temperature": 1.0,
        "user": cc.USER_HASH,
        "response_format": {"type": "json_object"},
        "thinking": {"type": "disabled"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_title_generation_on_a_generic_openai_channel_is_a_strict_json_schema(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    gateway = await generic_gateway(start_gateway, upstream, tmp_path)
    upstream.enqueue(Reply.sse(wire.text_stream('{"title": "Fix the build"}', model="gpt-4.1")))
    response, _ = await post(http, gateway.url, cc.title_body("gpt-4.1"))
    assert response.status == 200
    assert upstream.requests[0].json() == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Generate a concise title for this coding session."},
            {"role": "user", "content": "<session>\nfix the build\n</session>"},
        ],
        "max_tokens": 32000,
        "temperature": 1.0,
        "user": cc.USER_HASH,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": TITLE_SCHEMA, "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_a_generic_openai_channel_gets_max_tokens_and_no_reasoning_fields_for_adaptive_thinking(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    gateway = await generic_gateway(start_gateway, upstream, tmp_path, max_output_tokens=32768)
    upstream.enqueue(Reply.sse(wire.text_stream("Done.", model="gpt-4.1")))
    response, _ = await post(http, gateway.url, cc.main_body("gpt-4.1"))
    assert response.status == 200
    assert upstream.requests[0].json() == {
        "model": "gpt-4.1",
        "messages": [{"role": "system", "content": SYSTEM}, FIRST_USER],
        "tools": cc.OPENAI_TOOLS,
        "max_tokens": 32768,
        "user": cc.USER_HASH,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_an_openai_channel_that_declares_reasoning_quirks_gets_max_completion_tokens_and_reasoning_effort(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    quirks = {"max_tokens_field": "max_completion_tokens", "reasoning_param": "reasoning_effort"}
    gateway = await generic_gateway(start_gateway, upstream, tmp_path, quirks=quirks)
    upstream.enqueue(Reply.sse(wire.text_stream("Done.", model="gpt-5")))
    response, _ = await post(http, gateway.url, cc.main_body("gpt-5"))
    assert response.status == 200
    assert upstream.requests[0].json() == {
        "model": "gpt-5",
        "messages": [{"role": "system", "content": SYSTEM}, FIRST_USER],
        "tools": cc.OPENAI_TOOLS,
        "max_completion_tokens": 64000,
        "user": cc.USER_HASH,
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_a_non_streaming_request_sends_no_stream_fields_and_accepts_json(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.json(wire.completion("Done.", model="deepseek-reasoner")))
    response, _ = await post(http, deepseek.url, cc.main_body("claude-opus-4-8", stream=None))
    assert response.status == 200
    [sent] = upstream.requests
    assert sent.headers["Accept"] == "application/json"
    assert {k for k in sent.json() if "stream" in k} == set()
