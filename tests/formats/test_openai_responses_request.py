"""Responses client requests read into the IR and rendered for each channel; IR requests for a Responses channel."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest

from axonhub import ir
from axonhub.errors import InvalidRequest, UpstreamError
from axonhub.formats import carrier
from axonhub.formats.anthropic.request import parse_request as parse_anthropic
from axonhub.formats.anthropic.request import render_request as render_anthropic
from axonhub.formats.openai_chat.quirks import QUIRKS
from axonhub.formats.openai_chat.request import parse_request as parse_chat
from axonhub.formats.openai_chat.request import render_request as render_chat
from axonhub.formats.openai_responses import conversation
from axonhub.formats.openai_responses.reasoning import OPENAI
from axonhub.formats.openai_responses.render import render_request
from axonhub.formats.openai_responses.request import parse_request
from axonhub.formats.openai_responses.tools import custom_schema

GRAMMAR = {"type": "grammar", "syntax": "lark", "definition": "start: SOURCE\nSOURCE: /[\\s\\S]+/\n"}
EXEC_JS = 'const r = await tools.exec_command({cmd: "ls"}); text(r);'
CHAT_REASONING = carrier.make_carrier("chat", "deepseek-chat", text="I should list the files.")
ANTHROPIC_REASONING = carrier.make_carrier("anthropic", "claude-sonnet-4-5", sig="EqQBsig==", text="Listing.")
# What Codex 0.169 sends for its default model, one tool round trip in: developer messages first, its
# tools in an additional_tools item (a freeform exec with a grammar, namespaces), a reasoning item with
# the gateway's carrier, the custom call and its output as a list of parts, then a new turn.
CODEX_BODY: dict[str, Any] = {
    "model": "gpt-6.1-sol",
    "stream": True,
    "input": [
        {
            "type": "additional_tools",
            "role": "developer",
            "tools": [
                {
                    "type": "namespace",
                    "name": "functions",
                    "description": "",
                    "tools": [
                        {"type": "custom", "name": "exec", "description": "Run JavaScript.", "format": GRAMMAR},
                        {"type": "function", "name": "wait", "strict": False, "parameters": {"type": "object"}},
                    ],
                },
                {
                    "type": "namespace",
                    "name": "clock",
                    "tools": [{"type": "function", "name": "wait", "parameters": {"type": "object"}}],
                },
            ],
        },
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context/>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "x"}], "encrypted_content": CHAT_REASONING},
        {
            "type": "custom_tool_call",
            "id": "ctc_1",
            "status": "completed",
            "call_id": "call_1",
            "name": "exec",
            "input": EXEC_JS,
        },
        {
            "type": "custom_tool_call_output",
            "call_id": "call_1",
            "output": [{"type": "input_text", "text": "Script completed"}, {"type": "input_text", "text": "a.txt"}],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "One file: a.txt."}]},
        {"type": "message", "role": "developer", "content": "<collaboration_mode>Default</collaboration_mode>"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
    ],
    "tools": [{"type": "web_search", "external_web_access": False}],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "low", "context": "all_turns"},
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "01a20c4a-fcb2-7ac0-b7dc-fb4a7ca374ba",
    "text": {"verbosity": "low"},
    "client_metadata": {"session_id": "01a20c4a-fcb2-7ac0-b7dc-fb4a7ca374ba"},
}
EXEC_TOOL = ir.Tool(
    "exec",
    "Run JavaScript.\n\nFreeform tool: pass its raw input, not JSON, as the `input` string.",
    custom_schema("Run JavaScript.", GRAMMAR),
    ir.ToolKind.CUSTOM,
    {
        "openai_responses": {
            "name": "exec",
            "namespace": "functions",
            "description": "Run JavaScript.",
            "format": GRAMMAR,
        }
    },
)
EXEC_CALL = ir.ToolCall("call_1", "exec", json.dumps({"input": EXEC_JS}, separators=(",", ":")), ir.ToolKind.CUSTOM)


def test_a_codex_request_is_read_into_the_ir() -> None:
    assert parse_request(CODEX_BODY) == ir.Request(
        model="gpt-6.1-sol",
        system=(ir.Text("You are Codex."),),
        messages=(
            ir.Message(ir.Role.USER, (ir.Text("<environment_context/>"), ir.Text("List the files"))),
            ir.Message(ir.Role.ASSISTANT, (ir.Thinking("I should list the files.", CHAT_REASONING), EXEC_CALL)),
            ir.Message(ir.Role.USER, (ir.ToolResult("call_1", (ir.Text("Script completed"), ir.Text("a.txt"))),)),
            ir.Message(ir.Role.ASSISTANT, (ir.Text("One file: a.txt."),)),
            ir.Message(
                ir.Role.USER,
                (
                    ir.Text("<developer>\n<collaboration_mode>Default</collaboration_mode>\n</developer>"),
                    ir.Text("Thanks"),
                ),
            ),
        ),
        tools=(
            EXEC_TOOL,
            ir.Tool(
                "functions__wait",
                "",
                {"type": "object"},
                provider_metadata={"openai_responses": {"name": "wait", "namespace": "functions"}},
            ),
            ir.Tool(
                "clock__wait",
                "",
                {"type": "object"},
                provider_metadata={"openai_responses": {"name": "wait", "namespace": "clock"}},
            ),
        ),
        tool_choice=ir.ToolChoice(ir.ToolChoiceMode.AUTO, None, parallel=False),
        stream=True,
        reasoning=ir.Reasoning(ir.ReasoningMode.ON, 2048, "low"),
        notes=(
            "tools: web_search left out: only OpenAI's own API can run it, and this request goes to a channel that cannot",
        ),
    )


def test_a_codex_request_becomes_the_exact_deepseek_request() -> None:
    body = render_chat(parse_request(CODEX_BODY), QUIRKS["deepseek"])
    assert body["messages"] == [
        {"role": "system", "content": "You are Codex."},
        {"role": "user", "content": "<environment_context/>\n\nList the files"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "I should list the files.",  # its own reasoning goes back to DeepSeek
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "exec", "arguments": json.dumps({"input": EXEC_JS}, separators=(",", ":"))},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Script completed\na.txt"},
        {"role": "assistant", "content": "One file: a.txt."},
        {
            "role": "user",
            "content": "<developer>\n<collaboration_mode>Default</collaboration_mode>\n</developer>\n\nThanks",
        },
    ]
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "exec",
            "description": EXEC_TOOL.description,
            "parameters": {
                "type": "object",
                "properties": {
                    "input": {
                        "type": "string",
                        "description": "The raw input of the tool, as plain text (not JSON). It must match this lark "
                        "grammar:\n" + GRAMMAR["definition"],
                    }
                },
                "required": ["input"],
                "additionalProperties": False,
            },
        },
    }
    assert [t["function"]["name"] for t in body["tools"]] == ["exec", "functions__wait", "clock__wait"]
    assert (body["tool_choice"], body["thinking"], body["reasoning_effort"]) == ("auto", {"type": "enabled"}, "high")


def test_reasoning_goes_back_only_to_the_provider_that_made_it() -> None:
    body = {
        "model": "m",
        "input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": ANTHROPIC_REASONING},
            {
                "type": "reasoning",
                "id": "rs_openai",
                "summary": [{"type": "summary_text", "text": "o"}],
                "encrypted_content": "gAAAA==",
            },
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "no proof"}]},
            {"type": "function_call", "call_id": "call_1", "name": "ls", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
        ],
    }
    request = parse_request(body)
    openai_signature = carrier.make_carrier(OPENAI, "", enc="gAAAA==", rid="rs_openai")
    assert request.messages[1].content == (
        ir.Thinking("Listing.", ANTHROPIC_REASONING),
        ir.Thinking("o", openai_signature),
        ir.ToolCall("call_1", "ls", "{}"),
    )
    anthropic = render_anthropic(request)["messages"][1]["content"]
    assert anthropic[:2] == [
        {"type": "thinking", "thinking": "Listing.", "signature": "EqQBsig=="},
        {"type": "tool_use", "id": "call_1", "name": "ls", "input": {}},
    ]
    chat = render_chat(request, QUIRKS["deepseek"])["messages"][1]
    assert chat["reasoning_content"] == ""  # neither is DeepSeek's own
    responses = render_request(request)["input"][1:3]
    assert responses == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "o"}], "encrypted_content": "gAAAA=="},
        {"type": "function_call", "call_id": "call_1", "name": "ls", "arguments": "{}"},
    ]


def test_an_anthropic_request_becomes_the_exact_responses_request() -> None:
    anthropic = {
        "model": "gpt-5",
        "max_tokens": 2048,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=sdk-cli;"},
            {"type": "text", "text": "You are a helpful agent.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is in the repo?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "Use ls.",
                        "signature": carrier.make_carrier(OPENAI, "gpt-5", enc="gAAAenc", rid="rs_1"),
                    },
                    {"type": "thinking", "thinking": "other", "signature": "EqQBanthropic"},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "pwd"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt", "is_error": False},
                    {"type": "tool_result", "tool_use_id": "toolu_9", "content": "stale"},
                    {"type": "text", "text": "Go on."},
                ],
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            },
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "stop_sequences": ["STOP"],
        "metadata": {"user_id": "session-1"},
        "stream": True,
    }
    user_hash = hashlib.sha256(b"session-1").hexdigest()
    body = render_request(parse_anthropic(anthropic), 4096)
    assert body == {
        "model": "gpt-5",
        "instructions": "You are a helpful agent.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is in the repo?"}]},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Use ls."}],
                "encrypted_content": "gAAAenc",
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}],
            },
            {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": '{"command":"ls"}'},
            {"type": "function_call", "call_id": "toolu_2", "name": "Bash", "arguments": '{"command":"pwd"}'},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "toolu_2", "output": "[tool call was not executed]"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "[result of earlier tool call toolu_9]: stale"},
                    {"type": "input_text", "text": "Go on."},
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "name": "Bash",
                "description": "Run a command",
                "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
                "strict": False,
            }
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "max_output_tokens": 2048,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "safety_identifier": user_hash,
        "prompt_cache_key": user_hash,
        "store": False,
        "stream": True,
    }


def test_a_chat_clients_custom_tool_is_a_custom_tool_on_a_responses_channel() -> None:
    chat = {
        "model": "gpt-5",
        "messages": [
            {"role": "user", "content": "patch it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_p",
                        "type": "function",
                        "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin Patch"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_p", "content": "ok"},
        ],
        "tools": [{"type": "custom", "custom": {"name": "apply_patch", "description": "Edit files"}}],
        "tool_choice": {"type": "function", "function": {"name": "apply_patch"}},
    }
    request = parse_chat(chat)
    body = render_request(request)
    assert body["tools"] == [{"type": "custom", "name": "apply_patch", "description": "Edit files"}]
    assert body["tool_choice"] == {"type": "custom", "name": "apply_patch"}
    assert body["input"][1:] == [
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "ok"},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "hi"}, "model: field required (a non-empty string)"),
        ({"model": "m"}, "input: field required (a string or a list of input items)"),
        ({"model": "m", "input": 5}, "input: must be a string or a list of input items, not a number"),
        (
            {"model": "m", "input": [{"role": "robot", "content": "x"}]},
            "input.0.role: must be user, assistant, system or developer, not 'robot'",
        ),
        (
            {"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
            "input.0.call_id: field required (a string)",
        ),
        (
            {"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]},
            "input.0: item_reference is not supported by this gateway: send the items themselves (or previous_response_id)",
        ),
        (
            {"model": "m", "input": "x", "conversation": "conv_1"},
            "conversation: conversation objects are not supported by this gateway; use previous_response_id",
        ),
        (
            {"model": "m", "input": "x", "background": True},
            "background: background responses are not supported by this gateway",
        ),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream: must be a boolean"),
        ({"model": "m", "input": "x", "tools": {}}, "tools: must be a list, not an object"),
        ({"model": "m", "input": "x", "previous_response_id": 7}, "previous_response_id: must be a non-empty string"),
    ],
)
def test_bodies_no_channel_should_be_sent_are_refused_naming_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(body)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            {"type": "input_image", "file_id": "file_1"},
            "input.0.content.0.image_url: files uploaded to OpenAI (file_id) is not supported by this gateway",
        ),
        ({"type": "input_audio"}, "input.0.content.0.type: unsupported content part 'input_audio'"),
        ({"type": "input_text"}, "input.0.content.0.text: field required (a string)"),
    ],
)
def test_content_no_other_channel_can_take_is_refused_when_translating(part: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request({"model": "m", "input": [{"role": "user", "content": [part]}]})
    assert info.value.message == message


def test_images_and_files_become_ir_blocks() -> None:
    content = [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "high"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
        {"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
        {"type": "input_file", "filename": "notes.txt", "file_data": "data:text/plain;base64,aGkg4piD"},
    ]
    request = parse_request({"model": "m", "input": [{"role": "user", "content": content}]})
    assert request.messages[0].content == (
        ir.Image(ir.SourceKind.BASE64, "iVBOR", "image/png"),
        ir.Image(ir.SourceKind.URL, "https://example.com/cat.png"),
        ir.Document(ir.SourceKind.BASE64, "JVBERi0=", "application/pdf", "spec.pdf"),
        ir.Document(ir.SourceKind.TEXT, "hi ☃", "text/plain", "notes.txt"),
    )


# ------------------------------------------------------------------------------------- previous_response_id


def test_a_continued_request_gets_the_remembered_conversation_in_front_of_its_input() -> None:
    first = {"model": "m", "input": "What is 2+2?", "instructions": "Be terse."}
    answer = {
        "id": "resp_1",
        "status": "completed",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "4"}]}],
    }
    kept = conversation.remember(first, answer)
    assert kept == (
        "resp_1",
        (
            {"type": "message", "role": "user", "content": "What is 2+2?"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "4"}]},
        ),
    )
    second = {"model": "m", "previous_response_id": "resp_1", "input": [{"role": "user", "content": "And 3+3?"}]}
    assert conversation.previous(second) == "resp_1"
    assert conversation.splice(second, kept[1]) == {
        "model": "m",
        "input": [*kept[1], {"role": "user", "content": "And 3+3?"}],  # instructions are not carried over
    }


def test_answers_asked_not_to_be_stored_or_unfinished_are_not_remembered() -> None:
    answer = {"id": "resp_1", "status": "completed", "output": []}
    assert conversation.remember({"model": "m", "input": "x", "store": False}, answer) is None
    assert conversation.witness({"store": False}) is None
    assert conversation.remember({"model": "m", "input": "x"}, {**answer, "status": "failed"}) is None


def test_an_unknown_previous_response_is_openais_own_400() -> None:
    err = conversation.unknown("resp_nope")
    assert isinstance(err, UpstreamError)
    assert (err.status, err.body_format) == (400, "openai_responses")
    assert json.loads(err.body or b"") == {
        "error": {
            "message": "Previous response with id 'resp_nope' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }


def mutations(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """`value` with some of its parts replaced by values of the wrong JSON type."""
    wrong = [None, 0, -1, 1.5, True, "", "x", [], {}, [{}], {"type": {}}, {"role": []}]
    if depth > 4 or (depth and rng.random() < 0.1):
        return rng.choice(wrong)
    if isinstance(value, dict):
        return {k: mutations(v, rng, depth + 1) if rng.random() < 0.3 else v for k, v in value.items()}
    if isinstance(value, list):
        return [mutations(v, rng, depth + 1) if rng.random() < 0.3 else v for v in value]
    return value


def test_a_thousand_mutated_codex_bodies_are_read_or_refused_by_name_never_a_crash() -> None:
    rng = random.Random(9)
    for _ in range(1000):
        body = mutations(CODEX_BODY, rng)
        try:
            request = parse_request(body)
        except InvalidRequest as err:
            assert err.message.split(":")[0].replace(".", "").replace("_", "").isalnum(), err.message
            continue
        render_request(request)
        render_chat(request, QUIRKS["deepseek"])
        render_anthropic(request)


@pytest.mark.parametrize(
    ("model", "reasons"), [("gpt-4.1", False), ("gpt-4o-mini", False), ("o3", True), ("gpt-5", True)]
)
def test_a_model_that_does_not_reason_gets_no_reasoning_fields_or_items(model: str, reasons: bool) -> None:
    openai_signature = carrier.make_carrier(OPENAI, "", enc="gAAAA==", rid="rs_openai")
    request = ir.Request(
        model=model,
        messages=(
            ir.Message(ir.Role.USER, (ir.Text("ls?"),)),
            ir.Message(ir.Role.ASSISTANT, (ir.Thinking("o", openai_signature), ir.ToolCall("call_1", "ls", "{}"))),
            ir.Message(ir.Role.USER, (ir.ToolResult("call_1", (ir.Text("a.txt"),)),)),
        ),
        reasoning=ir.Reasoning(ir.ReasoningMode.ON, 8192, "medium"),
    )
    body = render_request(request)
    kinds = [item["type"] for item in body["input"]]
    if reasons:
        assert (body["reasoning"], body["include"]) == (
            {"effort": "medium", "summary": "auto"},
            ["reasoning.encrypted_content"],
        )
        assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    else:
        assert "reasoning" not in body and "include" not in body
        assert kinds == ["message", "function_call", "function_call_output"]
