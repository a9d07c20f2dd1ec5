"""An Anthropic client on an Anthropic channel: the same-format fast path, judged by the official SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.conftest import OTHER_SECRET, SECRET, Gateway, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

THINKING_SIGNATURE = "EqQBCkYIBxgCKkBx+/=Zz0signature-bytes-must-survive+/=="


def client(gateway: Gateway, **kwargs: object) -> anthropic.AsyncAnthropic:
    options: dict[str, object] = {"base_url": gateway.url + "/anthropic", "api_key": SECRET, "max_retries": 0}
    options.update(kwargs)
    return anthropic.AsyncAnthropic(**options)  # type: ignore[arg-type]


async def test_a_plain_message_comes_back_as_the_upstream_sent_it(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.json(wire.message()))
    reply = await client(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-version": "2023-06-01"},
    )
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "Hello from the fake upstream."
    assert reply.usage.input_tokens == 12
    sent = upstream.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.json() == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-key-000"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers


async def test_the_stream_accumulates_into_the_same_final_message(gateway: Gateway, upstream: FakeUpstream) -> None:
    msg = wire.message(
        [
            {"type": "thinking", "thinking": "Let me think about 2+2.", "signature": THINKING_SIGNATURE},
            {"type": "text", "text": "The answer is 4."},
        ],
        usage={
            "input_tokens": 30,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 100,
            "output_tokens": 20,
        },
    )
    upstream.enqueue(Reply.sse(wire.stream_events(msg)))
    async with client(gateway).messages.stream(
        model="claude-sonnet-4-5", max_tokens=1000, messages=[{"role": "user", "content": "2+2?"}]
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "The answer is 4."
    assert final.model_dump(exclude_none=True)["content"] == msg["content"]
    assert final.usage.cache_read_input_tokens == 100
    assert final.stop_reason == "end_turn"


async def test_tool_use_streams_with_its_input_intact(gateway: Gateway, upstream: FakeUpstream) -> None:
    tool_input = {"command": 'echo héllo "quoted"', "timeout": 30}
    msg = wire.message(
        [{"type": "tool_use", "id": "toolu_01ABC", "name": "Bash", "input": tool_input}], stop_reason="tool_use"
    )
    upstream.enqueue(Reply.sse(wire.stream_events(msg)))
    tools = [{"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {}}}]
    async with client(gateway).messages.stream(
        model="claude-sonnet-4-5", max_tokens=1000, tools=tools, messages=[{"role": "user", "content": "run it"}]
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == tool_input


async def test_thinking_signatures_cache_control_and_betas_reach_the_upstream_unchanged(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.json(wire.message()))
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm — ünïcode", "signature": THINKING_SIGNATURE},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb"}]},
    ]
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    beta = "claude-code-20250219,interleaved-thinking-2025-05-14"
    await client(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64000,
        system=system,
        messages=messages,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 31999},
        extra_headers={"anthropic-beta": beta},
        timeout=30,
    )
    sent = upstream.requests[0]
    assert sent.headers["anthropic-beta"] == beta
    body = sent.json()
    assert body["messages"] == messages
    assert body["system"] == system
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 31999}
    assert THINKING_SIGNATURE.encode() in sent.body


async def test_the_query_string_is_ignored_and_never_forwarded(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.json(wire.message()))
    reply = await client(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "hi"}],
        extra_query={"beta": "true"},
    )
    assert reply.id == "msg_fake01"
    assert upstream.requests[0].path == "/v1/messages"
    assert upstream.requests[0].query == {}


@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
async def test_both_auth_headers_are_accepted(gateway: Gateway, upstream: FakeUpstream, auth: str) -> None:
    upstream.enqueue(Reply.json(wire.message()))
    c = client(gateway) if auth == "x-api-key" else client(gateway, api_key=None, auth_token=OTHER_SECRET)
    reply = await c.messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    assert reply.content[0].type == "text"
    sent = upstream.requests[0].headers
    assert SECRET not in json.dumps(dict(sent)) and OTHER_SECRET not in json.dumps(dict(sent))


async def test_count_tokens_goes_upstream_on_an_anthropic_channel(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.json({"input_tokens": 4242}))
    counted = await client(gateway).messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "foo"}], extra_query={"beta": "true"}
    )
    assert counted.input_tokens == 4242
    assert upstream.requests[0].path == "/v1/messages/count_tokens"
    assert upstream.requests[0].json() == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "foo"}],
    }


async def test_the_bare_v1_path_works_like_the_prefixed_one(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.json(wire.message()))
    c = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=SECRET, max_retries=0)
    reply = await c.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert reply.id == "msg_fake01"


# Claude Code shapes thinking for the model it names; a profile may serve that name on another generation.
OPUS_4_8_TURN = {
    "max_tokens": 64000,
    "thinking": {"type": "adaptive", "display": "summarized"},
    "output_config": {"effort": "medium"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
}
SONNET_4_5_TURN = {"max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 31999}}


@pytest.mark.parametrize(
    ("asked", "served", "turn", "expected"),
    [
        # adaptive at an effort becomes the budget it stands for; effort and display, which 4.5 refuses, stay behind
        (
            "claude-opus-4-8",
            "claude-sonnet-4-5",
            OPUS_4_8_TURN,
            {**OPUS_4_8_TURN, "thinking": {"type": "enabled", "budget_tokens": 8192}, "output_config": None},
        ),
        # a budget becomes adaptive thinking at the effort it stands for, on a model that takes adaptive only
        (
            "claude-sonnet-4-5",
            "claude-opus-4-8",
            SONNET_4_5_TURN,
            {**SONNET_4_5_TURN, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
        # the same generation: the body goes as it came, but for the model
        ("claude-opus-4-8", "claude-sonnet-5", OPUS_4_8_TURN, OPUS_4_8_TURN),
    ],
    ids=["opus-4-8-on-sonnet-4-5", "sonnet-4-5-on-opus-4-8", "opus-4-8-on-sonnet-5"],
)
async def test_a_profile_serving_a_claude_model_on_another_generation_reshapes_its_thinking(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    asked: str,
    served: str,
    turn: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["profiles"]["passthrough"]["rules"] = [{"match": asked, "model": served}]
    gateway = await start_gateway(config)
    upstream.enqueue(Reply.json(wire.message()))
    extra = {k: v for k, v in turn.items() if k != "max_tokens"}
    reply = await client(gateway).messages.create(
        model=asked,
        max_tokens=turn["max_tokens"],
        messages=[{"role": "user", "content": "hi"}],
        extra_body=extra,
        timeout=60,  # a large max_tokens without a stream: the SDK wants a timeout said outright
    )
    assert reply.content[0].type == "text"
    sent = upstream.requests[0].json()
    want = {"model": served, "messages": [{"role": "user", "content": "hi"}], **expected}
    assert sent == {k: v for k, v in want.items() if v is not None}
