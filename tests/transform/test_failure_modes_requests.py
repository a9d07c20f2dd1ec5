"""How gateways are known to break Claude Code, request side, each a test, on an OpenAI-compatible channel.

Each test is one item of that list (its number in the name's comment), through the running gateway
to a fake DeepSeek, asserting what the upstream received and what the client got.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from axonhub.formats.anthropic.request import parse_request
from axonhub.tokens import estimate_request_tokens
from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.errors_shape import assert_anthropic_error
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform import claude_code_requests as cc
from tests.transform.conftest import openai_channel, transform_config
from tests.transform.helpers import post, sse_events

OK = Reply.sse(wire.text_stream("ok"))


def simple(content: Any = "hi", **changes: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1000, "messages": [{"role": "user", "content": content}]}
    return {**body, **changes}


# 1. count_tokens missing or answering 0


def count_bodies() -> list[dict[str, Any]]:
    """What Claude Code's /context sends: 14 counts of the prompt and of subsets of the tools."""
    bodies = []
    for i in range(14):
        tools = cc.TOOLS[: i % 3]
        messages = [{"role": "user", "content": f"{cc.MAIN_PROMPT} part {i}" * (i + 1)}]
        bodies.append({"model": "claude-opus-4-8[1m]", "messages": messages, "tools": tools})
    return bodies


async def test_fourteen_parallel_count_tokens_calls_all_get_a_local_estimate_and_none_goes_upstream(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    bodies = count_bodies()
    answers = await asyncio.gather(
        *(post(http, deepseek.url, b, path="/anthropic/v1/messages/count_tokens?beta=true") for b in bodies)
    )
    assert [r.status for r, _ in answers] == [200] * 14
    counted = [(await r.json())["input_tokens"] for r, _ in answers]
    assert counted == [estimate_request_tokens(parse_request(b)) for b in bodies]
    assert min(counted) > 0
    assert counted[2] > counted[1] > counted[0]  # the tools count
    assert upstream.requests == []


async def test_count_tokens_counts_the_system_prompt_tool_results_images_and_thinking(
    deepseek: Gateway, http: aiohttp.ClientSession
) -> None:
    bare = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}
    richer = copy.deepcopy(bare)
    richer["system"] = "You are terse." * 50
    richer["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me think about it. " * 20, "signature": "gw1.e30"},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "a.txt " * 100},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
            ],
        },
    ]
    counts = []
    for body in (bare, richer):
        response, _ = await post(http, deepseek.url, body, path="/anthropic/v1/messages/count_tokens")
        assert response.status == 200
        counts.append((await response.json())["input_tokens"])
    assert counts[0] > 0
    assert counts[1] > counts[0] + 1600  # an image of unknown size alone counts 1600


async def test_count_tokens_with_a_server_tool_in_the_list_is_counted_not_failed(
    deepseek: Gateway, http: aiohttp.ClientSession
) -> None:
    tools = [*cc.TOOLS, {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
    body = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    response, _ = await post(http, deepseek.url, body, path="/anthropic/v1/messages/count_tokens?beta=true")
    assert response.status == 200
    assert (await response.json())["input_tokens"] == estimate_request_tokens(parse_request(body)) > 0


# 2. routing on the full URL, the query string forwarded


async def test_the_beta_query_is_accepted_and_never_forwarded_upstream(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    response, _ = await post(http, deepseek.url, simple(stream=True), path="/v1/messages?beta=true&x=1")
    assert response.status == 200
    assert (upstream.requests[0].path, upstream.requests[0].query) == ("/chat/completions", {})


# 3. role:"system" messages inside messages[]


async def test_system_messages_inside_messages_are_accepted_and_hoisted_into_the_one_system_prompt(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    body = simple(system="Be brief.", stream=True)
    body["messages"] = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Agents: general-purpose."},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": [{"type": "text", "text": "Skills: none."}]},
        {"role": "user", "content": "bye"},
    ]
    response, _ = await post(http, deepseek.url, body)
    assert response.status == 200
    assert upstream.requests[0].json()["messages"] == [
        {"role": "system", "content": "Be brief.\n\nAgents: general-purpose.\n\nSkills: none."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "bye"},
    ]


# 5. thinking signatures of another provider forwarded


async def test_thinking_signed_by_anthropic_never_reaches_deepseek_and_its_tool_turn_gets_an_empty_reasoning(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    claude_thinking = {"type": "thinking", "thinking": "Claude's private reasoning.", "signature": "EqQBCkgIARAB/x+y=="}
    body = cc.main_body("claude-sonnet-4-5", cc.tool_loop("toolu_01X", "ls", "a.txt", thinking=claude_thinking))
    response, _ = await post(http, deepseek.url, body)
    assert response.status == 200
    assistant = upstream.requests[0].json()["messages"][2]
    assert assistant == {
        "role": "assistant",
        "content": "Running it.",
        "reasoning_content": "",
        "tool_calls": [
            {
                "id": "toolu_01X",
                "type": "function",
                "function": {"name": "Bash", "arguments": '{"command":"ls","description":"Run it"}'},
            }
        ],
    }


# 6. DeepSeek needs reasoning_content back on every assistant turn with tool calls


async def test_every_earlier_tool_call_turn_carries_its_reasoning_content_back_to_deepseek(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    own = "gw1.eyJtIjoiZGVlcHNlZWstcmVhc29uZXIiLCJwIjoiY2hhdCJ9"
    body = simple(stream=True)
    body["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "First, look.", "signature": own},
                {"type": "tool_use", "id": "c1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "a.txt"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c2", "name": "Bash", "input": {"command": "cat a.txt"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c2", "content": "42"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Done.", "signature": own},
                {"type": "text", "text": "It is 42."},
            ],
        },
        {"role": "user", "content": "thanks"},
    ]
    response, _ = await post(http, deepseek.url, body)
    assert response.status == 200
    assistants = [m for m in upstream.requests[0].json()["messages"] if m["role"] == "assistant"]
    assert [(m.get("reasoning_content"), m["content"]) for m in assistants] == [
        ("First, look.", None),
        ("", None),  # present even when empty
        (None, "It is 42."),  # a turn without tool calls needs none
    ]


# 7. contradictory thinking fields


async def test_thinking_disabled_with_an_effort_setting_turns_deepseek_thinking_off_without_an_effort(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    body = simple(stream=True, thinking={"type": "disabled"}, output_config={"effort": "high"})
    response, _ = await post(http, deepseek.url, body)
    assert response.status == 200
    sent = upstream.requests[0].json()
    assert (sent.get("thinking"), "reasoning_effort" in sent) == ({"type": "disabled"}, False)


# 11. tool_use without its tool_result, missing tool ids


async def test_a_tool_call_left_without_a_result_gets_a_placeholder_tool_message_before_the_next_user_text(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    body = simple(stream=True)
    body["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "tool_use", "id": "c2", "name": "Bash", "input": {"command": "pwd"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c2", "content": "/work"},
                {"type": "text", "text": "[Request interrupted by user]"},
            ],
        },
    ]
    response, _ = await post(http, deepseek.url, body)
    assert response.status == 200
    assert upstream.requests[0].json()["messages"][2:] == [
        {"role": "tool", "tool_call_id": "c2", "content": "/work"},
        {"role": "tool", "tool_call_id": "c1", "content": "[tool call was not executed]"},
        {"role": "user", "content": "[Request interrupted by user]"},
    ]


# 12. empty or whitespace-only text blocks


async def test_empty_and_whitespace_text_blocks_are_never_forwarded(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    body = simple([{"type": "text", "text": ""}, {"type": "text", "text": "hi"}, {"type": "text", "text": " \n "}])
    body["messages"] += [
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}, {"type": "text", "text": "  "}]},
        {"role": "user", "content": [{"type": "text", "text": "bye"}, {"type": "text", "text": "\t"}]},
    ]
    response, _ = await post(http, deepseek.url, {**body, "stream": True})
    assert response.status == 200
    assert upstream.requests[0].json()["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "bye"},
    ]


# 14. max_tokens above the upstream's cap


@pytest.mark.parametrize(
    ("model", "channel_cap", "sent"),
    [
        ("claude-haiku-4-5", None, 8192),  # deepseek-chat's own cap
        ("claude-sonnet-4-5", None, 64000),  # deepseek-reasoner allows 64K
        ("claude-sonnet-4-5", 16000, 16000),  # the channel's max_output_tokens
    ],
)
async def test_max_tokens_is_clamped_to_the_model_and_channel_caps(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    model: str,
    channel_cap: int | None,
    sent: int,
) -> None:
    extra = {"max_output_tokens": channel_cap} if channel_cap else {}
    gateway = await start_gateway(transform_config([openai_channel("ds", upstream.url, **extra)], tmp_path / "t.jsonl"))
    upstream.enqueue(OK)
    response, _ = await post(http, gateway.url, simple(model=model, max_tokens=64000, stream=True))
    assert response.status == 200
    assert upstream.requests[0].json()["max_tokens"] == sent


# 15. model-name drift: dated ids, [1m] suffixes, new families


@pytest.mark.parametrize(
    ("requested", "upstream_model"),
    [
        ("claude-haiku-4-5-20251001", "deepseek-chat"),
        ("claude-opus-4-8[1m]", "deepseek-reasoner"),
        ("claude-sonnet-5", "deepseek-reasoner"),
        ("claude-sonnet-4-5-20250929[1m]", "deepseek-reasoner"),
    ],
)
async def test_claude_code_model_ids_map_to_the_profiles_model_and_the_answer_names_the_requested_one(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, requested: str, upstream_model: str
) -> None:
    upstream.enqueue(Reply.json(wire.completion("ok", model=upstream_model)))
    response, _ = await post(http, deepseek.url, simple(model=requested))
    assert response.status == 200
    assert (await response.json())["model"] == requested
    assert upstream.requests[0].json()["model"] == upstream_model


# 16. anthropic-beta: forwarded to Anthropic upstreams, never to OpenAI-compatible ones


async def test_no_anthropic_header_or_the_clients_key_reaches_an_openai_compatible_upstream(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    response, _ = await post(http, deepseek.url, cc.main_body())
    assert response.status == 200
    sent = {k.lower() for k in upstream.requests[0].headers}
    assert sent == {
        "host",
        "content-type",
        "accept",
        "user-agent",
        "authorization",
        "accept-encoding",
        "content-length",
    }
    assert SECRET not in str(upstream.requests[0].headers)


# 23. server tools (web search, code execution)


async def test_server_tools_are_stripped_from_an_openai_compatible_request(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(OK)
    tools = [cc.TOOLS[0], {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
    response, _ = await post(http, deepseek.url, simple(tools=tools, stream=True))
    assert response.status == 200
    assert [t["function"]["name"] for t in upstream.requests[0].json()["tools"]] == ["Bash"]


async def test_a_request_that_forces_a_server_tool_is_refused_with_a_clear_400(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    body = simple(tools=tools, tool_choice={"type": "tool", "name": "web_search"})
    response, _ = await post(http, deepseek.url, body)
    await assert_anthropic_error(
        response,
        400,
        "invalid_request_error",
        "tools: the Anthropic server tool(s) web_search run only on Anthropic's API; this channel cannot run them, "
        "so a request that requires them cannot be served here",
    )
    assert upstream.requests == []


# 24. both auth headers


@pytest.mark.parametrize("header", ["x-api-key", "Authorization"])
async def test_both_claude_code_auth_headers_work_on_the_transform_path(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession, header: str
) -> None:
    upstream.enqueue(Reply.json(wire.completion("ok")))
    value = SECRET if header == "x-api-key" else f"Bearer {SECRET}"
    headers = {header: value, "anthropic-version": "2023-06-01"}
    response, raw = await post(http, deepseek.url, simple(model="claude-haiku-4-5"), headers=headers)
    assert response.status == 200, raw


async def test_the_trace_records_the_transformed_exchange_under_the_claude_code_session(
    deepseek: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(wire.text_stream("ok", final_usage=wire.deepseek_usage(90, 10, 3))))
    response, raw = await post(http, deepseek.url, cc.main_body("claude-opus-4-8"))
    assert response.status == 200 and sse_events(raw)[-1][0] == "message_stop"
    await deepseek.server.close()  # flushes the trace writer
    [record] = [json.loads(line) for line in deepseek.config.server.trace.path.read_text().splitlines()]
    picked = {k: record[k] for k in ("trace_id", "requested_model", "resolved_model", "channel", "upstream_model")}
    assert picked == {
        "trace_id": cc.SESSION,
        "requested_model": "claude-opus-4-8",
        "resolved_model": "deepseek-reasoner",
        "channel": "deepseek",
        "upstream_model": "deepseek-reasoner",
    }
    assert record["stop_reason"] == "end_turn"
    assert record["usage"] == {"input": 10, "output": 3, "cache_read": 90, "cache_write": 0, "reasoning": 0}
