"""Anthropic requests: Claude Code's real shapes into the IR, and the IR back out for an Anthropic upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.anthropic.request import parse_request, render_request
from axonhub.formats.carrier import make_carrier
from axonhub.formats.openai_chat.request import parse_request as parse_openai

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"
ROUND_TRIPS = json.loads((FIXTURES / "anthropic_requests.json").read_text())
CLAUDE_CODE = json.loads((FIXTURES / "claude_code_tool_loop.json").read_text())
EPHEMERAL = {"cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize("body", ROUND_TRIPS, ids=[b["model"] for b in ROUND_TRIPS])
def test_anthropic_requests_round_trip_through_the_ir(body: dict[str, Any]) -> None:
    assert render_request(parse_request(body)) == body


def test_claude_codes_tool_loop_request_is_read_whole() -> None:
    long_id = "toolu_vrtx_01XyZabcdefghijklmnopqrstuvwxyz0123456789"
    assert parse_request(CLAUDE_CODE) == ir.Request(
        model="claude-sonnet-4-5",
        system=(
            ir.Text("x-anthropic-billing-header: cc_version=2.1.197.1c0; cc_entrypoint=sdk-cli;"),
            ir.Text("You are a Claude agent, built on Anthropic's Claude Agent SDK.", EPHEMERAL),
            ir.Text("You are an interactive agent that helps users with software engineering tasks.", EPHEMERAL),
            ir.Text("Available agent types for the Agent tool:\n- general-purpose"),  # hoisted from messages
        ),
        messages=(
            ir.Message(
                ir.Role.USER,
                (
                    ir.Text("<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>"),
                    ir.Text("Where is the config? Here is a screenshot:", EPHEMERAL),
                    ir.Image(ir.SourceKind.BASE64, "iVBORw0KGgo=", "image/png"),
                ),
            ),
            ir.Message(
                ir.Role.ASSISTANT,
                (
                    ir.Thinking("I should list the files first.", make_carrier("chat", "deepseek-reasoner")),
                    ir.Text("Let me look."),
                    ir.ToolCall("toolu_01A", "Bash", '{"description":"List files","command":"ls"}'),
                    ir.ToolCall("toolu_01B", "Read", '{"file_path":"/etc/app.yml"}'),
                ),
            ),
            ir.Message(
                ir.Role.USER,
                (
                    ir.ToolResult("toolu_01A", (ir.Text("app.yml\nREADME.md"),)),
                    ir.ToolResult("toolu_01B", (ir.Text("EACCES: permission denied"),), True, EPHEMERAL),
                    ir.Text("<system-reminder>\nThe user opened app.yml.\n</system-reminder>"),
                ),
            ),
            ir.Message(
                ir.Role.ASSISTANT,
                (
                    ir.Thinking("Claude's own reasoning.", "EqQBCkgIARABGAIiQLr3/abc+def=="),
                    ir.ToolCall(long_id, "Bash", '{"command":"sudo cat /etc/app.yml"}'),
                ),
            ),
            ir.Message(
                ir.Role.USER,
                (
                    ir.ToolResult(
                        long_id, (ir.Text("port: 8080"), ir.Image(ir.SourceKind.URL, "https://example.com/screen.png"))
                    ),
                ),
            ),
        ),
        tools=(
            ir.Tool("Bash", "Executes a bash command.", CLAUDE_CODE["tools"][0]["input_schema"]),
            ir.Tool("Read", "Reads a file.", CLAUDE_CODE["tools"][1]["input_schema"]),
            ir.Tool("web_search", kind=ir.ToolKind.SERVER, provider_metadata={"anthropic": CLAUDE_CODE["tools"][2]}),
        ),
        max_output_tokens=32000,
        stream=True,
        reasoning=ir.Reasoning(ir.ReasoningMode.ON, 31999),
        user_id=CLAUDE_CODE["metadata"]["user_id"],
    )


def test_system_as_a_string_and_string_content_are_accepted_and_blank_text_dropped() -> None:
    request = parse_request(
        {
            "model": "m",
            "max_tokens": 5,
            "system": "Be kind.",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "user", "content": [{"type": "text", "text": " \n"}]},
                {"role": "user", "content": "   "},
                {"role": "assistant", "content": "hello"},
            ],
        }
    )
    assert request.system == (ir.Text("Be kind."),)
    assert request.messages == (
        ir.Message(ir.Role.USER, (ir.Text("hi"),)),
        ir.Message(ir.Role.ASSISTANT, (ir.Text("hello"),)),
    )


@pytest.mark.parametrize(
    ("thinking", "output_config", "expected"),
    [
        ({"type": "adaptive"}, {"effort": "high"}, ir.Reasoning(ir.ReasoningMode.ADAPTIVE, None, "high")),
        (
            {"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
            None,
            ir.Reasoning(ir.ReasoningMode.ON, 2048, None, "omitted"),
        ),
        ({"type": "disabled"}, None, ir.Reasoning(ir.ReasoningMode.OFF)),
        (None, {"effort": "low"}, ir.Reasoning(effort="low")),
        (None, None, ir.Reasoning()),
    ],
)
def test_the_three_thinking_modes_and_effort_are_read(
    thinking: dict[str, Any] | None, output_config: dict[str, Any] | None, expected: ir.Reasoning
) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 5, "messages": []}
    if thinking:
        body["thinking"] = thinking
    if output_config:
        body["output_config"] = output_config
    assert parse_request(body).reasoning == expected


def test_malformed_messages_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest, match=r"messages\.0\.role"):
        parse_request({"model": "m", "messages": [{"role": "tool", "content": "x"}]})
    with pytest.raises(InvalidRequest, match=r"messages\.0\.content\.0\.source"):
        parse_request({"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]})


@pytest.mark.parametrize("field", ["metadata", "output_config"])
@pytest.mark.parametrize("value", [["x"], "x", 3])
def test_an_object_field_that_is_not_an_object_is_named_with_its_type(field: str, value: Any) -> None:
    kind = {list: "a list", str: "a string", int: "a number"}[type(value)]
    with pytest.raises(InvalidRequest, match=f"^{field}: must be an object, not {kind}$"):
        parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], field: value})
    parsed = parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], field: None})
    assert parsed.user_id is None and parsed.response_format is None


# ------------------------------------------------------------------ rendering for an Anthropic upstream


def test_an_openai_client_conversation_becomes_a_valid_anthropic_request() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call:1/x", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call:1/x", "content": "done"},
            {"role": "tool", "tool_call_id": "call_9", "content": "stray"},
            {"role": "user", "content": "and?"},
        ],
        "temperature": 1.5,
        "top_p": 0.5,
        "max_completion_tokens": 1000,
        "reasoning_effort": "medium",
        "parallel_tool_calls": False,
        "user": "alice",
        "stream": True,
    }
    rendered = render_request(parse_openai(body))
    hashed = rendered["messages"][1]["content"][0]["id"]  # "call:1/x" breaks Anthropic's id pattern
    assert hashed.startswith("toolu_") and len(hashed) == 30
    assert rendered == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": hashed, "name": "f", "input": {"a": 1}},
                    {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": hashed, "content": [{"type": "text", "text": "done"}]},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": [{"type": "text", "text": "[no result]"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "[result of earlier tool call call_9]: stray"},
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
        "system": [{"type": "text", "text": "Be brief."}],
        "temperature": 1.0,
        "metadata": {"user_id": "alice"},
        # the running tool loop has no signed thinking to open its last assistant turn: thinking must be off
        "thinking": {"type": "disabled"},
        "stream": True,
    }


def test_foreign_thinking_is_dropped_and_a_gateway_carrier_of_anthropic_origin_is_unwrapped() -> None:
    wrapped = make_carrier("anthropic", "claude-x", sig="RealSig", text="exact text")
    request = ir.Request(
        "claude-x",
        (
            ir.Message(ir.Role.USER, (ir.Text("q"),)),
            ir.Message(
                ir.Role.ASSISTANT,
                (
                    ir.Thinking("deepseek thoughts", make_carrier("chat", "deepseek-reasoner")),
                    ir.Thinking("summary", wrapped),
                    ir.Thinking("unsigned"),
                    ir.Opaque("gemini", {"type": "executableCode"}),
                    ir.Text("a"),
                ),
            ),
        ),
        max_output_tokens=100,
    )
    assert render_request(request)["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "exact text", "signature": "RealSig"},
            {"type": "text", "text": "a"},
        ],
    }


@pytest.mark.parametrize(
    ("model", "sent", "channel_cap", "expected"),
    [
        ("claude-3-haiku-20240307", None, None, 4096),  # the model's own limit when the client sent none
        ("claude-3-5-haiku-20241022", None, None, 8192),
        ("claude-sonnet-4-5", None, None, 64000),
        ("claude-opus-4-1-20250805", None, None, 32000),
        ("some-unknown-model", None, None, 4096),  # the documented default, which every Claude model takes
        ("claude-sonnet-4-5", None, 2000, 2000),  # the channel's max_output_tokens first
        ("claude-3-haiku-20240307", 8192, None, 4096),  # a request above the model's limit is lowered to it
        ("some-unknown-model", 100000, None, 100000),  # an unknown model keeps what the client asked
        ("claude-sonnet-4-5", 30000, 16000, 16000),
    ],
)
def test_max_tokens_follows_the_channel_cap_then_the_models_known_limit(
    model: str, sent: int | None, channel_cap: int | None, expected: int
) -> None:
    request = ir.Request(model, (ir.Message(ir.Role.USER, (ir.Text("q"),)),), max_output_tokens=sent)
    assert render_request(request, max_output_tokens=channel_cap)["max_tokens"] == expected


def test_a_thinking_budget_gets_room_below_max_tokens() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "max_tokens": 1000,
        "reasoning_effort": "medium",
    }
    rendered = render_request(parse_openai(body))
    assert (rendered["max_tokens"], rendered["thinking"]) == (16384, {"type": "enabled", "budget_tokens": 8192})
    capped = render_request(parse_openai(body), max_output_tokens=4096)
    assert (capped["max_tokens"], capped["thinking"]) == (4096, {"type": "enabled", "budget_tokens": 4095})


def test_a_forced_tool_turns_thinking_off_since_anthropic_rejects_the_pair() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
        "reasoning_effort": "high",
    }
    rendered = render_request(parse_openai(body))
    assert (rendered["tool_choice"], rendered["thinking"]) == ({"type": "any"}, {"type": "disabled"})


# Reasoning a client of another format asked for, as each Claude generation takes it.
ADAPTIVE_LOW = ir.Reasoning(ir.ReasoningMode.ADAPTIVE, effort="low", display="omitted")
BUDGET_XHIGH = ir.Reasoning(ir.ReasoningMode.ON, 32768, "xhigh")
BUDGET_ONLY = ir.Reasoning(ir.ReasoningMode.ON, 31999)


@pytest.mark.parametrize(
    ("model", "reasoning", "thinking", "output_config"),
    [
        # before adaptive thinking: a budget, no effort, no display
        ("claude-sonnet-4-5", ADAPTIVE_LOW, {"type": "enabled", "budget_tokens": 2048}, None),
        ("claude-haiku-4-5-20251001", BUDGET_XHIGH, {"type": "enabled", "budget_tokens": 32768}, None),
        ("claude-opus-4-1-20250805", ADAPTIVE_LOW, {"type": "enabled", "budget_tokens": 2048}, None),
        ("claude-3-7-sonnet-20250219", BUDGET_ONLY, {"type": "enabled", "budget_tokens": 31999}, None),
        # 4.6 takes both; it has no xhigh, which is sent as high
        ("claude-opus-4-6", BUDGET_XHIGH, {"type": "enabled", "budget_tokens": 32768}, {"effort": "high"}),
        ("claude-opus-4-6", ADAPTIVE_LOW, {"type": "adaptive", "display": "omitted"}, {"effort": "low"}),
        # the newest take adaptive thinking only: a budget becomes the effort it stands for
        ("claude-opus-4-8", BUDGET_XHIGH, {"type": "adaptive"}, {"effort": "xhigh"}),
        ("claude-sonnet-5", BUDGET_ONLY, {"type": "adaptive"}, {"effort": "high"}),
        ("claude-opus-4-8", ADAPTIVE_LOW, {"type": "adaptive", "display": "omitted"}, {"effort": "low"}),
        # a model these tables do not know (another provider's Anthropic-compatible API): as asked
        ("kimi-k2", BUDGET_XHIGH, {"type": "enabled", "budget_tokens": 32768}, {"effort": "xhigh"}),
    ],
)
def test_thinking_is_rendered_as_the_models_generation_takes_it(
    model: str, reasoning: ir.Reasoning, thinking: dict[str, Any], output_config: dict[str, Any] | None
) -> None:
    request = ir.Request(
        model=model,
        messages=(ir.Message(ir.Role.USER, (ir.Text("hi"),)),),
        max_output_tokens=64000,
        reasoning=reasoning,
    )
    body = render_request(request)
    assert body["thinking"] == thinking
    assert body.get("output_config") == output_config
