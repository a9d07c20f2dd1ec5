"""OpenAI Responses requests: the checks at the boundary, and a client's body read into the IR.

`check_request` is what every request must pass before a channel is chosen, the fast path included
(which forwards the body without reading it further): the shape of `input`, `tools` and the fields
the gateway reads, and the server-side features it cannot offer (`conversation`, `background`, stored
`prompt` templates).

`parse_request` reads what Codex and the openai SDK send: `instructions`; `input` as a string or a
list of items (messages of every role with text, images and files; `function_call` /
`function_call_output`; `custom_tool_call` / `custom_tool_call_output`; `reasoning` with its
`encrypted_content`; Codex's `additional_tools` item); function, custom and namespaced tools;
`tool_choice`, `parallel_tool_calls`, `reasoning`, `text.format`, `max_output_tokens`, sampling. A run
of assistant-side items (reasoning, messages, calls) becomes one assistant turn; a run of outputs
one user turn, results first. Developer and system messages before the conversation form the system
prompt; later ones are kept in place as user text. Settings with no IR meaning (`store`, `include`,
`prompt_cache_key`, `client_metadata`, `truncation`, `text.verbosity`, …) are dropped, as are hosted
items and tools only OpenAI can run (noted for the trace).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.openai_responses import reasoning
from axonhub.formats.openai_responses.tools import ToolNames, parse_tool_choice, parse_tools
from axonhub.formats.tool_calls import stable_arguments, stable_json
from axonhub.jsonbody import json_type

_DATA_URL = re.compile(r"^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$", re.DOTALL)
_SYSTEM_ROLES = frozenset({"system", "developer"})
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_ASSISTANT_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call"})
_OUTPUT_ITEMS = frozenset({"function_call_output", "custom_tool_call_output"})
# items of server-side state or hosted tools: meaningless to any other channel
_HOSTED_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "compaction",
        "tool_search_call",
        "tool_search_output",
    }
)
NOT_SUPPORTED = "is not supported by this gateway"


# ------------------------------------------------------------------------------------- check


def check_request(body: Mapping[str, Any]) -> None:
    """Raise InvalidRequest, naming the field, for a body no channel should be sent."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("model: field required (a non-empty string)")
    value = body.get("input")
    if value is None and body.get("previous_response_id") is None:
        raise InvalidRequest("input: field required (a string or a list of input items)")
    if value is not None and not isinstance(value, str | list):
        raise InvalidRequest(f"input: must be a string or a list of input items, not {json_type(value)}")
    for i, item in enumerate(value if isinstance(value, list) else []):
        _check_item(item, f"input.{i}")
    for name, kind in (("stream", bool), ("store", bool), ("parallel_tool_calls", bool), ("instructions", str)):
        if body.get(name) is not None and not isinstance(body[name], kind):
            raise InvalidRequest(f"{name}: must be a {'boolean' if kind is bool else 'string'}")
    for name in ("tools", "include"):
        if body.get(name) is not None and not isinstance(body[name], list):
            raise InvalidRequest(f"{name}: must be a list, not {json_type(body[name])}")
    for name in ("reasoning", "text"):
        if body.get(name) is not None and not isinstance(body[name], Mapping):
            raise InvalidRequest(f"{name}: must be an object, not {json_type(body[name])}")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise InvalidRequest("previous_response_id: must be a non-empty string")
    _refuse_server_state(body)


def _check_item(item: Any, where: str) -> None:
    if not isinstance(item, Mapping):
        raise InvalidRequest(f"{where}: must be an object, not {json_type(item)}")
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{where}.type: must be a string")
    if kind == "message":
        role = item.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(f"{where}.role: must be user, assistant, system or developer, not {_shown(role)}")
        if not isinstance(item.get("content"), str | list):
            raise InvalidRequest(f"{where}.content: field required (a string or a list of content parts)")
    elif kind in ("function_call", "custom_tool_call", *_OUTPUT_ITEMS):
        if not isinstance(item.get("call_id"), str):
            raise InvalidRequest(f"{where}.call_id: field required (a string)")
    elif kind == "item_reference":
        raise InvalidRequest(
            f"{where}: item_reference {NOT_SUPPORTED}: send the items themselves (or previous_response_id)"
        )


def _refuse_server_state(body: Mapping[str, Any]) -> None:
    if body.get("conversation") is not None:
        raise InvalidRequest(f"conversation: conversation objects are {NOT_SUPPORTED[3:]}; use previous_response_id")
    if body.get("background") is True:
        raise InvalidRequest(f"background: background responses are {NOT_SUPPORTED[3:]}")
    if body.get("prompt") is not None:
        raise InvalidRequest(f"prompt: stored prompt templates are {NOT_SUPPORTED[3:]}")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) and len(value) <= 40 else json_type(value)


# ------------------------------------------------------------------------------------- parse


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    """A Responses client's body as the IR (checked by `check_request` first)."""
    check_request(body)
    items = _input_items(body.get("input"))
    tool_groups: list[tuple[Sequence[Any], str]] = [(body.get("tools") or [], "tools")]
    for i, item in enumerate(items):
        if item.get("type") == "additional_tools" and isinstance(item.get("tools"), list):
            tool_groups.append((item["tools"], f"input.{i}.tools"))
    tools, notes = parse_tools(tool_groups)
    names = ToolNames(tools)
    system = [ir.Text(body["instructions"])] if str(body.get("instructions") or "").strip() else []
    conversation = _Conversation(names)
    for i, item in enumerate(items):
        conversation.add(item, f"input.{i}", system)
    return ir.Request(
        model=str(body["model"]),
        messages=conversation.messages(),
        system=tuple(system),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), names),
        max_output_tokens=_count(body, "max_output_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stream=body.get("stream") is True,
        reasoning=_reasoning(body.get("reasoning")),
        response_format=_response_format(body.get("text")),
        user_id=_user_id(body),
        notes=notes + tuple(conversation.notes),
    )


def _input_items(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


class _Conversation:
    """Walks the input items once, collecting IR turns: assistant-side runs into one turn, outputs into one."""

    def __init__(self, names: ToolNames) -> None:
        self._names = names
        self._turns: list[tuple[ir.Role, list[ir.Block]]] = []
        self._started = False  # a user or assistant item came: later system messages stay in place
        self.notes: list[str] = []

    def add(self, item: Mapping[str, Any], where: str, system: list[ir.Text]) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item, where, system)
        elif kind in _ASSISTANT_ITEMS:
            block = self._assistant_item(item, str(kind), where)
            if block is not None:
                self._append(ir.Role.ASSISTANT, [block])
        elif kind in _OUTPUT_ITEMS:
            self._append(ir.Role.USER, [_result(item, where)])
        elif kind in _HOSTED_ITEMS:
            note = f"input: {kind} items left out: they belong to OpenAI's server-side tools"
            if note not in self.notes:
                self.notes.append(note)
        elif kind != "additional_tools":
            raise InvalidRequest(f"{where}.type: unsupported input item type {_shown(kind)}")

    def messages(self) -> tuple[ir.Message, ...]:
        out: list[ir.Message] = []
        for role, blocks in self._turns:
            if role is ir.Role.USER:  # tool results first, as every channel wants them
                blocks = sorted(blocks, key=lambda b: not isinstance(b, ir.ToolResult))
            if blocks:
                out.append(ir.Message(role, tuple(blocks)))
        return tuple(out)

    def _append(self, role: ir.Role, blocks: list[ir.Block]) -> None:
        self._started = True
        if not blocks:
            return
        if self._turns and self._turns[-1][0] is role:
            self._turns[-1][1].extend(blocks)
        else:
            self._turns.append((role, list(blocks)))

    def _message(self, item: Mapping[str, Any], where: str, system: list[ir.Text]) -> None:
        role = item.get("role")
        content = item.get("content")
        if role in _SYSTEM_ROLES:
            text = _text_of(content, f"{where}.content")
            if not text.strip():
                return
            if not self._started:
                system.append(ir.Text(text))
            else:
                self._append(ir.Role.USER, [ir.Text(f"<{role}>\n{text}\n</{role}>")])
            return
        if role == "assistant":
            self._append(ir.Role.ASSISTANT, [ir.Text(t) for t in _assistant_texts(content, f"{where}.content")])
            return
        self._append(ir.Role.USER, list(_user_parts(content, f"{where}.content")))

    def _assistant_item(self, item: Mapping[str, Any], kind: str, where: str) -> ir.Block | None:
        if kind == "reasoning":
            return reasoning.unseal(item)
        namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name: field required (a non-empty string)")
        ir_name = self._names.ir_name(name, namespace)
        if kind == "custom_tool_call":
            text = item.get("input")
            if not isinstance(text, str):
                raise InvalidRequest(f"{where}.input: field required (a string)")
            return ir.ToolCall(str(item["call_id"]), ir_name, stable_json({"input": text}), ir.ToolKind.CUSTOM)
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            raise InvalidRequest(f"{where}.arguments: field required (a JSON string)")
        return ir.ToolCall(str(item["call_id"]), ir_name, stable_arguments(arguments))


def _result(item: Mapping[str, Any], where: str) -> ir.ToolResult:
    output = item.get("output")
    at = f"{where}.output"
    if isinstance(output, str):
        return ir.ToolResult(str(item["call_id"]), (ir.Text(output),) if output else ())
    if not isinstance(output, list):
        raise InvalidRequest(f"{at}: must be a string or a list of content parts, not {json_type(output)}")
    parts = [p for p in _user_parts(output, at) if isinstance(p, ir.Text | ir.Image | ir.Document)]
    return ir.ToolResult(str(item["call_id"]), tuple(parts))


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    return "\n\n".join(b.text for b in _user_parts(content, where) if isinstance(b, ir.Text))


def _assistant_texts(content: Any, where: str) -> list[str]:
    if isinstance(content, str):
        return [content] if content.strip() else []
    texts = []
    for i, part in enumerate(content):
        if not isinstance(part, Mapping):
            raise InvalidRequest(f"{where}.{i}: must be an object, not {json_type(part)}")
        text = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
        if isinstance(text, str) and text.strip():
            texts.append(text)
    return texts


def _user_parts(content: Any, where: str) -> tuple[ir.Block, ...]:
    if isinstance(content, str):
        return (ir.Text(content),) if content.strip() else ()
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: must be a string or a list of content parts, not {json_type(content)}")
    blocks: list[ir.Block] = []
    for i, part in enumerate(content):
        block = _part(part, f"{where}.{i}")
        if block is not None:
            blocks.append(block)
    return tuple(blocks)


def _part(part: Any, where: str) -> ir.Block | None:
    if not isinstance(part, Mapping):
        raise InvalidRequest(f"{where}: must be an object, not {json_type(part)}")
    match part.get("type"):
        case "input_text" | "output_text" | "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest(f"{where}.text: field required (a string)")
            return ir.Text(text) if text.strip() else None
        case "input_image":
            return _image(part, where)
        case "input_file":
            return _file(part, where)
        case "refusal":
            refusal = part.get("refusal")
            return ir.Text(refusal) if isinstance(refusal, str) and refusal.strip() else None
        case other:
            raise InvalidRequest(f"{where}.type: unsupported content part {_shown(other)}")


def _image(part: Mapping[str, Any], where: str) -> ir.Image:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        what = "files uploaded to OpenAI (file_id) " + NOT_SUPPORTED if part.get("file_id") else "field required"
        raise InvalidRequest(f"{where}.image_url: {what}")
    inline = _DATA_URL.match(url)
    if inline:
        return ir.Image(ir.SourceKind.BASE64, inline.group(2), inline.group(1) or "image/png")
    return ir.Image(ir.SourceKind.URL, url)


def _file(part: Mapping[str, Any], where: str) -> ir.Document:
    title = part.get("filename") if isinstance(part.get("filename"), str) else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str):
        inline = _DATA_URL.match(data)
        media_type = (inline.group(1) if inline else None) or "application/pdf"
        payload = inline.group(2) if inline else data
        if media_type.startswith("text/"):
            return ir.Document(ir.SourceKind.TEXT, _decoded(payload, where), media_type, title)
        return ir.Document(ir.SourceKind.BASE64, payload, media_type, title)
    if isinstance(url, str) and url:
        return ir.Document(ir.SourceKind.URL, url, "application/pdf", title)
    what = "files uploaded to OpenAI (file_id) " + NOT_SUPPORTED if part.get("file_id") else "field required"
    raise InvalidRequest(f"{where}.file_data: {what}")


def _decoded(payload: str, where: str) -> str:
    try:
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(f"{where}.file_data: not valid base64 UTF-8 text") from None


def _count(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"{name}: must be a positive integer")
    return value


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRequest(f"{name}: must be a number, not {json_type(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidRequest(f"{name}: must be a finite number")
    return number


def _reasoning(raw: Any) -> ir.Reasoning:
    if not isinstance(raw, Mapping):
        return ir.Reasoning()
    effort = raw.get("effort")  # `summary` has no counterpart: other providers' reasoning is shown as it comes
    if not isinstance(effort, str):
        return ir.Reasoning()
    if effort == "none":
        return ir.Reasoning(ir.ReasoningMode.OFF)
    return ir.Reasoning(ir.ReasoningMode.ON, ir.effort_budget(effort), effort)


def _response_format(text: Any) -> ir.ResponseFormat | None:
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping):
        return None
    match fmt.get("type"):
        case "json_object":
            return ir.ResponseFormat(ir.ResponseFormatKind.JSON_OBJECT)
        case "json_schema":
            schema = fmt.get("schema")
            if not isinstance(schema, Mapping):
                raise InvalidRequest("text.format.schema: field required (a JSON schema object)")
            name = str(fmt.get("name") or "output")
            return ir.ResponseFormat(ir.ResponseFormatKind.JSON_SCHEMA, schema, name, fmt.get("strict") is not False)
    return None


def _user_id(body: Mapping[str, Any]) -> str | None:
    for key in ("safety_identifier", "user"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    return None
