"""Anthropic Messages requests to and from the IR (PROTOCOLS.md §2.1 to §2.3).

`parse_request` accepts what Claude Code really sends: system as a string or blocks, `role:"system"`
turns inside `messages` (hoisted into the system prompt), tool results with string or block content,
images, documents, thinking, server tools, cache_control (kept as block metadata), output_config
and the three thinking modes. Empty and whitespace-only text is dropped; consecutive turns of one
role are merged, as the Anthropic API itself does. Anthropic-only settings with no IR meaning
(context_management, container, mcp_servers, service_tier, …) are dropped.

`render_request` builds an Anthropic body from the IR for an Anthropic upstream serving a client of
another format: from an allow-list, with thinking signatures of other providers removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, assert_never

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats import carrier
from axonhub.formats.quirks import Quirks
from axonhub.formats.tool_calls import anthropic_tool_id, parse_arguments, stable_json

DEFAULT_MAX_TOKENS = 8192
MIN_THINKING_BUDGET = 1024
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


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    system = list(_parse_system(body.get("system")))
    messages: list[ir.Message] = []
    for i, raw in enumerate(_list(body.get("messages"), "messages")):
        if not isinstance(raw, Mapping):
            raise InvalidRequest(f"messages.{i}: must be an object")
        role = raw.get("role")
        if role == "system":
            system += _parse_system(raw.get("content"))
            continue
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: must be user, assistant or system, not {role!r}")
        content = _parse_content(raw.get("content"), f"messages.{i}.content")
        if content:
            messages.append(ir.Message(ir.Role(role), content))
    return ir.Request(
        model=str(body.get("model", "")),
        messages=_merge_turns(messages),
        system=tuple(system),
        tools=tuple(_parse_tool(t, i) for i, t in enumerate(_list(body.get("tools"), "tools"))),
        tool_choice=_parse_tool_choice(body.get("tool_choice")),
        max_output_tokens=_int_or_none(body.get("max_tokens")),
        temperature=_float_or_none(body.get("temperature")),
        top_p=_float_or_none(body.get("top_p")),
        top_k=_int_or_none(body.get("top_k")),
        stop=tuple(s for s in _list(body.get("stop_sequences"), "stop_sequences") if isinstance(s, str) and s),
        stream=body.get("stream") is True,
        reasoning=_parse_reasoning(body.get("thinking"), body.get("output_config")),
        response_format=_parse_format(body.get("output_config")),
        user_id=_user_id(body.get("metadata")),
        provider_metadata=_metadata(body),
    )


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: must be a list")
    return value


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _metadata(raw: Mapping[str, Any]) -> ir.Metadata:
    kept = {k: raw[k] for k in _METADATA_KEYS if k in raw}
    return kept if kept else ir.NO_METADATA


def _user_id(metadata: Any) -> str | None:
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        return str(metadata["user_id"])
    return None


def _parse_system(value: Any) -> list[ir.Text]:
    if isinstance(value, str):
        return [ir.Text(value)] if value.strip() else []
    texts: list[ir.Text] = []
    for block in _list(value, "system"):
        if isinstance(block, Mapping) and block.get("type") in ("text", "mid_conv_system"):
            text = block.get("text") or block.get("content")
            if isinstance(text, str) and text.strip():
                texts.append(ir.Text(text, _metadata(block)))
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
    blocks: list[ir.Block] = []
    for i, raw in enumerate(_list(value, where)):
        if not isinstance(raw, Mapping):
            raise InvalidRequest(f"{where}.{i}: must be an object")
        block = _parse_block(raw, f"{where}.{i}")
        if block is not None:
            blocks.append(block)
    return tuple(blocks)


def _parse_block(raw: Mapping[str, Any], where: str) -> ir.Block | None:
    kind = raw.get("type")
    meta = _metadata(raw)
    match kind:
        case "text":
            text = raw.get("text")
            return ir.Text(text, meta) if isinstance(text, str) and text.strip() else None
        case "image":
            return _parse_image(raw.get("source"), meta, where)
        case "document":
            return _parse_document(raw, meta, where)
        case "search_result":
            return _parse_search_result(raw, meta)
        case "tool_use":
            return ir.ToolCall(
                id=str(raw.get("id", "")),
                name=str(raw.get("name", "")),
                args_json=stable_json(raw.get("input") if isinstance(raw.get("input"), Mapping) else {}),
                provider_metadata=meta,
            )
        case "tool_result":
            return ir.ToolResult(
                call_id=str(raw.get("tool_use_id", "")),
                content=_parse_result_content(raw.get("content"), f"{where}.content"),
                is_error=raw.get("is_error") is True,
                provider_metadata=meta,
            )
        case "thinking":
            signature = raw.get("signature")
            return ir.Thinking(str(raw.get("thinking", "")), signature if isinstance(signature, str) else None)
        case "redacted_thinking":
            return ir.RedactedThinking(str(raw.get("data", "")))
    return ir.Opaque(ANTHROPIC, dict(raw))


def _parse_image(source: Any, meta: ir.Metadata, where: str) -> ir.Image:
    if not isinstance(source, Mapping):
        raise InvalidRequest(f"{where}.source: field required")
    match source.get("type"):
        case "base64":
            return ir.Image(ir.SourceKind.BASE64, str(source.get("data", "")), str(source.get("media_type", "")), meta)
        case "url":
            return ir.Image(ir.SourceKind.URL, str(source.get("url", "")), "", meta)
    raise InvalidRequest(f"{where}.source.type: must be base64 or url")


def _parse_document(raw: Mapping[str, Any], meta: ir.Metadata, where: str) -> ir.Document:
    source = raw.get("source")
    title = raw.get("title") if isinstance(raw.get("title"), str) else None
    context = raw.get("context") if isinstance(raw.get("context"), str) else None
    if not isinstance(source, Mapping):
        raise InvalidRequest(f"{where}.source: field required")
    media_type = str(source.get("media_type", ""))
    match source.get("type"):
        case "base64":
            kind, data = ir.SourceKind.BASE64, str(source.get("data", ""))
        case "url":
            kind, data = ir.SourceKind.URL, str(source.get("url", ""))
        case "text":
            kind, data = ir.SourceKind.TEXT, str(source.get("data", ""))
        case "content":
            kind, data, media_type = ir.SourceKind.TEXT, _joined_text(source.get("content")), "text/plain"
        case other:
            raise InvalidRequest(f"{where}.source.type: unsupported document source {other!r}")
    return ir.Document(kind, data, media_type, title, context, meta)


def _parse_search_result(raw: Mapping[str, Any], meta: ir.Metadata) -> ir.Document:
    title = raw.get("title") if isinstance(raw.get("title"), str) else None
    source = raw.get("source") if isinstance(raw.get("source"), str) else None
    return ir.Document(ir.SourceKind.TEXT, _joined_text(raw.get("content")), "text/plain", title, source, meta)


def _joined_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping) and b.get("type") == "text")


def _parse_result_content(value: Any, where: str) -> tuple[ir.Text | ir.Image | ir.Document, ...]:
    parts: list[ir.Text | ir.Image | ir.Document] = []
    for block in _parse_content(value, where):
        match block:
            case ir.Text() | ir.Image() | ir.Document():
                parts.append(block)
            case ir.Opaque(raw=raw) if raw.get("type") == "tool_reference":
                parts.append(ir.Text(f"[tool reference: {raw.get('tool_name', '')}]"))
            case _:
                pass  # nothing else may sit inside a tool_result
    return tuple(parts)


def _parse_tool(raw: Any, i: int) -> ir.Tool:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name", ""), str):
        raise InvalidRequest(f"tools.{i}: must be an object with a name")
    tool_type = raw.get("type")
    if tool_type not in (None, "custom"):
        return ir.Tool(str(raw.get("name") or tool_type), kind=ir.ToolKind.SERVER, provider_metadata={ANTHROPIC: raw})
    schema = raw.get("input_schema")
    meta = {k: raw[k] for k in ("cache_control", "strict") if k in raw}
    return ir.Tool(
        name=str(raw.get("name", "")),
        description=str(raw.get("description") or ""),
        json_schema=schema if isinstance(schema, Mapping) else {"type": "object", "properties": {}},
        provider_metadata=meta or ir.NO_METADATA,
    )


def _parse_tool_choice(raw: Any) -> ir.ToolChoice | None:
    if not isinstance(raw, Mapping):
        return None
    mode = {"auto": ir.ToolChoiceMode.AUTO, "any": ir.ToolChoiceMode.ANY, "tool": ir.ToolChoiceMode.TOOL}.get(
        str(raw.get("type")), ir.ToolChoiceMode.NONE
    )
    name = raw.get("name") if mode is ir.ToolChoiceMode.TOOL and isinstance(raw.get("name"), str) else None
    return ir.ToolChoice(mode, name, parallel=raw.get("disable_parallel_tool_use") is not True)


def _parse_reasoning(thinking: Any, output_config: Any) -> ir.Reasoning:
    effort = output_config.get("effort") if isinstance(output_config, Mapping) else None
    effort = effort if isinstance(effort, str) else None
    if not isinstance(thinking, Mapping):
        return ir.Reasoning(effort=effort)
    display = thinking.get("display") if isinstance(thinking.get("display"), str) else None
    match thinking.get("type"):
        case "enabled":
            budget = _int_or_none(thinking.get("budget_tokens"))
            return ir.Reasoning(ir.ReasoningMode.ON, budget, effort, display)
        case "adaptive":
            return ir.Reasoning(ir.ReasoningMode.ADAPTIVE, None, effort, display)
        case "disabled":
            return ir.Reasoning(ir.ReasoningMode.OFF, None, effort)
    return ir.Reasoning(effort=effort)


def _parse_format(output_config: Any) -> ir.ResponseFormat | None:
    if not isinstance(output_config, Mapping) or not isinstance(output_config.get("format"), Mapping):
        return None
    schema = output_config["format"].get("schema")
    return ir.ResponseFormat(ir.ResponseFormatKind.JSON_SCHEMA, schema if isinstance(schema, Mapping) else None)


# ------------------------------------------------------------------------------------- render


def render_request(
    request: ir.Request, quirks: Quirks | None = None, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """An Anthropic Messages body for `request`; `max_output_tokens` caps `max_tokens`."""
    max_tokens = _max_tokens(request.max_output_tokens, max_output_tokens)
    messages = _paired(_without_foreign_thinking(request.messages))
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "messages": _messages(messages)}
    if request.system:
        body["system"] = [_text(t) for t in request.system]
    body.update(_tools(request))
    body.update(_sampling(request))
    if request.user_id:
        body["metadata"] = {"user_id": request.user_id}
    body.update(_thinking(_reasoning(request), messages, body["max_tokens"], max_output_tokens))
    output_config = _output_config(request)
    if output_config:
        body["output_config"] = output_config
    if request.stream:
        body["stream"] = True
    return body


def _max_tokens(wanted: int | None, cap: int | None) -> int:
    value = wanted if wanted is not None else DEFAULT_MAX_TOKENS
    return min(value, cap) if cap else value


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


def _output_config(request: ir.Request) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.reasoning.effort in ("low", "medium", "high", "xhigh", "max"):
        config["effort"] = request.reasoning.effort
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
                max_tokens = min(budget + DEFAULT_MAX_TOKENS, cap) if cap else budget + DEFAULT_MAX_TOKENS
                budget = min(budget, max_tokens - 1)
            if budget < MIN_THINKING_BUDGET or not _thinking_allowed(messages):
                return {"thinking": {"type": "disabled"}}
            thinking = _with_display({"type": "enabled", "budget_tokens": budget}, reasoning)
            return {"thinking": thinking, "max_tokens": max_tokens}
        case _:
            assert_never(reasoning.mode)


def _reasoning(request: ir.Request) -> ir.Reasoning:
    """Thinking cannot be combined with a forced tool: a forced tool turns it off."""
    choice = request.tool_choice
    forced = choice is not None and choice.mode in (ir.ToolChoiceMode.ANY, ir.ToolChoiceMode.TOOL) and request.tools
    thinking = request.reasoning.mode in (ir.ReasoningMode.ON, ir.ReasoningMode.ADAPTIVE)
    return replace(request.reasoning, mode=ir.ReasoningMode.OFF) if forced and thinking else request.reasoning


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
