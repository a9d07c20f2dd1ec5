"""The Anthropic → OpenAI Chat request mapping per channel quirks, and OpenAI client requests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.anthropic.request import parse_request as parse_anthropic
from axonhub.formats.openai_chat.quirks import QUIRKS, quirks_for, with_overrides
from axonhub.formats.openai_chat.request import parse_request, render_request, stream_include_usage

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"
CLAUDE_CODE = json.loads((FIXTURES / "claude_code_tool_loop.json").read_text())
USER_HASH = hashlib.sha256(CLAUDE_CODE["metadata"]["user_id"].encode()).hexdigest()
LONG_ID_FOR_OPENAI = "call_iFOAZ14v00Qxm162agNN3Yq2"
# OpenAI itself serving a reasoning model: the `quirks:` a user declares on an `openai` channel
OPENAI_REASONING = with_overrides(
    QUIRKS["openai"],
    {"max_tokens_field": "max_completion_tokens", "reasoning_param": "reasoning_effort", "supports_pdf": True},
)
ROWS = {**QUIRKS, "openai-reasoning": OPENAI_REASONING}
SYSTEM = (
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.\n\n"
    "You are an interactive agent that helps users with software engineering tasks.\n\n"
    "Available agent types for the Agent tool:\n- general-purpose"
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "Bash",
            "description": "Executes a bash command.",
            "parameters": CLAUDE_CODE["tools"][0]["input_schema"],
        },
    },
    {
        "type": "function",
        "function": {
            "name": "Read",
            "description": "Reads a file.",
            "parameters": CLAUDE_CODE["tools"][1]["input_schema"],
        },
    },
]
FIRST_CALLS = [
    {
        "id": "toolu_01A",
        "type": "function",
        "function": {"name": "Bash", "arguments": '{"description":"List files","command":"ls"}'},
    },
    {"id": "toolu_01B", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/etc/app.yml"}'}},
]
SECOND_CALLS = [
    {
        "id": LONG_ID_FOR_OPENAI,
        "type": "function",
        "function": {"name": "Bash", "arguments": '{"command":"sudo cat /etc/app.yml"}'},
    }
]
TOOL_MESSAGES = [
    {"role": "tool", "tool_call_id": "toolu_01A", "content": "app.yml\nREADME.md"},
    {"role": "tool", "tool_call_id": "toolu_01B", "content": "Error: EACCES: permission denied"},
    {"role": "user", "content": "<system-reminder>\nThe user opened app.yml.\n</system-reminder>"},
]


def claude_code_request(model: str, **changes: Any) -> ir.Request:
    return dataclasses.replace(parse_anthropic(CLAUDE_CODE), model=model, **changes)


def test_a_claude_code_tool_loop_becomes_the_exact_deepseek_request() -> None:
    body = render_request(claude_code_request("deepseek-reasoner"), QUIRKS["deepseek"])
    assert body == {
        "model": "deepseek-reasoner",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": "<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>\n\n"
                "Where is the config? Here is a screenshot:\n\n[image omitted: this model does not accept images]",
            },
            # our own earlier reasoning goes back; the Anthropic-signed one is foreign and dropped
            {
                "role": "assistant",
                "content": "Let me look.",
                "reasoning_content": "I should list the files first.",
                "tool_calls": FIRST_CALLS,
            },
            *TOOL_MESSAGES,
            {"role": "assistant", "content": None, "reasoning_content": "", "tool_calls": SECOND_CALLS},
            {"role": "tool", "tool_call_id": LONG_ID_FOR_OPENAI, "content": "port: 8080"},
            {
                "role": "user",
                "content": f"[image output of tool call {LONG_ID_FOR_OPENAI}]\n\n[image omitted: this model does not accept images]",
            },
        ],
        "tools": TOOLS,
        "max_tokens": 32000,
        "user": USER_HASH,
        "thinking": {"type": "enabled"},
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_the_same_tool_loop_becomes_the_exact_openai_request() -> None:
    body = render_request(claude_code_request("gpt-5"), OPENAI_REASONING)
    assert body == {
        "model": "gpt-5",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>"},
                    {"type": "text", "text": "Where is the config? Here is a screenshot:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            },
            {"role": "assistant", "content": "Let me look.", "tool_calls": FIRST_CALLS},
            *TOOL_MESSAGES,
            {"role": "assistant", "content": None, "tool_calls": SECOND_CALLS},
            {"role": "tool", "tool_call_id": LONG_ID_FOR_OPENAI, "content": "port: 8080"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"[image output of tool call {LONG_ID_FOR_OPENAI}]"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/screen.png"}},
                ],
            },
        ],
        "tools": TOOLS,
        "max_completion_tokens": 32000,
        "user": USER_HASH,
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


TITLE_REQUEST = {
    "model": "claude-haiku-4-5-20251001",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "<session>\nSay hello\n</session>"}]}],
    "system": [{"type": "text", "text": "Generate a short title."}],
    "tools": [],
    "metadata": {"user_id": "u"},
    "max_tokens": 32000,
    "thinking": {"type": "disabled"},
    "temperature": 1,
    "output_config": {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
                "additionalProperties": False,
            },
        }
    },
    "stream": True,
}
TITLE_SCHEMA = TITLE_REQUEST["output_config"]["format"]["schema"]  # type: ignore[index]


def test_structured_output_is_a_json_object_plus_an_instruction_on_deepseek() -> None:
    request = dataclasses.replace(parse_anthropic(TITLE_REQUEST), model="deepseek-chat")
    assert render_request(request, QUIRKS["deepseek"]) == {
        "model": "deepseek-chat",
        "messages": [
            {
                "role": "system",
                "content": "Generate a short title.\n\nRespond only with a JSON object that matches this JSON schema: "
                '{"type":"object","properties":{"title":{"type":"string"}},"required":["title"],"additionalProperties":false}',
            },
            {"role": "user", "content": "<session>\nSay hello\n</session>"},
        ],
        "max_tokens": 8192,
        "temperature": 1.0,
        "user": hashlib.sha256(b"u").hexdigest(),
        "response_format": {"type": "json_object"},
        "thinking": {"type": "disabled"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_structured_output_is_a_strict_json_schema_on_openai_and_thinking_off_sends_nothing() -> None:
    body = render_request(dataclasses.replace(parse_anthropic(TITLE_REQUEST), stream=False), OPENAI_REASONING)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": TITLE_SCHEMA, "strict": True},
    }
    assert body["messages"][0] == {"role": "system", "content": "Generate a short title."}
    assert "reasoning_effort" not in body and "stream" not in body and "stream_options" not in body


@pytest.mark.parametrize(
    ("thinking", "effort", "channel", "expected"),
    [
        ({"type": "adaptive"}, "high", "deepseek", {"thinking": {"type": "enabled"}, "reasoning_effort": "high"}),
        ({"type": "adaptive"}, "max", "deepseek", {"thinking": {"type": "enabled"}, "reasoning_effort": "max"}),
        (
            {"type": "enabled", "budget_tokens": 40000},
            None,
            "deepseek",
            {"thinking": {"type": "enabled"}, "reasoning_effort": "max"},
        ),
        ({"type": "disabled"}, None, "deepseek", {"thinking": {"type": "disabled"}}),
        (None, None, "deepseek", {}),
        ({"type": "adaptive"}, "medium", "openai-reasoning", {"reasoning_effort": "medium"}),
        ({"type": "adaptive"}, "xhigh", "openai-reasoning", {"reasoning_effort": "high"}),
        ({"type": "adaptive"}, None, "openai-reasoning", {}),
        ({"type": "enabled", "budget_tokens": 2000}, None, "openai-reasoning", {"reasoning_effort": "low"}),
        ({"type": "enabled", "budget_tokens": 8000}, None, "openai-reasoning", {"reasoning_effort": "medium"}),
        # a generic OpenAI-compatible server (vLLM, Ollama, gpt-4.1) gets no reasoning parameter at all
        ({"type": "adaptive"}, "high", "openai", {}),
        ({"type": "enabled", "budget_tokens": 8000}, None, "openai", {}),
        ({"type": "enabled", "budget_tokens": 10000}, None, "openrouter", {"reasoning": {"max_tokens": 10000}}),
        ({"type": "adaptive"}, "high", "openrouter", {"reasoning": {"effort": "high"}}),
        ({"type": "adaptive"}, None, "openrouter", {"reasoning": {"enabled": True}}),
        ({"type": "disabled"}, None, "openrouter", {"reasoning": {"enabled": False}}),
        ({"type": "adaptive"}, "high", "moonshot", {}),
    ],
)
def test_thinking_and_effort_map_to_each_channels_reasoning_controls(
    thinking: dict[str, Any] | None, effort: str | None, channel: str, expected: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "hi"}]}
    if thinking:
        body["thinking"] = thinking
    if effort:
        body["output_config"] = {"effort": effort}
    rendered = render_request(parse_anthropic(body), ROWS[channel])
    controls = {k: v for k, v in rendered.items() if k in ("thinking", "reasoning_effort", "reasoning")}
    assert controls == expected


@pytest.mark.parametrize(
    ("model", "channel", "cap", "expected"),
    [
        ("deepseek-chat", "deepseek", None, {"max_tokens": 8192}),
        ("deepseek-reasoner", "deepseek", None, {"max_tokens": 64000}),
        ("deepseek-reasoner", "deepseek", 16000, {"max_tokens": 16000}),
        ("deepseek-v9", "deepseek", None, {"max_tokens": 8192}),
        ("gpt-5", "openai-reasoning", None, {"max_completion_tokens": 64000}),
        ("qwen3-coder", "openai", None, {"max_tokens": 64000}),
        ("kimi-k2", "moonshot", 32768, {"max_tokens": 32768}),
    ],
)
def test_max_tokens_is_clamped_to_the_model_and_channel_caps(
    model: str, channel: str, cap: int | None, expected: dict[str, int]
) -> None:
    request = ir.Request(model, (ir.Message(ir.Role.USER, (ir.Text("hi"),)),), max_output_tokens=64000)
    body = render_request(request, ROWS[channel], cap)
    assert {k: v for k, v in body.items() if "max" in k} == expected


def tool_request(choice: dict[str, Any]) -> ir.Request:
    return parse_anthropic(
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": choice,
        }
    )


@pytest.mark.parametrize(
    ("choice", "channel", "expected"),
    [
        ({"type": "auto"}, "openai", {"tool_choice": "auto"}),
        ({"type": "any"}, "openai", {"tool_choice": "required"}),
        ({"type": "tool", "name": "f"}, "openai", {"tool_choice": {"type": "function", "function": {"name": "f"}}}),
        ({"type": "none"}, "openai", {"tool_choice": "none"}),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            "openai",
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
        ({"type": "auto", "disable_parallel_tool_use": True}, "deepseek", {"tool_choice": "auto"}),
    ],
)
def test_tool_choice_and_parallel_tool_use_map_per_channel(
    choice: dict[str, Any], channel: str, expected: dict[str, Any]
) -> None:
    body = render_request(tool_request(choice), QUIRKS[channel])
    assert {k: v for k, v in body.items() if k in ("tool_choice", "parallel_tool_calls")} == expected
    assert body["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_a_request_that_forces_an_anthropic_server_tool_is_refused_clearly() -> None:
    request = parse_anthropic(
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "search"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "tool", "name": "web_search"},
        }
    )
    with pytest.raises(InvalidRequest, match="web_search run only on Anthropic's API"):
        render_request(request, QUIRKS["deepseek"])


def test_sampling_stop_sequences_and_top_k_follow_the_quirks() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["a", "", "b", "c", "d", "e"],
    }
    rendered = render_request(parse_anthropic(body), QUIRKS["openai"])
    assert {k: rendered[k] for k in ("temperature", "top_p", "stop")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["a", "b", "c", "d"],
    }
    assert "top_k" not in rendered
    assert render_request(parse_anthropic(body), QUIRKS["openrouter"])["top_k"] == 40


def test_missing_results_are_synthesised_orphans_become_text_and_a_leading_assistant_gets_a_user_turn() -> None:
    request = ir.Request(
        "m",
        (
            ir.Message(ir.Role.ASSISTANT, (ir.ToolCall("t1", "f", "{}"), ir.ToolCall("t2", "g", '{"x": 1}'))),
            ir.Message(
                ir.Role.USER, (ir.ToolResult("t2", (ir.Text("two"),)), ir.ToolResult("t0", ()), ir.Text("next"))
            ),
            ir.Message(ir.Role.ASSISTANT, (ir.ToolCall("t3", "f", ""),)),
            ir.Message(ir.Role.ASSISTANT, (ir.Text("prefill"),)),
        ),
    )
    assert render_request(request, QUIRKS["openai"])["messages"] == [
        {"role": "user", "content": "(continue)"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "t2", "type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "t2", "content": "two"},
        {"role": "tool", "tool_call_id": "t1", "content": "[tool call was not executed]"},
        {"role": "user", "content": "[result of earlier tool call t0]: (no output)\n\nnext"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t3", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "t3", "content": "[tool call was not executed]"},
        {"role": "assistant", "content": "prefill"},
    ]


def test_documents_are_file_parts_where_supported_and_placeholders_or_text_elsewhere() -> None:
    pdf = ir.Document(ir.SourceKind.BASE64, "JVBERi0=", "application/pdf", "spec.pdf")
    notes = ir.Document(ir.SourceKind.TEXT, "line one", "text/plain", "notes")
    request = ir.Request("m", (ir.Message(ir.Role.USER, (pdf, notes)),))
    assert render_request(request, OPENAI_REASONING)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
                {"type": "text", "text": '<document title="notes">\nline one\n</document>'},
            ],
        }
    ]
    assert render_request(request, QUIRKS["deepseek"])["messages"] == [
        {
            "role": "user",
            "content": '[PDF document omitted: spec.pdf]\n\n<document title="notes">\nline one\n</document>',
        }
    ]


def test_unknown_channel_types_get_conservative_quirks() -> None:
    quirks = quirks_for("vllm")
    assert (quirks.max_tokens_field, quirks.reasoning_param, quirks.reasoning_passback) == (
        "max_tokens",
        "none",
        "none",
    )


# ------------------------------------------------------------------ OpenAI Chat clients


ROUND_TRIPS = json.loads((FIXTURES / "openai_chat_requests.json").read_text())


@pytest.mark.parametrize("body", ROUND_TRIPS, ids=[b["model"] for b in ROUND_TRIPS])
def test_openai_requests_round_trip_through_the_ir(body: dict[str, Any]) -> None:
    assert render_request(parse_request(body), OPENAI_REASONING) == body


def test_an_openai_client_request_is_read_into_the_ir() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "dropped",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]},
            {"role": "user", "content": "thanks"},
            {"role": "system", "content": "Late rule."},
        ],
        "max_tokens": 100,
        "stop": "END",
        "user": "alice",
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert parse_request(body) == ir.Request(
        model="gpt-x",
        messages=(
            ir.Message(ir.Role.USER, (ir.Text("look"), ir.Image(ir.SourceKind.BASE64, "/9j/", "image/jpeg"))),
            ir.Message(ir.Role.ASSISTANT, (ir.ToolCall("c1", "f", '{"a":1}'),)),
            ir.Message(ir.Role.USER, (ir.ToolResult("c1", (ir.Text("42"),)), ir.Text("thanks"))),
        ),
        system=(ir.Text("Be brief."), ir.Text("Late rule.")),
        tool_choice=ir.ToolChoice(ir.ToolChoiceMode.AUTO, None, parallel=False),
        max_output_tokens=100,
        stop=("END",),
        stream=True,
        stream_usage=True,
        reasoning=ir.Reasoning(ir.ReasoningMode.ON, 2048, "low"),
        response_format=ir.ResponseFormat(ir.ResponseFormatKind.JSON_OBJECT),
        user_id="alice",
    )
    assert stream_include_usage(body)


@pytest.mark.parametrize(
    "extra",
    [{"n": 2}, {"logprobs": True}, {"modalities": ["text", "audio"]}],
)
def test_openai_features_the_gateway_cannot_honour_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra})
