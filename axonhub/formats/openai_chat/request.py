"""OpenAI Chat Completions requests to and from the IR.

`render_request` maps the IR (Anthropic-shaped) to a Chat body, driven by one row of the quirks table.
The body is built from an allow-list, never from an inbound dict: one system string (Claude Code's
billing-header line removed), `tool` messages right after the assistant turn that called them and
the rest of that user turn after them, missing results synthesised and orphan results turned into
text, tool ids normalised deterministically, arguments as stable JSON strings, `max_tokens` clamped,
a hashed `user`, usage always requested on streams, structured output and reasoning controls mapped
to what the channel accepts, and earlier reasoning passed back where the channel needs it.

`parse_request` reads an OpenAI Chat client's body into the IR.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats import carrier
from axonhub.formats.openai_chat.quirks import GENERIC, JsonMode, Quirks, ReasoningParam, ReasoningPassback
from axonhub.formats.tool_calls import document_text, openai_tool_id, result_text, stable_arguments, stable_json

BILLING_HEADER = "x-anthropic-billing-header:"
NOT_EXECUTED = "[tool call was not executed]"
_OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high"})
_OPENROUTER_EFFORTS = frozenset({"minimal", "low", "medium", "high"})
_DATA_URL = re.compile(r"^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$", re.DOTALL)
_OWN_REASONING = frozenset({carrier.CHAT, carrier.GATEWAY})


# ------------------------------------------------------------------------------------- render


def render_request(
    request: ir.Request, quirks: Quirks | None = None, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """The upstream body for `request` on a channel with `quirks`; `max_output_tokens` is the channel's cap."""
    quirks = quirks or GENERIC
    body: dict[str, Any] = {"model": request.model, "messages": _Messages(quirks).render(request)}
    tools = [_tool(t) for t in request.tools if t.kind is not ir.ToolKind.SERVER]
    if tools:
        body["tools"] = tools
        body.update(_tool_choice(request, quirks))
    elif _forced_server_tool(request):
        raise InvalidRequest(_server_tool_message(request))
    body.update(_max_tokens(request, quirks, max_output_tokens))
    body.update(_sampling(request, quirks))
    if request.user_id and quirks.user_field:
        body[quirks.user_field] = hashlib.sha256(request.user_id.encode()).hexdigest()
    body.update(_response_format(request.response_format, quirks))
    body.update(_reasoning(request.reasoning, quirks))
    if request.stream:
        body["stream"] = True
        if quirks.supports_stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


def _tool(tool: ir.Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = dict(tool.json_schema) or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _forced_server_tool(request: ir.Request) -> bool:
    choice = request.tool_choice
    if choice is None or choice.mode not in (ir.ToolChoiceMode.ANY, ir.ToolChoiceMode.TOOL):
        return False
    return any(t.kind is ir.ToolKind.SERVER for t in request.tools)


def _server_tool_message(request: ir.Request) -> str:
    names = ", ".join(t.name for t in request.tools if t.kind is ir.ToolKind.SERVER)
    return (
        f"tools: the Anthropic server tool(s) {names} run only on Anthropic's API; "
        "this channel cannot run them, so a request that requires them cannot be served here"
    )


def _tool_choice(request: ir.Request, quirks: Quirks) -> dict[str, Any]:
    choice = request.tool_choice
    if choice is None:
        return {}
    if choice.mode is ir.ToolChoiceMode.TOOL and choice.name in _server_tool_names(request):
        raise InvalidRequest(_server_tool_message(request))
    rendered: Any
    match choice.mode:
        case ir.ToolChoiceMode.AUTO:
            rendered = "auto"
        case ir.ToolChoiceMode.ANY:
            rendered = "required"
        case ir.ToolChoiceMode.TOOL:
            rendered = {"type": "function", "function": {"name": choice.name or ""}}
        case ir.ToolChoiceMode.NONE:
            rendered = "none"
        case _:
            assert_never(choice.mode)
    body: dict[str, Any] = {"tool_choice": rendered}
    if not choice.parallel and quirks.supports_parallel_tool_calls:
        body["parallel_tool_calls"] = False
    return body


def _server_tool_names(request: ir.Request) -> set[str]:
    return {t.name for t in request.tools if t.kind is ir.ToolKind.SERVER}


def _max_tokens(request: ir.Request, quirks: Quirks, cap: int | None) -> dict[str, Any]:
    if request.max_output_tokens is None:
        return {}
    limits = [c for c in (quirks.output_cap(request.model), cap) if c]
    return {quirks.max_tokens_field: max(1, min([request.max_output_tokens, *limits]))}


def _sampling(request: ir.Request, quirks: Quirks) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None and quirks.supports_top_k:
        body["top_k"] = request.top_k
    stop = [s for s in request.stop if s][: quirks.max_stop_sequences]
    if stop:
        body["stop"] = stop
    return body


def _response_format(fmt: ir.ResponseFormat | None, quirks: Quirks) -> dict[str, Any]:
    if fmt is None or fmt.kind is ir.ResponseFormatKind.TEXT:
        return {}
    wants_schema = fmt.kind is ir.ResponseFormatKind.JSON_SCHEMA and fmt.schema is not None
    if wants_schema and fmt.schema is not None and quirks.json_mode is JsonMode.JSON_SCHEMA:
        schema = {"name": fmt.name, "schema": dict(fmt.schema), "strict": fmt.strict}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if quirks.json_mode is JsonMode.NONE:
        return {}
    return {"response_format": {"type": "json_object"}}


def _json_instruction(fmt: ir.ResponseFormat | None, quirks: Quirks) -> str | None:
    """Where the channel cannot enforce a schema, the system prompt asks for it (json_object needs the word)."""
    if fmt is None or fmt.kind is ir.ResponseFormatKind.TEXT:
        return None
    if fmt.kind is ir.ResponseFormatKind.JSON_SCHEMA and fmt.schema is not None:
        if quirks.json_mode is JsonMode.JSON_SCHEMA:
            return None
        return f"Respond only with a JSON object that matches this JSON schema: {stable_json(fmt.schema)}"
    return "Respond only with a JSON object."


def _reasoning(reasoning: ir.Reasoning, quirks: Quirks) -> dict[str, Any]:
    match quirks.reasoning_param:
        case ReasoningParam.NONE:
            return {}
        case ReasoningParam.REASONING_EFFORT:
            effort = _openai_effort(reasoning)
            return {"reasoning_effort": effort} if effort else {}
        case ReasoningParam.DEEPSEEK_THINKING:
            return _deepseek_thinking(reasoning)
        case ReasoningParam.OPENROUTER_REASONING:
            return _openrouter_reasoning(reasoning)
        case _:
            assert_never(quirks.reasoning_param)


def _effort_from_budget(budget: int | None) -> str:
    if budget is None:
        return "medium"
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _openai_effort(reasoning: ir.Reasoning) -> str | None:
    if reasoning.mode in (ir.ReasoningMode.DEFAULT, ir.ReasoningMode.OFF):
        return None
    effort = reasoning.effort
    if effort is None:
        return _effort_from_budget(reasoning.budget_tokens) if reasoning.mode is ir.ReasoningMode.ON else None
    return effort if effort in _OPENAI_EFFORTS else "high"


def _deepseek_thinking(reasoning: ir.Reasoning) -> dict[str, Any]:
    match reasoning.mode:
        case ir.ReasoningMode.DEFAULT:
            return {}
        case ir.ReasoningMode.OFF:
            return {"thinking": {"type": "disabled"}}
        case ir.ReasoningMode.ON:
            effort = "max" if (reasoning.budget_tokens or 0) >= 32768 or reasoning.effort == "max" else "high"
            return {"thinking": {"type": "enabled"}, "reasoning_effort": effort}
        case ir.ReasoningMode.ADAPTIVE:
            effort = "max" if reasoning.effort in ("xhigh", "max") else "high"
            return {"thinking": {"type": "enabled"}, "reasoning_effort": effort}
        case _:
            assert_never(reasoning.mode)


def _openrouter_reasoning(reasoning: ir.Reasoning) -> dict[str, Any]:
    match reasoning.mode:
        case ir.ReasoningMode.DEFAULT:
            return {}
        case ir.ReasoningMode.OFF:
            return {"reasoning": {"enabled": False}}
        case ir.ReasoningMode.ON if reasoning.budget_tokens:
            return {"reasoning": {"max_tokens": reasoning.budget_tokens}}
        case ir.ReasoningMode.ON | ir.ReasoningMode.ADAPTIVE:
            if reasoning.effort is None:
                return {"reasoning": {"enabled": True}}
            effort = reasoning.effort if reasoning.effort in _OPENROUTER_EFFORTS else "high"
            return {"reasoning": {"effort": effort}}
        case _:
            assert_never(reasoning.mode)


class _Messages:
    """Walks the IR conversation once, emitting OpenAI messages in the order OpenAI requires."""

    def __init__(self, quirks: Quirks) -> None:
        self._quirks = quirks
        self._out: list[dict[str, Any]] = []
        self._pending: list[str] = []  # OpenAI ids of the last assistant turn's calls, not yet answered

    def render(self, request: ir.Request) -> list[dict[str, Any]]:
        system = self._system(request)
        if system:
            self._out.append({"role": self._quirks.system_role, "content": system})
        for message in request.messages:
            match message.role:
                case ir.Role.USER:
                    self._user(message.content)
                case ir.Role.ASSISTANT:
                    self._answer_pending()
                    self._assistant(message.content)
                case _:
                    assert_never(message.role)
        self._answer_pending()
        first = next((m for m in self._out if m["role"] != self._quirks.system_role), None)
        if first is not None and first["role"] == "assistant":
            self._out.insert(self._out.index(first), {"role": "user", "content": "(continue)"})
        return self._out

    def _system(self, request: ir.Request) -> str:
        texts = [t.text for t in request.system if not t.text.lstrip().startswith(BILLING_HEADER)]
        instruction = _json_instruction(request.response_format, self._quirks)
        if instruction:
            texts.append(instruction)
        return "\n\n".join(texts)

    def _answer_pending(self) -> None:
        for call_id in self._pending:
            self._out.append({"role": "tool", "tool_call_id": call_id, "content": NOT_EXECUTED})
        self._pending = []

    def _assistant(self, content: Sequence[ir.Block]) -> None:
        text = "".join(b.text for b in content if isinstance(b, ir.Text))
        calls = [b for b in content if isinstance(b, ir.ToolCall)]
        if not text and not calls:
            return  # nothing an OpenAI upstream could read (thinking alone, server tool blocks)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            if self._quirks.reasoning_passback is ReasoningPassback.REASONING_CONTENT:
                message["reasoning_content"] = "".join(_own_reasoning(b) for b in content)
            message["tool_calls"] = [_call(c) for c in calls]
        self._out.append(message)
        self._pending = [openai_tool_id(c.id) for c in calls]

    def _user(self, content: Sequence[ir.Block]) -> None:
        parts: list[dict[str, Any]] = []
        for block in content:
            if isinstance(block, ir.ToolResult):
                parts += self._result(block)
            else:
                parts += _part(block, self._quirks)
        self._answer_pending()
        if parts:
            self._out.append({"role": "user", "content": _collapsed(parts)})

    def _result(self, result: ir.ToolResult) -> list[dict[str, Any]]:
        """Emit the `tool` message of a result; return what must go into the trailing user message."""
        call_id = openai_tool_id(result.call_id)
        text = _result_text(result)
        if call_id not in self._pending:
            return [_text_part(f"[result of earlier tool call {call_id}]: {text}")]
        self._pending.remove(call_id)
        self._out.append({"role": "tool", "tool_call_id": call_id, "content": text})
        images = [p for p in result.content if isinstance(p, ir.Image)]
        moved: list[dict[str, Any]] = []
        for image in images:
            moved += [_text_part(f"[image output of tool call {call_id}]"), *_part(image, self._quirks)]
        return moved


def _own_reasoning(block: ir.Block) -> str:
    """Thinking text the gateway itself produced from a Chat upstream; other providers' is dropped."""
    if not isinstance(block, ir.Thinking):
        return ""
    found = carrier.parse_carrier(block.signature)
    return block.text if found is not None and found.provider in _OWN_REASONING else ""


def _call(call: ir.ToolCall) -> dict[str, Any]:
    function = {"name": call.name, "arguments": stable_arguments(call.args_json)}
    return {"id": openai_tool_id(call.id), "type": "function", "function": function}


def _result_text(result: ir.ToolResult) -> str:
    text = result_text(result)
    return f"Error: {text}" if result.is_error else text


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _part(block: ir.Block, quirks: Quirks) -> list[dict[str, Any]]:
    match block:
        case ir.Text(text=text):
            return [_text_part(text)]
        case ir.Image():
            return [_image_part(block, quirks)]
        case ir.Document():
            return [_document_part(block, quirks)]
        case ir.ToolCall() | ir.ToolResult() | ir.Thinking() | ir.RedactedThinking() | ir.Opaque():
            return []  # not user content an OpenAI upstream can take
        case _:
            assert_never(block)


def _image_part(image: ir.Image, quirks: Quirks) -> dict[str, Any]:
    if not quirks.supports_images:
        return _text_part("[image omitted: this model does not accept images]")
    if image.source is ir.SourceKind.URL:
        if not quirks.supports_image_urls:
            return _text_part(f"[image omitted: {image.data}]")
        return {"type": "image_url", "image_url": {"url": image.data}}
    return {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{image.data}"}}


def _document_part(document: ir.Document, quirks: Quirks) -> dict[str, Any]:
    if document.source is ir.SourceKind.TEXT:
        return _text_part(document_text(document))
    name = document.title or "document.pdf"
    if document.source is ir.SourceKind.BASE64 and quirks.supports_pdf:
        data = f"data:{document.media_type or 'application/pdf'};base64,{document.data}"
        return {"type": "file", "file": {"filename": name, "file_data": data}}
    label = document.title or (document.data if document.source is ir.SourceKind.URL else name)
    return _text_part(f"[PDF document omitted: {label}]")


def _collapsed(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as one string (every provider takes it); parts when there is more."""
    if all(p["type"] == "text" for p in parts):
        return "\n\n".join(str(p["text"]) for p in parts)
    return parts


# ------------------------------------------------------------------------------------- parse


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    """An OpenAI Chat client's body as the IR (checked by `check_request` first)."""
    check_request(body)
    system: list[ir.Text] = []
    messages: list[ir.Message] = []
    for i, raw in enumerate(_list(body.get("messages"), "messages")):
        if not isinstance(raw, Mapping):
            raise InvalidRequest(f"messages.{i}: must be an object")
        role = raw.get("role")
        if role in ("system", "developer"):
            text = _content_text(raw.get("content"))
            system += [ir.Text(text)] if text.strip() else []
        elif role in ("user", "assistant", "tool", "function"):
            messages.append(_parse_message(raw, f"messages.{i}"))
        else:
            raise InvalidRequest(f"messages.{i}.role: unsupported role {role!r}")
    return ir.Request(
        model=str(body.get("model", "")),
        messages=_merge([m for m in messages if m.content]),
        system=tuple(system),
        tools=tuple(_parse_tool(t, i) for i, t in enumerate(_list(body.get("tools"), "tools"))),
        tool_choice=_parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        max_output_tokens=_int(body.get("max_completion_tokens"), _int(body.get("max_tokens"), None)),
        temperature=_float(body.get("temperature")),
        top_p=_float(body.get("top_p")),
        stop=_stop(body.get("stop")),
        stream=body.get("stream") is True,
        stream_usage=stream_include_usage(body),
        reasoning=_parse_effort(body.get("reasoning_effort")),
        response_format=_parse_response_format(body.get("response_format")),
        user_id=_user_id(body),
    )


def stream_include_usage(body: Mapping[str, Any]) -> bool:
    """Whether an OpenAI client asked for the final usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def check_request(body: Mapping[str, Any]) -> None:
    """Raise InvalidRequest, naming the field, for a body no channel should be sent.

    Run at the boundary, before any channel is chosen, so a malformed request gets the same 400
    whichever channel would have served it (the fast path never parses the body further). What the
    gateway cannot honour on every channel is refused rather than silently dropped: `n` other than 1,
    log probabilities, and audio output.
    """
    _check_messages(body.get("messages"))
    if "stream" in body and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: must be a boolean")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise InvalidRequest("stream_options: must be an object")
    modalities = body.get("modalities")
    if modalities is not None and (not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities)):
        raise InvalidRequest("modalities: must be a list of strings")
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("n: only one choice per request is supported (omit `n` or set it to 1)")
    if body.get("logprobs") not in (None, False) or body.get("top_logprobs") is not None:
        raise InvalidRequest("logprobs: log probabilities are not supported by this gateway")
    if body.get("audio") is not None or (modalities is not None and "audio" in modalities):
        raise InvalidRequest("audio: audio output is not supported by this gateway")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: field required (a non-empty list of messages)")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequest(f"messages.{i}: must be an object with a `role`")
        role = message.get("role")
        if not isinstance(role, str):
            raise InvalidRequest(f"messages.{i}.role: field required")
        if role not in ROLES:
            known = ", ".join(sorted(ROLES))
            raise InvalidRequest(f"messages.{i}.role: unsupported role {role!r} (expected one of {known})")


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: must be a list")
    return value


def _int(value: Any, default: int | None) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _stop(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(s for s in value if isinstance(s, str) and s) if isinstance(value, list) else ()


def _user_id(body: Mapping[str, Any]) -> str | None:
    for key in ("safety_identifier", "user"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, Mapping))
    return ""


def _parse_message(raw: Mapping[str, Any], where: str) -> ir.Message:
    match raw.get("role"):
        case "tool" | "function":
            call_id = str(raw.get("tool_call_id") or raw.get("name") or "")
            text = _content_text(raw.get("content"))
            result = ir.ToolResult(call_id, (ir.Text(text),) if text.strip() else ())
            return ir.Message(ir.Role.USER, (result,))
        case "assistant":
            text = _content_text(raw.get("content"))
            blocks: list[ir.Block] = [ir.Text(text)] if text.strip() else []
            calls = _list(raw.get("tool_calls"), f"{where}.tool_calls")
            blocks += [_parse_call(c, f"{where}.tool_calls.{i}") for i, c in enumerate(calls)]
            return ir.Message(ir.Role.ASSISTANT, tuple(blocks))
    return ir.Message(ir.Role.USER, _parse_user_content(raw.get("content"), f"{where}.content"))


def _parse_call(raw: Any, where: str) -> ir.ToolCall:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("function"), Mapping):
        raise InvalidRequest(f"{where}: must be an object with a function")
    function = raw["function"]
    args = function.get("arguments")
    args_json = args if isinstance(args, str) else stable_json(args if args is not None else {})
    return ir.ToolCall(str(raw.get("id", "")), str(function.get("name", "")), args_json)


def _parse_user_content(content: Any, where: str) -> tuple[ir.Block, ...]:
    if isinstance(content, str):
        return (ir.Text(content),) if content.strip() else ()
    blocks: list[ir.Block] = []
    for i, part in enumerate(_list(content, where)):
        block = _parse_part(part, f"{where}.{i}")
        if block is not None:
            blocks.append(block)
    return tuple(blocks)


def _parse_part(part: Any, where: str) -> ir.Block | None:
    if not isinstance(part, Mapping):
        raise InvalidRequest(f"{where}: must be an object")
    match part.get("type"):
        case "text":
            text = part.get("text")
            return ir.Text(text) if isinstance(text, str) and text.strip() else None
        case "image_url":
            url = part.get("image_url", {}).get("url") if isinstance(part.get("image_url"), Mapping) else None
            if not isinstance(url, str):
                raise InvalidRequest(f"{where}.image_url.url: field required")
            inline = _DATA_URL.match(url)
            if inline:
                return ir.Image(ir.SourceKind.BASE64, inline.group(2), inline.group(1) or "image/png")
            return ir.Image(ir.SourceKind.URL, url)
        case "file":
            return _parse_file(part.get("file"), where)
        case other:
            raise InvalidRequest(f"{where}.type: unsupported content part {other!r}")


def _parse_file(file: Any, where: str) -> ir.Document:
    data = file.get("file_data") if isinstance(file, Mapping) else None
    inline = _DATA_URL.match(data) if isinstance(data, str) else None
    if inline is None:
        raise InvalidRequest(f"{where}.file: only inline file_data (a base64 data URL) is supported")
    title = file.get("filename") if isinstance(file.get("filename"), str) else None
    return ir.Document(ir.SourceKind.BASE64, inline.group(2), inline.group(1) or "application/pdf", title)


def _merge(messages: list[ir.Message]) -> tuple[ir.Message, ...]:
    """Consecutive turns of one role become one; tool results stay ahead of the user's text."""
    merged: list[ir.Message] = []
    for message in messages:
        if merged and merged[-1].role is message.role:
            blocks = merged[-1].content + message.content
            if message.role is ir.Role.USER:
                blocks = tuple(sorted(blocks, key=lambda b: not isinstance(b, ir.ToolResult)))
            merged[-1] = ir.Message(message.role, blocks)
        else:
            merged.append(message)
    return tuple(merged)


def _parse_tool(raw: Any, i: int) -> ir.Tool:
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f"tools.{i}: must be an object")
    if raw.get("type") == "custom" and isinstance(raw.get("custom"), Mapping):
        custom = raw["custom"]
        freeform = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
        return ir.Tool(str(custom.get("name", "")), str(custom.get("description") or ""), freeform, ir.ToolKind.CUSTOM)
    function = raw.get("function")
    if raw.get("type", "function") != "function" or not isinstance(function, Mapping):
        raise InvalidRequest(f"tools.{i}.type: only function tools are supported")
    schema = function.get("parameters")
    return ir.Tool(
        name=str(function.get("name", "")),
        description=str(function.get("description") or ""),
        json_schema=schema if isinstance(schema, Mapping) else {"type": "object", "properties": {}},
    )


def _parse_tool_choice(raw: Any, parallel: Any) -> ir.ToolChoice | None:
    mode: ir.ToolChoiceMode | None = None
    name = None
    if raw in ("auto", "required", "none"):
        mode = {"auto": ir.ToolChoiceMode.AUTO, "required": ir.ToolChoiceMode.ANY}.get(raw, ir.ToolChoiceMode.NONE)
    elif isinstance(raw, Mapping) and isinstance(raw.get("function"), Mapping):
        mode, name = ir.ToolChoiceMode.TOOL, str(raw["function"].get("name", ""))
    if mode is None and parallel is not False:
        return None
    return ir.ToolChoice(mode or ir.ToolChoiceMode.AUTO, name, parallel=parallel is not False)


def _parse_effort(effort: Any) -> ir.Reasoning:
    if not isinstance(effort, str):
        return ir.Reasoning()
    if effort == "none":
        return ir.Reasoning(ir.ReasoningMode.OFF)
    return ir.Reasoning(ir.ReasoningMode.ON, ir.effort_budget(effort), effort)


def _parse_response_format(raw: Any) -> ir.ResponseFormat | None:
    if not isinstance(raw, Mapping):
        return None
    match raw.get("type"):
        case "json_object":
            return ir.ResponseFormat(ir.ResponseFormatKind.JSON_OBJECT)
        case "json_schema" if isinstance(raw.get("json_schema"), Mapping):
            spec = raw["json_schema"]
            schema: Mapping[str, Any] = spec["schema"] if isinstance(spec.get("schema"), Mapping) else {}
            return ir.ResponseFormat(
                ir.ResponseFormatKind.JSON_SCHEMA, schema, str(spec.get("name") or "output"), spec.get("strict") is True
            )
    return None
