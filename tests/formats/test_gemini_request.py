"""Gemini requests both ways: the IR rendered for a Gemini channel, and a Gemini client's body read into the IR."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.anthropic.request import parse_request as parse_anthropic
from axonhub.formats.carrier import make_carrier
from axonhub.formats.gemini.parse import call_id, check_count_request, check_request, parse_request
from axonhub.formats.gemini.request import function_name, render_count_request, render_request
from axonhub.formats.gemini.schema import from_gemini, to_gemini, tool_parameters
from axonhub.formats.gemini.thoughts import Position, from_client

CALL = Position.CALL

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"
CLAUDE_CODE = json.loads((FIXTURES / "claude_code_tool_loop.json").read_text())
SIGNATURE = "CiQBjz1rX2Zha2Utc2lnbmF0dXJlLW9uZQ=="


def gemini_body(model: str, body: dict[str, Any] | None = None, cap: int | None = None) -> dict[str, Any]:
    request = parse_anthropic(body or CLAUDE_CODE)
    return render_request(ir.Request(**{**_fields(request), "model": model}), cap)


def _fields(request: ir.Request) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}


# ------------------------------------------------------------------------------------- render


def test_a_claude_code_tool_loop_becomes_the_exact_gemini_request() -> None:
    """Roles and order, paired function responses named after their calls, foreign reasoning left
    behind, the image inline and the URL one a placeholder, schemas in Gemini's subset, the server
    tool dropped, thinking as a budget (2.5 Flash caps it at 24576)."""
    assert gemini_body("gemini-2.5-flash") == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>"},
                    {"text": "Where is the config? Here is a screenshot:"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Let me look."},
                    {
                        "functionCall": {
                            "id": "toolu_01A",
                            "name": "Bash",
                            "args": {"description": "List files", "command": "ls"},
                        }
                    },
                    {"functionCall": {"id": "toolu_01B", "name": "Read", "args": {"file_path": "/etc/app.yml"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "toolu_01A",
                            "name": "Bash",
                            "response": {"output": "app.yml\nREADME.md"},
                        }
                    },
                    {
                        "functionResponse": {
                            "id": "toolu_01B",
                            "name": "Read",
                            "response": {"error": "EACCES: permission denied"},
                        }
                    },
                    {"text": "<system-reminder>\nThe user opened app.yml.\n</system-reminder>"},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "id": "toolu_vrtx_01XyZabcdefghijklmnopqrstuvwxyz0123456789",
                            "name": "Bash",
                            "args": {"command": "sudo cat /etc/app.yml"},
                        }
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "toolu_vrtx_01XyZabcdefghijklmnopqrstuvwxyz0123456789",
                            "name": "Bash",
                            "response": {"output": "port: 8080"},
                        }
                    },
                    {"text": "[image omitted: Gemini does not fetch URLs: https://example.com/screen.png]"},
                ],
            },
        ],
        "systemInstruction": {
            "parts": [
                {
                    "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK.\n\n"
                    "You are an interactive agent that helps users with software engineering tasks.\n\n"
                    "Available agent types for the Agent tool:\n- general-purpose"
                }
            ]
        },
        "tools": [
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
                                    "maximum": 600000,
                                    "minimum": 0,
                                },
                                "description": {"type": "STRING"},
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
                                "file_path": {"description": "The absolute path to the file to read", "type": "STRING"},
                                "pages": {"anyOf": [{"type": "STRING"}, {"type": "STRING", "enum": ["all"]}]},
                                "options": {"type": "OBJECT"},
                            },
                            "required": ["file_path"],
                        },
                    },
                ]
            }
        ],
        "generationConfig": {
            "maxOutputTokens": 32000,
            "thinkingConfig": {"thinkingBudget": 24576, "includeThoughts": True},
        },
    }


@pytest.mark.parametrize(
    ("model", "thinking", "expected"),
    [
        ("gemini-2.5-flash", {"type": "adaptive"}, {"thinkingBudget": -1, "includeThoughts": True}),
        ("gemini-2.5-flash", {"type": "disabled"}, {"thinkingBudget": 0, "includeThoughts": False}),
        ("gemini-2.5-pro", {"type": "disabled"}, {"thinkingBudget": 128, "includeThoughts": False}),
        (
            "gemini-2.5-pro",
            {"type": "enabled", "budget_tokens": 31999},
            {"thinkingBudget": 31999, "includeThoughts": True},
        ),
        (
            "gemini-3-pro-preview",
            {"type": "enabled", "budget_tokens": 4000},
            {"thinkingLevel": "LOW", "includeThoughts": True},
        ),
        (
            "gemini-3-pro-preview",
            {"type": "enabled", "budget_tokens": 31999},
            {"thinkingLevel": "HIGH", "includeThoughts": True},
        ),
        (
            "gemini-3-flash",
            {"type": "adaptive", "display": "omitted"},
            {"thinkingLevel": "HIGH", "includeThoughts": False},
        ),
        ("gemini-3-flash", {"type": "disabled"}, {"thinkingLevel": "LOW", "includeThoughts": False}),
        ("my-gemini-alias", {"type": "adaptive"}, {"thinkingBudget": -1, "includeThoughts": True}),
    ],
)
def test_thinking_is_a_budget_on_2_5_and_a_level_on_3(
    model: str, thinking: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = {"model": "m", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}], "thinking": thinking}
    body["output_config"] = {"effort": "high"}
    assert gemini_body(model, body)["generationConfig"]["thinkingConfig"] == expected


def test_sampling_stops_json_output_and_the_output_cap() -> None:
    body = {
        "model": "m",
        "max_tokens": 100000,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 20,
        "stop_sequences": ["a", "b", "c", "d", "e", "f"],
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {"type": "object", "properties": {"t": {"type": "string"}}, "additionalProperties": False},
            }
        },
    }
    assert gemini_body("gemini-2.0-flash", body)["generationConfig"] == {
        "maxOutputTokens": 8192,  # the model's limit
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 20,
        "stopSequences": ["a", "b", "c", "d", "e"],  # Gemini takes five
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"t": {"type": "STRING"}}},
    }
    assert (
        gemini_body("gemini-2.5-flash", body, cap=4096)["generationConfig"]["maxOutputTokens"] == 4096
    )  # the channel's


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"mode": "AUTO"}),
        ({"type": "any"}, {"mode": "ANY"}),
        ({"type": "tool", "name": "Bash"}, {"mode": "ANY", "allowedFunctionNames": ["Bash"]}),
        ({"type": "none"}, {"mode": "NONE"}),
        ({"type": "auto", "disable_parallel_tool_use": True}, {"mode": "AUTO"}),  # no such switch in Gemini
    ],
)
def test_tool_choice_is_the_function_calling_mode(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    body = {**CLAUDE_CODE, "tool_choice": choice, "thinking": {"type": "disabled"}}
    assert gemini_body("gemini-2.5-flash", body)["toolConfig"] == {"functionCallingConfig": expected}


def test_a_request_that_forces_a_server_tool_is_refused_clearly() -> None:
    body = {**CLAUDE_CODE, "tool_choice": {"type": "tool", "name": "web_search"}}
    with pytest.raises(InvalidRequest, match="web_search run only on their own provider's API"):
        gemini_body("gemini-2.5-flash", body)


def signed_turn(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": list(blocks)},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "ok"}]},
        ],
    }


def model_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return next(c["parts"] for c in body["contents"] if c["role"] == "model")


def test_signatures_go_back_to_the_part_they_came_with() -> None:
    thought = make_carrier("gemini", "gemini-2.5-flash", sig="T1", pos="thought")
    text = make_carrier("gemini", "gemini-2.5-flash", sig="X1", pos="text")
    call = make_carrier("gemini", "gemini-2.5-flash", sig="C1", pos="call")
    body = signed_turn(
        {"type": "thinking", "thinking": "plan", "signature": thought},
        {"type": "text", "text": "Doing it."},
        {"type": "thinking", "thinking": "", "signature": text},
        {"type": "thinking", "thinking": "", "signature": call},
        {"type": "tool_use", "id": "c1", "name": "ls", "input": {}},
    )
    assert model_parts(gemini_body("gemini-2.5-flash", body)) == [
        {"text": "plan", "thought": True, "thoughtSignature": "T1"},
        {"text": "Doing it.", "thoughtSignature": "X1"},
        {"functionCall": {"id": "c1", "name": "ls", "args": {}}, "thoughtSignature": "C1"},
    ]


def test_signatures_of_another_model_or_provider_are_never_sent_and_gemini_3_gets_the_stand_in() -> None:
    body = signed_turn(
        {
            "type": "thinking",
            "thinking": "",
            "signature": make_carrier("gemini", "gemini-2.5-flash", sig="C1", pos="call"),
        },
        {"type": "thinking", "thinking": "Claude", "signature": "EqQBreal"},
        {"type": "tool_use", "id": "c1", "name": "ls", "input": {}},
    )
    assert model_parts(gemini_body("gemini-2.5-pro", body)) == [
        {"functionCall": {"id": "c1", "name": "ls", "args": {}}}
    ]
    assert model_parts(gemini_body("gemini-3-pro-preview", body)) == [
        {"functionCall": {"id": "c1", "name": "ls", "args": {}}, "thoughtSignature": "skip_thought_signature_validator"}
    ]


def test_only_the_current_turns_calls_get_the_stand_in() -> None:
    body = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "ls", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "x"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "b", "name": "ls", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "y"}]},
        ],
    }
    calls = [p for c in gemini_body("gemini-3-flash", body)["contents"] for p in c["parts"] if "functionCall" in p]
    assert [(p["functionCall"]["id"], p.get("thoughtSignature")) for p in calls] == [
        ("a", None),
        ("b", "skip_thought_signature_validator"),
    ]


def test_missing_results_are_synthesised_orphans_become_text_and_a_leading_model_turn_gets_a_user_turn() -> None:
    body = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "ls", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "zzz", "content": "late"}]},
        ],
    }
    assert gemini_body("gemini-2.5-flash", body)["contents"] == [
        {"role": "user", "parts": [{"text": "(continue)"}]},
        {"role": "model", "parts": [{"functionCall": {"id": "a", "name": "ls", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "a", "name": "ls", "response": {"error": "[tool call was not executed]"}}},
                {"text": "[result of earlier tool call zzz]: late"},
            ],
        },
    ]


def test_function_names_gemini_refuses_are_rewritten_stably() -> None:
    assert function_name("mcp__server__do.it:now-1") == "mcp__server__do.it:now-1"
    rewritten = function_name("9lives tool")
    assert rewritten == function_name("9lives tool") and rewritten.startswith("_9lives_tool_")


def test_count_tokens_renders_the_whole_request_under_its_model() -> None:
    request = ir.Request(
        "gemini-2.5-flash", (ir.Message(ir.Role.USER, (ir.Text("foo"),)),), system=(ir.Text("Be brief."),)
    )
    assert render_count_request(request) == {
        "generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "foo"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
        }
    }


# ------------------------------------------------------------------------------------- schemas


def test_schemas_with_refs_all_of_type_lists_and_enums_become_geminis_subset() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "Node": {"type": "object", "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Node"}}}
        },
        "properties": {
            "tree": {"$ref": "#/$defs/Node", "description": "a tree"},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "url": {"type": "string", "format": "uri"},
            "level": {"type": "integer", "enum": [1, 2, 3]},
            "mode": {"enum": ["a", "b", None]},
            "both": {
                "allOf": [
                    {"properties": {"x": {"type": "number"}}, "required": ["x"]},
                    {"properties": {"y": {"type": "boolean"}}},
                ]
            },
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "list": {"type": "array"},
            "anything": {"description": "any value"},
        },
        "required": ["tree", "ghost"],
        "additionalProperties": False,
    }
    converted = to_gemini(schema)
    tree = converted["properties"]["tree"]
    assert (tree["description"], tree["type"], list(tree["properties"])) == ("a tree", "OBJECT", ["name", "child"])
    depth = 0
    while "child" in tree.get("properties", {}):
        tree, depth = tree["properties"]["child"], depth + 1
    assert tree == {"type": "OBJECT"} and depth < 12  # the recursion ends
    assert {k: v for k, v in converted["properties"].items() if k != "tree"} == {
        "when": {"type": "STRING", "format": "date-time", "nullable": True},
        "url": {"type": "STRING"},
        "level": {"type": "INTEGER", "description": "one of: 1, 2, 3"},
        "mode": {"type": "STRING", "enum": ["a", "b"], "nullable": True},
        "both": {
            "type": "OBJECT",
            "properties": {"x": {"type": "NUMBER"}, "y": {"type": "BOOLEAN"}},
            "required": ["x"],
        },
        "either": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
        "list": {"type": "ARRAY", "items": {"type": "STRING"}},
        "anything": {"description": "any value", "type": "STRING"},
    }
    assert converted["required"] == ["tree"]


def test_codex_tool_schemas_become_geminis_subset() -> None:
    exec_command = {
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "Shell command to execute."},
            "workdir": {"type": "string"},
            "yield_time_ms": {"type": "number"},
            "with_escalated_permissions": {"type": "boolean"},
            "justification": {"type": "string"},
            "shell": {"type": "string"},
            "login": {"type": "boolean"},
            "max_output_tokens": {"type": "number"},
        },
        "required": ["cmd"],
        "additionalProperties": False,
    }
    assert tool_parameters(exec_command) == {
        "type": "OBJECT",
        "properties": {
            "cmd": {"description": "Shell command to execute.", "type": "STRING"},
            "workdir": {"type": "STRING"},
            "yield_time_ms": {"type": "NUMBER"},
            "with_escalated_permissions": {"type": "BOOLEAN"},
            "justification": {"type": "STRING"},
            "shell": {"type": "STRING"},
            "login": {"type": "BOOLEAN"},
            "max_output_tokens": {"type": "NUMBER"},
        },
        "required": ["cmd"],
    }
    assert tool_parameters({"type": "object", "properties": {}, "additionalProperties": False}) is None


def test_geminis_schemas_read_back_as_json_schema() -> None:
    legacy = {
        "type": "OBJECT",
        "properties": {"a": {"type": "STRING", "nullable": True}, "b": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
    }
    assert from_gemini(legacy) == {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "array", "items": {"type": "integer"}}},
    }


# ------------------------------------------------------------------------------------- parse

GEMINI_CLI_TURN = {
    "contents": [
        {
            "role": "user",
            "parts": [{"text": "<session_context>…</session_context>"}, {"text": "What does marker.txt say?"}],
        },
        {
            "role": "model",
            "parts": [
                {"text": "Reading it.", "thought": True},
                {
                    "functionCall": {"name": "read_file", "args": {"file_path": "/w/marker.txt"}},
                    "thoughtSignature": SIGNATURE,
                },
                {"functionCall": {"name": "list_directory", "args": {"dir_path": "/w"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "list_directory-1764-x",
                        "name": "list_directory",
                        "response": {"output": "marker.txt"},
                    }
                },
                {"functionResponse": {"id": "read_file-1764-y", "name": "read_file", "response": {"error": "too big"}}},
            ],
        },
    ],
    "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI."}]},
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "read_file",
                    "description": "Reads",
                    "parametersJsonSchema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
                },
                {
                    "name": "list_directory",
                    "parameters": {"type": "OBJECT", "properties": {"dir_path": {"type": "STRING"}}},
                },
            ]
        },
        {"googleSearch": {}},
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["read_file"]}},
    "generationConfig": {
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxOutputTokens": 500,
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192},
    },
}


def test_a_gemini_cli_turn_is_read_into_the_ir() -> None:
    """Calls without ids get stable positional ids, responses find their calls by name (Gemini CLI
    answers with ids of its own), Gemini's own signature is kept for a Gemini channel (model unknown),
    Google's hosted search has no equivalent and is dropped."""
    read_id, list_id = call_id(1, 1, "read_file"), call_id(1, 2, "list_directory")
    assert parse_request(GEMINI_CLI_TURN) == ir.Request(
        model="",
        messages=(
            ir.Message(
                ir.Role.USER, (ir.Text("<session_context>…</session_context>"), ir.Text("What does marker.txt say?"))
            ),
            ir.Message(
                ir.Role.ASSISTANT,
                (
                    ir.Thinking("Reading it."),
                    ir.Thinking("", make_carrier("gemini", "", sig=SIGNATURE, pos="call")),
                    ir.ToolCall(read_id, "read_file", '{"file_path":"/w/marker.txt"}'),
                    ir.ToolCall(list_id, "list_directory", '{"dir_path":"/w"}'),
                ),
            ),
            ir.Message(
                ir.Role.USER,
                (
                    ir.ToolResult(list_id, (ir.Text("marker.txt"),)),
                    ir.ToolResult(read_id, (ir.Text("too big"),), is_error=True),
                ),
            ),
        ),
        system=(ir.Text("You are Gemini CLI."),),
        tools=(
            ir.Tool("read_file", "Reads", {"type": "object", "properties": {"file_path": {"type": "string"}}}),
            ir.Tool("list_directory", "", {"type": "object", "properties": {"dir_path": {"type": "string"}}}),
        ),
        tool_choice=ir.ToolChoice(ir.ToolChoiceMode.TOOL, "read_file"),
        max_output_tokens=500,
        temperature=1.0,
        top_p=0.95,
        top_k=64,
        reasoning=ir.Reasoning(ir.ReasoningMode.ON, 8192, display="summarized"),
        notes=("tools[1].googleSearch left out: only Google's API runs its hosted tools",),
    )
    assert parse_request(GEMINI_CLI_TURN) == parse_request(json.loads(json.dumps(GEMINI_CLI_TURN)))


def test_what_other_providers_get_none_of_is_noted_for_the_trace() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"seed": 7, "presencePenalty": 0.5},
        "tools": [{"codeExecution": {}}],
    }
    assert parse_request(body).notes == (
        "tools[0].codeExecution left out: only Google's API runs its hosted tools",
        "safetySettings left out: other providers have no such setting",
        "generationConfig.presencePenalty left out: not carried to other providers",
        "generationConfig.seed left out: not carried to other providers",
    )


def test_our_own_carrier_comes_back_as_the_reasoning_it_carried_in_either_base64_alphabet() -> None:
    carrier = make_carrier("anthropic", "claude-sonnet-4-5", sig="EqQB+/sig", text="I thought ~~ this")
    standard = base64.b64encode(carrier.encode()).decode()
    url_safe = base64.urlsafe_b64encode(carrier.encode()).decode().rstrip("=")
    assert from_client(standard, CALL) == from_client(url_safe, CALL) == ir.Thinking("I thought ~~ this", carrier)
    own = ir.Thinking("", make_carrier("gemini", "", sig=SIGNATURE, pos="call"))
    assert from_client(SIGNATURE, CALL) == own  # Gemini's own, kept for Gemini


def test_snake_case_fields_are_read_too() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AAAA"}}]}],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "generation_config": {"max_output_tokens": 5, "response_mime_type": "application/json"},
    }
    request = parse_request(body)
    assert (request.system, request.max_output_tokens, request.response_format) == (
        (ir.Text("sys"),),
        5,
        ir.ResponseFormat(ir.ResponseFormatKind.JSON_OBJECT),
    )
    assert request.messages == (ir.Message(ir.Role.USER, (ir.Image(ir.SourceKind.BASE64, "AAAA", "image/png"),)),)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount: only one candidate"),
        ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
        ({"generationConfig": {"responseModalities": ["AUDIO"]}}, "only TEXT output is supported, not AUDIO"),
        ({"cachedContent": "cachedContents/abc"}, "cachedContent: a Gemini context cache lives on Google's servers"),
        (
            {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "audio/wav", "data": "AAAA"}}]}]},
            r"contents\[0\].parts\[0\].inlineData.mimeType: audio/wav cannot be sent",
        ),
    ],
)
def test_what_another_provider_cannot_serve_is_a_400_naming_the_field(change: dict[str, Any], message: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **change}
    with pytest.raises(InvalidRequest, match=message):
        parse_request(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "contents: field required"),
        ({"contents": [{"role": "user"}]}, r"contents\[0\].parts: field required"),
        ({"contents": ["hi"]}, r"contents\[0\]: must be an object, not a string"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": []}, "generationConfig: must be an object"),
    ],
)
def test_the_boundary_check_names_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_request(body)


def test_a_count_request_may_wrap_a_whole_request() -> None:
    check_count_request({"generateContentRequest": {"contents": [{"parts": [{"text": "x"}]}]}})
    with pytest.raises(InvalidRequest, match="generateContentRequest: must be an object"):
        check_count_request({"generateContentRequest": "x"})
    inner = {"model": "models/x", "contents": [{"role": "user", "parts": [{"text": "count me"}]}]}
    assert parse_request({"generateContentRequest": inner}).messages == (
        ir.Message(ir.Role.USER, (ir.Text("count me"),)),
    )


def test_responses_to_parallel_calls_of_one_function_find_their_calls_in_order() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "two cities"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "weather", "response": {"output": "18C"}}},
                    {"functionResponse": {"name": "weather", "response": {"output": "3C"}}},
                ],
            },
        ]
    }
    results = parse_request(body).messages[2].content
    assert results == (
        ir.ToolResult(call_id(1, 0, "weather"), (ir.Text("18C"),)),
        ir.ToolResult(call_id(1, 1, "weather"), (ir.Text("3C"),)),
    )
