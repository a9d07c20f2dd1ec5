"""A Gemini channel under clients of other formats: Claude Code's requests (raw, as it sends them) and
the official `anthropic` and `openai` SDKs, through the IR.

Each test asserts what Gemini received (the whole body where it matters) and what the client got.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from axonhub.formats import carrier
from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.fakes import gemini as g_wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gemini.conftest import GEMINI_KEY, gemini_channel, gemini_config, traced
from tests.transform import claude_code_requests as cc
from tests.transform.helpers import names, post, sse_events


@pytest.fixture
async def a_client(gemini_gateway: Gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    sdk = anthropic.AsyncAnthropic(base_url=gemini_gateway.url + "/anthropic", api_key=SECRET, max_retries=0)
    yield sdk
    await sdk.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def claude_code_body(messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return cc.main_body("claude-sonnet-5", messages if messages is not None else cc.first_turn("List the files"))


async def test_claude_codes_request_reaches_gemini_in_gemini_shape(
    gemini_gateway: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(Reply.sse(g_wire.text_stream("Sure.")))
    response, raw = await post(http, gemini_gateway.url, claude_code_body())
    assert response.status == 200, raw
    sent = upstream.requests[0]
    assert (sent.path, sent.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"})
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    body = sent.json()
    assert "model" not in body
    assert body["systemInstruction"] == {"parts": [{"text": "\n\n".join([cc.AGENT, cc.MAIN_PROMPT, cc.AGENT_TYPES])}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": cc.REMINDER}, {"text": "List the files"}]}]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "Bash",
                    "description": "Executes a bash command.",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "command": {"description": "The command to execute", "type": "STRING"},
                            "timeout": {
                                "description": "Optional timeout in milliseconds",
                                "type": "NUMBER",
                                "minimum": 0,
                            },
                            "description": {"type": "STRING"},
                            "run_in_background": {"type": "BOOLEAN", "description": "one of: true"},
                        },
                        "required": ["command"],
                    },
                },
                {
                    "name": "Read",
                    "description": "Reads a file.",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "file_path": {"type": "STRING"},
                            "offset": {"type": "INTEGER", "minimum": 0, "nullable": True},
                            "pages": {"type": "OBJECT"},
                        },
                        "required": ["file_path"],
                    },
                },
            ]
        }
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 64000,
        "thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True},
    }
    events = sse_events(raw)
    assert names(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[-2][1]["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 5,
    }


async def test_a_thought_signature_round_trips_through_claude_code_onto_its_own_function_call(
    gemini_gateway: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    """Turn 1: Gemini thinks, then calls two tools in parallel, the first carrying the signature.
    Claude Code gets a signed thinking block and two tool_use blocks. Turn 2: it sends them back with
    the results; Gemini gets the signature on the same (first) call, and each response names its call."""
    upstream.enqueue(
        Reply.sse(
            g_wire.sse(
                g_wire.chunk([g_wire.thought("I should look.")], chunk_usage=g_wire.usage(50, 0)),
                g_wire.chunk(
                    [
                        g_wire.call("Bash", {"command": "ls"}, signature=g_wire.SIGNATURE),
                        g_wire.call("Read", {"file_path": "/a"}),
                    ],
                    "STOP",
                    chunk_usage=g_wire.usage(50, 12, thoughts=7),
                ),
            )
        )
    )
    response, raw = await post(http, gemini_gateway.url, claude_code_body())
    events = sse_events(raw)
    blocks = [e[1]["content_block"] for e in events if e[0] == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use", "tool_use"]
    signature = next(
        e[1]["delta"]["signature"]
        for e in events
        if e[0] == "content_block_delta" and e[1]["delta"]["type"] == "signature_delta"
    )
    found = carrier.parse_carrier(signature)
    assert found is not None and (found.provider, found.model, dict(found.fields)) == (
        "gemini",
        "gemini-2.5-flash",
        {"sig": g_wire.SIGNATURE, "pos": "call"},
    )
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["output_tokens"] == 19  # candidates + thoughts
    bash, read = blocks[1], blocks[2]

    upstream.enqueue(Reply.sse(g_wire.text_stream("Two files.")))
    turn2 = claude_code_body(
        [
            *cc.first_turn("List the files"),
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should look.", "signature": signature},
                    {"type": "tool_use", "id": bash["id"], "name": "Bash", "input": {"command": "ls"}},
                    {"type": "tool_use", "id": read["id"], "name": "Read", "input": {"file_path": "/a"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": read["id"], "content": "A"},
                    {"type": "tool_result", "tool_use_id": bash["id"], "content": "a b", "is_error": False},
                    {"type": "text", "text": "<system-reminder>go on</system-reminder>"},
                ],
            },
        ]
    )
    response, raw = await post(http, gemini_gateway.url, turn2)
    assert response.status == 200
    contents = upstream.requests[1].json()["contents"]
    assert contents[1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"id": bash["id"], "name": "Bash", "args": {"command": "ls"}},
                    "thoughtSignature": g_wire.SIGNATURE,
                },
                {"functionCall": {"id": read["id"], "name": "Read", "args": {"file_path": "/a"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": bash["id"], "name": "Bash", "response": {"output": "a b"}}},
                {"functionResponse": {"id": read["id"], "name": "Read", "response": {"output": "A"}}},
                {"text": "<system-reminder>go on</system-reminder>"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gemini-3-pro-preview", {"thoughtSignature": "skip_thought_signature_validator"}), ("gemini-2.5-flash", {})],
)
async def test_another_providers_signature_is_never_forwarded_to_gemini(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    model: str,
    expected: dict[str, Any],
) -> None:
    """History written by Claude (a real Anthropic signature) or by Gemini under another model: the
    signature stays behind; Gemini 3, which checks the current turn's calls, gets its stand-in."""
    rules = [{"regex": "claude-.*", "model": model}]
    gateway = await start_gateway(
        gemini_config([gemini_channel("gemini", upstream.url)], tmp_path / "trace.jsonl", rules)
    )
    upstream.enqueue(Reply.sse(g_wire.text_stream("ok")))
    other_model = carrier.make_carrier("gemini", "gemini-2.0-flash", sig="b3RoZXI=", pos="call")
    body = claude_code_body(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Claude thought", "signature": "EqQBCkYIBxgCKkBanthropicsig=="},
                    {"type": "thinking", "thinking": "", "signature": other_model},
                    {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "x"}]},
        ]
    )
    response, raw = await post(http, gateway.url, body)
    assert response.status == 200, raw
    contents = upstream.requests[0].json()["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"id": "toolu_01", "name": "Bash", "args": {"command": "ls"}}, **expected}],
    }
    assert "Claude thought" not in json.dumps(contents)


async def test_count_tokens_for_claude_code_goes_to_geminis_count_tokens(
    gemini_gateway: Gateway, upstream: FakeUpstream, a_client: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(Reply.json({"totalTokens": 321}))
    counted = await a_client.messages.count_tokens(
        model="claude-sonnet-5",
        system="Be brief.",
        messages=[{"role": "user", "content": "foo"}],
        tools=cc.TOOLS[:1],  # type: ignore[arg-type]
    )
    assert counted.input_tokens == 321
    sent = upstream.requests[0]
    assert (sent.path, sent.headers["x-goog-api-key"]) == ("/v1beta/models/gemini-2.5-flash:countTokens", GEMINI_KEY)
    request = sent.json()["generateContentRequest"]
    assert (request["model"], request["contents"], request["systemInstruction"]) == (
        "models/gemini-2.5-flash",
        [{"role": "user", "parts": [{"text": "foo"}]}],
        {"parts": [{"text": "Be brief."}]},
    )
    assert [d["name"] for d in request["tools"][0]["functionDeclarations"]] == ["Bash"]
    record = (await traced(gemini_gateway))[-1]
    assert (record["kind"], record["channel"], record["status"]) == ("count_tokens", "gemini", 200)


async def test_a_blocked_prompt_is_a_clear_refusal(
    gemini_gateway: Gateway, upstream: FakeUpstream, a_client: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(Reply.json(g_wire.blocked("PROHIBITED_CONTENT")))
    message = await a_client.messages.create(
        model="claude-sonnet-5", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    )
    assert message.stop_reason == "refusal"
    assert [b.text for b in message.content if b.type == "text"] == [
        "[Gemini blocked the prompt (block reason PROHIBITED_CONTENT) and gave no answer]"
    ]


async def test_a_safety_stop_mid_stream_is_a_refusal_after_the_text_so_far(
    gemini_gateway: Gateway, upstream: FakeUpstream, a_client: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(
        Reply.sse(
            g_wire.sse(
                g_wire.chunk([g_wire.text("Here is")]), g_wire.chunk([], "SAFETY", chunk_usage=g_wire.usage(9, 2))
            )
        )
    )
    async with a_client.messages.stream(
        model="claude-sonnet-5", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = await stream.get_final_message()
    assert (final.stop_reason, [b.text for b in final.content if b.type == "text"]) == ("refusal", ["Here is"])


@pytest.mark.parametrize(
    ("status", "error", "kind", "expected_status", "message"),
    [
        (
            429,
            g_wire.error(429, "Quota exceeded", "RESOURCE_EXHAUSTED"),
            anthropic.RateLimitError,
            429,
            "[gemini] Quota exceeded",
        ),
        (
            400,
            g_wire.error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", "API_KEY_INVALID"),
            anthropic.InternalServerError,
            502,
            "[gemini] the upstream rejected this channel's credentials with HTTP 400: API key not valid. Please pass a valid API key.; "
            "check the key in FAKE_GEMINI_KEY",
        ),
        (
            400,
            g_wire.error(
                400,
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                "INVALID_ARGUMENT",
            ),
            anthropic.BadRequestError,
            400,
            "prompt is too long: 1200000 tokens > 1048576 maximum",
        ),
        (
            503,
            g_wire.error(503, "The model is overloaded.", "UNAVAILABLE"),
            anthropic.InternalServerError,
            529,
            "[gemini] The model is overloaded.",
        ),
    ],
)
async def test_gemini_errors_reach_an_anthropic_client_in_its_own_terms(
    gemini_gateway: Gateway,
    upstream: FakeUpstream,
    a_client: anthropic.AsyncAnthropic,
    status: int,
    error: dict[str, Any],
    kind: type[Exception],
    expected_status: int,
    message: str,
) -> None:
    upstream.enqueue(Reply.json(error, status=status))
    with pytest.raises(kind) as raised:
        await a_client.messages.create(
            model="claude-sonnet-5", max_tokens=100, messages=[{"role": "user", "content": "x"}]
        )
    assert isinstance(raised.value, anthropic.APIStatusError)
    assert raised.value.status_code == expected_status
    assert raised.value.body["error"]["message"] == message  # type: ignore[index]


async def test_an_error_chunk_mid_stream_ends_the_anthropic_stream_with_an_error_event(
    gemini_gateway: Gateway, upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    upstream.enqueue(
        Reply.sse(g_wire.sse(g_wire.chunk([g_wire.text("Hel")]), g_wire.error(503, "busy", "UNAVAILABLE")))
    )
    response, raw = await post(http, gemini_gateway.url, claude_code_body())
    assert response.status == 200
    events = sse_events(raw)
    assert names(events) == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "[gemini] busy"}}


async def test_an_openai_client_on_a_gemini_channel_gets_tool_calls(
    gemini_gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.json(g_wire.response([g_wire.text("Let me check."), g_wire.call("lookup", {"q": "x"})])))
    client = openai.AsyncOpenAI(base_url=gemini_gateway.url + "/v1", api_key=SECRET, max_retries=0)
    try:
        completion = await client.chat.completions.create(
            model="claude-haiku-4-5",
            messages=[{"role": "user", "content": "look x up"}],
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    },
                }
            ],
        )
    finally:
        await client.close()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [call] = choice.message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "x"})
    assert upstream.requests[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"
