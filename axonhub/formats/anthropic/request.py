"""Anthropic Messages requests to and from the IR, and the checks at the boundary.

`check_messages` / `check_count_tokens` are what every request must pass before a channel is
chosen, also on the fast path, which forwards the body without parsing it further; `parse_request`
runs the same check first.

`parse_request` accepts what Claude Code really sends: system as a string or blocks, `role:"system"`
turns inside `messages` (hoisted into the system prompt), tool results with string or block content,
images, documents, thinking, server tools, cache_control (kept as block metadata), output_config
and the three thinking modes. Empty and whitespace-only text is dropped; consecutive turns of one
role are merged, as the Anthropic API itself does. Anthropic-only settings with no IR meaning
(context_management, container, mcp_servers, service_tier, …) are dropped. Anything of the wrong
shape (a wrong JSON type, a missing required field, a block or choice type with no IR meaning) is an
InvalidRequest that names the field, never a crash further down.

`render_request` builds an Anthropic body from the IR for an Anthropic upstream serving a client of
another format: from an allow-list, with thinking signatures of other providers removed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, assert_never, overload

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats import carrier
from axonhub.formats.anthropic import generations
from axonhub.formats.anthropic.generations import MIN_THINKING_BUDGET
from axonhub.formats.tool_calls import anthropic_tool_id, parse_arguments, stable_json
from axonhub.jsonbody import json_type

# Room for the answer above a thinking budget that would otherwise take all of max_tokens.
ANSWER_ROOM = 8192
# max_tokens for a client that sent none (an OpenAI client may omit it; Anthropic requires it): the
# channel's `max_output_tokens` when set, else the model's own output limit below, else this,
# which every Claude model accepts.
DEFAULT_MAX_TOKENS = 4096
# Output token limits of Claude models, by id prefix; the first match wins. A client's max_tokens
# above its model's limit is lowered to it.
OUTPUT_LIMITS: tuple[tuple[str, int], ...] = (
    ("claude-3-haiku", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-5-haiku", 8192),
    ("claude-3-5-sonnet", 8192),
    ("claude-3-7-sonnet", 64000),
    ("claude-opus-4-0", 32000),
    ("claude-opus-4-1", 32000),
    ("claude-opus-4-2025", 32000),
    ("claude-opus-4", 64000),
    ("claude-sonnet-4", 64000),
    ("claude-haiku-4", 64000),
    ("claude-sonnet-5", 64000),
    ("claude-opus-5", 64000),
)
ANTHROPIC = "anthropic"
_METADATA_KEYS = ("cache_control",)
_SERVER_BLOCK_TYPES = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
        "mcp_tool_use",
        "mcp_tool_result",
    }
)


# ------------------------------------------------------------------------------------- parse
#
# Parsing validates as it reads. A value of the wrong JSON type, a missing required field, or a block
# or choice type that has no IR meaning is an InvalidRequest naming the field the way Anthropic does
# (`messages.2.content.0.input: must be an object, not a string`), never a KeyError or a TypeError
# further down the transform path. An optional field may be null, which counts as absent.

_OPAQUE_BLOCK_TYPES = _SERVER_BLOCK_TYPES | {"tool_reference"}
_BLOCK_TYPES = "text, image, document, search_result, tool_use, tool_result, thinking, redacted_thinking"
_RESULT_BLOCK_TYPES = frozenset({"text", "image", "document", "search_result", "tool_reference"})
_TOOL_CHOICE_MODES = {
    "auto": ir.ToolChoiceMode.AUTO,
    "any": ir.ToolChoiceMode.ANY,
    "tool": ir.ToolChoiceMode.TOOL,
    "none": ir.ToolChoiceMode.NONE,
}


def check_messages(body: Mapping[str, Any]) -> None:
    """The fields Anthropic itself requires of a Messages request, with Anthropic-like messages."""
    check_count_tokens(body)
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise InvalidRequest("max_tokens: field required (a non-negative integer)")


def check_count_tokens(body: Mapping[str, Any]) -> None:
    """A count_tokens request: the Messages checks but for `max_tokens`, which it does not take."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("model: field required (a non-empty string)")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: field required (a list of messages)")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages.{i}: must be an object, not {json_type(message)}")
        if "role" not in message or "content" not in message:
            raise InvalidRequest(f"messages.{i}: each message needs `role` and `content`")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: must be a boolean")


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    check_count_tokens(body)
    system = _parse_system(body.get("system"), "system")
    messages: list[ir.Message] = []
    for i, value in enumerate(_list(body.get("messages"), "messages")):
        where = f"messages.{i}"
        raw = _object(value, where)
        role = _required(raw, "role", where)
        if role == "system":
            system += _parse_system(_required(raw, "content", where), f"{where}.content")
            continue
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: must be user, assistant or system, not {_shown(role)}")
        content = _parse_content(_required(raw, "content", where), f"{where}.content")
        if content:
            messages.append(ir.Message(ir.Role(role), content))
    output_config = _optional_object(body, "output_config", "")
    return ir.Request(
        model=_str(body, "model", "", required=False) or "",
        messages=_merge_turns(messages),
        system=tuple(system),
        tools=tuple(_parse_tool(t, f"tools.{i}") for i, t in enumerate(_list(body.get("tools"), "tools"))),
        tool_choice=_parse_tool_choice(body.get("tool_choice")),
        max_output_tokens=_int(body, "max_tokens", ""),
        temperature=_number(body, "temperature", ""),
        top_p=_number(body, "top_p", ""),
        top_k=_int(body, "top_k", ""),
        stop=_parse_stop(body.get("stop_sequences")),
        stream=_bool(body, "stream", "") is True,
        reasoning=_parse_reasoning(body.get("thinking"), output_config),
        response_format=_parse_format(output_config),
        user_id=_user_id(_optional_object(body, "metadata", "")),
        provider_metadata=_metadata(body, ""),
    )


def _at(where: str, key: str | int) -> str:
    return f"{where}.{key}" if where else str(key)


def _shown(value: Any) -> str:
    """A wrong value in a message: a short string quoted, anything else by its JSON type."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    return json_type(value)


def _wrong(where: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(f"{where}: must be {expected}, not {json_type(value)}")


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise InvalidRequest(f"{_at(where, key)}: field required")
    return raw[key]


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # a parsed body holds dicts: no ABC check
        raise _wrong(where, "an object", value)
    return value


def _optional_object(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = raw.get(key)
    if value is None or type(value) is dict:
        return value
    return _object(value, _at(where, key))


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(where, "a list", value)
    return value


@overload
def _str(raw: Mapping[str, Any], key: str, where: str) -> str: ...
@overload
def _str(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None: ...
def _str(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """A string field; a missing required one is `field required`, a missing optional one None."""
    value = _required(raw, key, where) if required else raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _wrong(_at(where, key), "a string", value)
    return value


def _int(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> int | None:
    value = _required(raw, key, where) if required else raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(_at(where, key), "an integer", value)
    return value


def _number(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _wrong(_at(where, key), "a number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = math.inf
    if not math.isfinite(number):
        raise InvalidRequest(f"{_at(where, key)}: must be a finite number")
    return number


def _bool(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _wrong(_at(where, key), "a boolean", value)
    return value


def _metadata(raw: Mapping[str, Any], where: str) -> ir.Metadata:
    kept = {k: _object(raw[k], _at(where, k)) for k in _METADATA_KEYS if raw.get(k) is not None}
    return kept if kept else ir.NO_METADATA


def _user_id(metadata: Mapping[str, Any] | None) -> str | None:
    user_id = _str(metadata, "user_id", "metadata", required=False) if metadata is not None else None
    return user_id or None


def _parse_stop(value: Any) -> tuple[str, ...]:
    if value is not None and not isinstance(value, list):
        raise _wrong("stop_sequences", "a list of strings", value)
    stops = _list(value, "stop_sequences")
    for i, stop in enumerate(stops):
        if not isinstance(stop, str):
            raise _wrong(f"stop_sequences.{i}", "a string", stop)
    return tuple(s for s in stops if s)


def _parse_system(value: Any, where: str) -> list[ir.Text]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.Text(value)] if value.strip() else []
    if not isinstance(value, list):
        raise _wrong(where, "a string or a list of text blocks", value)
    texts: list[ir.Text] = []
    for i, item in enumerate(value):
        at = f"{where}.{i}"
        block = _object(item, at)
        kind = _str(block, "type", at)
        if kind == "text":
            text = _str(block, "text", at)
        elif kind == "mid_conv_system":
            text = _str(block, "text" if "text" in block else "content", at)
        else:
            raise InvalidRequest(f"{at}.type: a system prompt holds text blocks, not {_shown(kind)}")
        if text.strip():
            texts.append(ir.Text(text, _metadata(block, at)))
    return texts


def _merge_turns(messages: list[ir.Message]) -> tuple[ir.Message, ...]:
    merged: list[ir.Message] = []
    for message in messages:
        if merged and merged[-1].role is message.role:
            merged[-1] = ir.Message(message.role, merged[-1].content + message.content)
        else:
            merged.append(message)
    return tuple(merged)


def _parse_content(value: Any, where: str) -> tuple[ir.Block, ...]:
    if isinstance(value, str):
        return (ir.Text(value),) if value.strip() else ()
    if not isinstance(value, list):
        raise _wrong(where, "a string or a list of content blocks", value)
    blocks: list[ir.Block] = []
    for i, raw in enumerate(value):
        block = _parse_block(_object(raw, f"{where}.{i}"), f"{where}.{i}")
        if block is not None:
            blocks.append(block)
    return tuple(blocks)


def _parse_block(raw: Mapping[str, Any], where: str) -> ir.Block | None:
    kind = _str(raw, "type", where)
    meta = _metadata(raw, where)
    match kind:
        case "text":
            text = _str(raw, "text", where)
            return ir.Text(text, meta) if text.strip() else None
        case "image":
            return _parse_image(_object(_required(raw, "source", where), f"{where}.source"), meta, f"{where}.source")
        case "document":
            return _parse_document(raw, meta, where)
        case "search_result":
            return _parse_search_result(raw, meta, where)
        case "tool_use":
            return ir.ToolCall(
                id=_str(raw, "id", where),
                name=_str(raw, "name", where),
                args_json=stable_json(_object(_required(raw, "input", where), f"{where}.input")),
                provider_metadata=meta,
            )
        case "tool_result":
            return ir.ToolResult(
                call_id=_str(raw, "tool_use_id", where),
                content=_parse_result_content(raw.get("content"), f"{where}.content"),
                is_error=_bool(raw, "is_error", where) is True,
                provider_metadata=meta,
            )
        case "thinking":
            return ir.Thinking(_str(raw, "thinking", where), _str(raw, "signature", where, required=False))
        case "redacted_thinking":
            return ir.RedactedThinking(_str(raw, "data", where))
        case _ if kind in _OPAQUE_BLOCK_TYPES:
            return ir.Opaque(ANTHROPIC, dict(raw))
    raise InvalidRequest(f"{where}.type: unknown content block type {_shown(kind)} (expected {_BLOCK_TYPES})")


def _parse_image(source: Mapping[str, Any], meta: ir.Metadata, where: str) -> ir.Image:
    match _str(source, "type", where):
        case "base64":
            media_type = _str(source, "media_type", where, required=False) or ""
            return ir.Image(ir.SourceKind.BASE64, _str(source, "data", where), media_type, meta)
        case "url":
            return ir.Image(ir.SourceKind.URL, _str(source, "url", where), "", meta)
        case other:
            raise InvalidRequest(f"{where}.type: must be base64 or url, not {_shown(other)}")


def _parse_document(raw: Mapping[str, Any], meta: ir.Metadata, where: str) -> ir.Document:
    title = _str(raw, "title", where, required=False)
    context = _str(raw, "context", where, required=False)
    at = f"{where}.source"
    source = _object(_required(raw, "source", where), at)
    media_type = _str(source, "media_type", at, required=False) or ""
    match _str(source, "type", at):
        case "base64":
            kind, data = ir.SourceKind.BASE64, _str(source, "data", at)
        case "url":
            kind, data = ir.SourceKind.URL, _str(source, "url", at)
        case "text":
            kind, data = ir.SourceKind.TEXT, _str(source, "data", at)
        case "content":
            content = _joined_text(_required(source, "content", at), f"{at}.content")
            kind, data, media_type = ir.SourceKind.TEXT, content, "text/plain"
        case other:
            raise InvalidRequest(f"{at}.type: must be base64, url, text or content, not {_shown(other)}")
    return ir.Document(kind, data, media_type, title, context, meta)


def _parse_search_result(raw: Mapping[str, Any], meta: ir.Metadata, where: str) -> ir.Document:
    title = _str(raw, "title", where, required=False)
    source = _str(raw, "source", where, required=False)
    content = _joined_text(_required(raw, "content", where), f"{where}.content")
    return ir.Document(ir.SourceKind.TEXT, content, "text/plain", title, source, meta)


def _joined_text(content: Any, where: str) -> str:
    """The text of a string, or of the text blocks in a list of blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _wrong(where, "a string or a list of content blocks", content)
    texts: list[str] = []
    for i, item in enumerate(content):
        at = f"{where}.{i}"
        block = _object(item, at)
        if _str(block, "type", at) == "text":
            texts.append(_str(block, "text", at))
    return "\n".join(texts)


def _parse_result_content(value: Any, where: str) -> tuple[ir.Text | ir.Image | ir.Document, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        for i, item in enumerate(value):
            kind = _object(item, f"{where}.{i}").get("type")
            if isinstance(kind, str) and kind not in _RESULT_BLOCK_TYPES:
                raise InvalidRequest(
                    f"{where}.{i}.type: a tool_result holds text, image, document, search_result or "
                    f"tool_reference blocks, not {_shown(kind)}"
                )
    parts: list[ir.Text | ir.Image | ir.Document] = []
    for block in _parse_content(value, where):
        match block:
            case ir.Text() | ir.Image() | ir.Document():
                parts.append(block)
            case ir.Opaque(raw=raw):  # a tool_reference: the one opaque block a result may hold
                parts.append(ir.Text(f"[tool reference: {raw.get('tool_name', '')}]"))
            case _:  # excluded above
                raise AssertionError(f"{block!r} in a tool_result")
    return tuple(parts)


def _parse_tool(value: Any, where: str) -> ir.Tool:
    raw = _object(value, where)
    tool_type = _str(raw, "type", where, required=False)
    if tool_type not in (None, "custom"):  # a server tool (web_search_…, bash_…): kept whole for Anthropic
        name = _str(raw, "name", where, required=False)
        return ir.Tool(name or tool_type, kind=ir.ToolKind.SERVER, provider_metadata={ANTHROPIC: raw})
    name = _str(raw, "name", where)
    if not name:
        raise InvalidRequest(f"{where}.name: must not be empty")
    schema = _object(_required(raw, "input_schema", where), f"{where}.input_schema")
    meta: dict[str, Any] = dict(_metadata(raw, where))
    strict = _bool(raw, "strict", where)
    if strict is not None:
        meta["strict"] = strict
    return ir.Tool(
        name=name,
        description=_str(raw, "description", where, required=False) or "",
        json_schema=schema,
        provider_metadata=meta or ir.NO_METADATA,
    )


def _parse_tool_choice(value: Any) -> ir.ToolChoice | None:
    if value is None:
        return None
    raw = _object(value, "tool_choice")
    kind = _str(raw, "type", "tool_choice")
    mode = _TOOL_CHOICE_MODES.get(kind)
    if mode is None:
        raise InvalidRequest(f"tool_choice.type: must be auto, any, tool or none, not {_shown(kind)}")
    name = _str(raw, "name", "tool_choice") if mode is ir.ToolChoiceMode.TOOL else None
    return ir.ToolChoice(mode, name, parallel=_bool(raw, "disable_parallel_tool_use", "tool_choice") is not True)


def _parse_reasoning(value: Any, output_config: Mapping[str, Any] | None) -> ir.Reasoning:
    effort = _str(output_config, "effort", "output_config", required=False) if output_config else None
    if value is None:
        return ir.Reasoning(effort=effort)
    thinking = _object(value, "thinking")
    kind = _str(thinking, "type", "thinking")
    display = _str(thinking, "display", "thinking", required=False)
    match kind:
        case "enabled":
            budget = _int(thinking, "budget_tokens", "thinking", required=True)
            return ir.Reasoning(ir.ReasoningMode.ON, budget, effort, display)
        case "adaptive":
            return ir.Reasoning(ir.ReasoningMode.ADAPTIVE, None, effort, display)
        case "disabled":
            return ir.Reasoning(ir.ReasoningMode.OFF, None, effort)
    raise InvalidRequest(f"thinking.type: must be enabled, adaptive or disabled, not {_shown(kind)}")


def _parse_format(output_config: Mapping[str, Any] | None) -> ir.ResponseFormat | None:
    fmt = _optional_object(output_config, "format", "output_config") if output_config else None
    if fmt is None:
        return None
    schema = _optional_object(fmt, "schema", "output_config.format")
    return ir.ResponseFormat(ir.ResponseFormatKind.JSON_SCHEMA, schema)


# ------------------------------------------------------------------------------------- render


def render_request(request: ir.Request, max_output_tokens: int | None = None) -> dict[str, Any]:
    """An Anthropic Messages body for `request`; `max_output_tokens` caps `max_tokens`."""
    max_tokens = _max_tokens(request.max_output_tokens, max_output_tokens, request.model)
    messages = _paired(_without_foreign_thinking(request.messages))
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "messages": _messages(messages)}
    if request.system:
        body["system"] = [_text(t) for t in request.system]
    body.update(_tools(request))
    body.update(_sampling(request))
    if request.user_id:
        body["metadata"] = {"user_id": request.user_id}
    reasoning = _reasoning(request)
    body.update(_thinking(reasoning, messages, body["max_tokens"], max_output_tokens))
    output_config = _output_config(request, reasoning)
    if output_config:
        body["output_config"] = output_config
    if request.stream:
        body["stream"] = True
    return body


# What Anthropic's count_tokens takes of a Messages body.
_COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def render_count_request(request: ir.Request, max_output_tokens: int | None = None) -> dict[str, Any]:
    """A count_tokens body for `request`: the Messages body it would be, without what counting ignores."""
    body = render_request(replace(request, stream=False), max_output_tokens)
    return {key: body[key] for key in _COUNT_FIELDS if key in body}


def output_limit(model: str) -> int | None:
    """The known output token limit of a Claude model; None for a model this table does not know."""
    return next((limit for prefix, limit in OUTPUT_LIMITS if model.startswith(prefix)), None)


def _max_tokens(wanted: int | None, cap: int | None, model: str) -> int:
    """The client's max_tokens within the channel's cap and the model's limit; a default when it sent none."""
    limits = [c for c in (cap, output_limit(model)) if c]
    if wanted is None:
        return limits[0] if limits else DEFAULT_MAX_TOKENS
    return min([wanted, *limits])


def _sampling(request: ir.Request) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)
    elif request.top_p is not None:  # newer Claude models reject temperature and top_p together
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    return body


def _tools(request: ir.Request) -> dict[str, Any]:
    tools = [_tool(t) for t in request.tools]
    body: dict[str, Any] = {"tools": tools} if tools else {}
    choice = request.tool_choice
    if tools and choice is not None:
        rendered: dict[str, Any] = {"type": choice.mode.value}
        if choice.mode is ir.ToolChoiceMode.TOOL:
            rendered["name"] = choice.name or ""
        if not choice.parallel and choice.mode is not ir.ToolChoiceMode.NONE:
            rendered["disable_parallel_tool_use"] = True
        body["tool_choice"] = rendered
    return body


def _tool(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind is ir.ToolKind.SERVER:
        return dict(tool.provider_metadata.get(ANTHROPIC) or {"type": tool.name, "name": tool.name})
    rendered: dict[str, Any] = {"name": tool.name}
    if tool.description:
        rendered["description"] = tool.description
    rendered["input_schema"] = dict(tool.json_schema) or {"type": "object", "properties": {}}
    rendered.update({k: tool.provider_metadata[k] for k in ("cache_control", "strict") if k in tool.provider_metadata})
    return rendered


def _output_config(request: ir.Request, reasoning: ir.Reasoning) -> dict[str, Any]:
    config: dict[str, Any] = {}
    effort = generations.effort_for(request.model, reasoning.effort)
    if effort:
        config["effort"] = effort
    fmt = request.response_format
    if fmt is not None and fmt.kind is ir.ResponseFormatKind.JSON_SCHEMA and fmt.schema is not None:
        config["format"] = {"type": "json_schema", "schema": dict(fmt.schema)}
    return config


def _thinking(
    reasoning: ir.Reasoning, messages: Sequence[ir.Message], max_tokens: int, cap: int | None
) -> dict[str, Any]:
    """`thinking` (and a raised max_tokens when a budget needs room), off when the tool loop forbids it."""
    match reasoning.mode:
        case ir.ReasoningMode.DEFAULT:
            return {}
        case ir.ReasoningMode.OFF:
            return {"thinking": {"type": "disabled"}}
        case ir.ReasoningMode.ADAPTIVE:
            if not _thinking_allowed(messages):
                return {"thinking": {"type": "disabled"}}
            return {"thinking": _with_display({"type": "adaptive"}, reasoning)}
        case ir.ReasoningMode.ON:
            budget = max(reasoning.budget_tokens or MIN_THINKING_BUDGET, MIN_THINKING_BUDGET)
            if budget >= max_tokens:
                max_tokens = min(budget + ANSWER_ROOM, cap) if cap else budget + ANSWER_ROOM
                budget = min(budget, max_tokens - 1)
            if budget < MIN_THINKING_BUDGET or not _thinking_allowed(messages):
                return {"thinking": {"type": "disabled"}}
            thinking = _with_display({"type": "enabled", "budget_tokens": budget}, reasoning)
            return {"thinking": thinking, "max_tokens": max_tokens}
        case _:
            assert_never(reasoning.mode)


def _reasoning(request: ir.Request) -> ir.Reasoning:
    """Thinking cannot be combined with a forced tool: a forced tool turns it off. Otherwise thinking as
    the model's generation takes it (the tables above)."""
    choice = request.tool_choice
    forced = choice is not None and choice.mode in (ir.ToolChoiceMode.ANY, ir.ToolChoiceMode.TOOL) and request.tools
    reasoning = request.reasoning
    if forced and reasoning.mode in (ir.ReasoningMode.ON, ir.ReasoningMode.ADAPTIVE):
        return replace(reasoning, mode=ir.ReasoningMode.OFF)
    if generations.before_adaptive(request.model):  # nor does it take `display`: it summarises its thinking
        if reasoning.mode is ir.ReasoningMode.ADAPTIVE:
            reasoning = replace(reasoning, mode=ir.ReasoningMode.ON, budget_tokens=ir.effort_budget(reasoning.effort))
        return replace(reasoning, display=None)
    if generations.adaptive_only(request.model) and reasoning.mode is ir.ReasoningMode.ON:
        effort = reasoning.effort or ir.budget_effort(reasoning.budget_tokens)
        return replace(reasoning, mode=ir.ReasoningMode.ADAPTIVE, budget_tokens=None, effort=effort)
    return reasoning


def _with_display(thinking: dict[str, Any], reasoning: ir.Reasoning) -> dict[str, Any]:
    if reasoning.display:
        thinking["display"] = reasoning.display
    return thinking


def _thinking_allowed(messages: Sequence[ir.Message]) -> bool:
    """With thinking on, the last assistant turn of a running tool loop must open with thinking."""
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role is ir.Role.ASSISTANT), None)
    if last is None or not any(isinstance(b, ir.ToolCall) for b in messages[last].content):
        return True
    later = messages[last + 1 :]
    if any(not any(isinstance(b, ir.ToolResult) for b in m.content) for m in later):
        return True  # a user turn without tool results began: the tool loop is over
    return isinstance(messages[last].content[0], ir.Thinking | ir.RedactedThinking)


def _without_foreign_thinking(messages: Sequence[ir.Message]) -> list[ir.Message]:
    """Thinking that Anthropic did not sign cannot go back to Anthropic: drop it."""
    kept: list[ir.Message] = []
    for message in messages:
        blocks = tuple(b for block in message.content if (b := _anthropic_thinking(block)) is not None)
        if blocks:
            kept.append(ir.Message(message.role, blocks))
    return kept


def _anthropic_thinking(block: ir.Block) -> ir.Block | None:
    if isinstance(block, ir.Opaque) and block.provider != ANTHROPIC:
        return None
    if not isinstance(block, ir.Thinking):
        return block
    if not block.signature:
        return None
    found = carrier.parse_carrier(block.signature)
    if found is None:
        return block if "." not in block.signature else None
    sig = found.fields.get("sig")
    if found.provider != carrier.ANTHROPIC or not isinstance(sig, str):
        return None
    text = found.fields.get("text")
    return ir.Thinking(text if isinstance(text, str) else block.text, sig)


def _paired(messages: list[ir.Message]) -> list[ir.Message]:
    """Each tool_use answered in the next user turn, results first; orphan results become text."""
    out: list[ir.Message] = []
    for i, message in enumerate(messages):
        if message.role is ir.Role.ASSISTANT:
            out.append(message)
            calls = [b.id for b in message.content if isinstance(b, ir.ToolCall)]
            follower = messages[i + 1] if i + 1 < len(messages) else None
            if calls and (follower is None or follower.role is ir.Role.ASSISTANT):
                out.append(ir.Message(ir.Role.USER, _answered(calls, ())))
            continue
        previous = out[-1] if out and out[-1].role is ir.Role.ASSISTANT else None
        calls = [b.id for b in previous.content if isinstance(b, ir.ToolCall)] if previous else []
        out.append(ir.Message(ir.Role.USER, _answered(calls, message.content)))
    return out


def _answered(calls: list[str], content: tuple[ir.Block, ...]) -> tuple[ir.Block, ...]:
    results = {b.call_id: b for b in content if isinstance(b, ir.ToolResult) and b.call_id in calls}
    ordered: list[ir.Block] = [
        results.get(call) or ir.ToolResult(call, (ir.Text("[no result]"),), is_error=True) for call in calls
    ]
    for block in content:
        if isinstance(block, ir.ToolResult) and block.call_id not in calls:
            ordered.append(ir.Text(f"[result of earlier tool call {block.call_id}]: {_result_text(block)}"))
        elif not isinstance(block, ir.ToolResult):
            ordered.append(block)
    return tuple(ordered)


def _result_text(result: ir.ToolResult) -> str:
    return "\n".join(p.text for p in result.content if isinstance(p, ir.Text)) or "(no output)"


def _messages(messages: Sequence[ir.Message]) -> list[dict[str, Any]]:
    return [{"role": m.role.value, "content": [_block(b) for b in m.content]} for m in messages]


def _with_meta(rendered: dict[str, Any], meta: ir.Metadata) -> dict[str, Any]:
    rendered.update({k: meta[k] for k in _METADATA_KEYS if k in meta})
    return rendered


def _text(text: ir.Text) -> dict[str, Any]:
    return _with_meta({"type": "text", "text": text.text}, text.provider_metadata)


def _block(block: ir.Block) -> dict[str, Any]:
    match block:
        case ir.Text():
            return _text(block)
        case ir.Image():
            return _with_meta({"type": "image", "source": _image_source(block)}, block.provider_metadata)
        case ir.Document():
            return _document(block)
        case ir.ToolCall(id=call_id, name=name, args_json=args):
            rendered: dict[str, Any] = {"type": "tool_use", "id": anthropic_tool_id(call_id), "name": name}
            rendered["input"] = parse_arguments(args)
            return _with_meta(rendered, block.provider_metadata)
        case ir.ToolResult():
            return _tool_result(block)
        case ir.Thinking(text=text, signature=signature):
            return {"type": "thinking", "thinking": text, "signature": signature or ""}
        case ir.RedactedThinking(data=data):
            return {"type": "redacted_thinking", "data": data}
        case ir.Opaque(raw=raw):
            return dict(raw)
        case _:
            assert_never(block)


def _image_source(image: ir.Image) -> dict[str, Any]:
    if image.source is ir.SourceKind.URL:
        return {"type": "url", "url": image.data}
    return {"type": "base64", "media_type": image.media_type, "data": image.data}


def _document(document: ir.Document) -> dict[str, Any]:
    source: dict[str, Any]
    match document.source:
        case ir.SourceKind.BASE64:
            source = {"type": "base64", "media_type": document.media_type or "application/pdf", "data": document.data}
        case ir.SourceKind.URL:
            source = {"type": "url", "url": document.data}
        case ir.SourceKind.TEXT:
            source = {"type": "text", "media_type": "text/plain", "data": document.data}
        case _:
            assert_never(document.source)
    rendered: dict[str, Any] = {"type": "document", "source": source}
    if document.title:
        rendered["title"] = document.title
    if document.context:
        rendered["context"] = document.context
    return _with_meta(rendered, document.provider_metadata)


def _tool_result(result: ir.ToolResult) -> dict[str, Any]:
    rendered: dict[str, Any] = {"type": "tool_result", "tool_use_id": anthropic_tool_id(result.call_id)}
    if result.content:
        rendered["content"] = [_block(p) for p in result.content]
    if result.is_error:
        rendered["is_error"] = True
    return _with_meta(rendered, result.provider_metadata)
