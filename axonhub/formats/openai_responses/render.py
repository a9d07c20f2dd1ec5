"""IR requests as the body of an OpenAI Responses channel (Anthropic and Chat clients on OpenAI's API).

Built from an allow-list, never from an inbound dict: the system prompt as `instructions` (Claude
Code's billing-header line removed), the conversation as input items (messages with text, images and
files; `function_call` / `custom_tool_call` and their outputs, each call answered, a missing output
synthesised and an orphan one turned into text; reasoning OpenAI produced replayed with its encrypted
content, any other reasoning dropped), function and custom tools, `tool_choice`,
`max_output_tokens` within the channel's cap, sampling, reasoning effort with encrypted reasoning
requested back, structured output as `text.format`, and `store: false`: the gateway never asks
OpenAI to keep a conversation the client did not store there itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any, assert_never

from axonhub import ir
from axonhub.formats.openai_responses import reasoning
from axonhub.formats.openai_responses.models import ENCRYPTED_REASONING, reasons
from axonhub.formats.openai_responses.tools import render_tool_choice, render_tools
from axonhub.formats.tool_calls import parse_arguments, stable_arguments

BILLING_HEADER = "x-anthropic-billing-header:"
NOT_EXECUTED = "[tool call was not executed]"
_EFFORTS = ("minimal", "low", "medium", "high")


def render_request(request: ir.Request, max_output_tokens: int | None = None) -> dict[str, Any]:
    """The Responses body for `request`; `max_output_tokens` is the channel's cap."""
    custom = frozenset(t.name for t in request.tools if t.kind is ir.ToolKind.CUSTOM)
    input_items = _Input(custom).render(request.messages)
    if not reasons(request.model):  # nor does it read reasoning items
        input_items = [item for item in input_items if item["type"] != "reasoning"]
    body: dict[str, Any] = {"model": request.model}
    instructions = "\n\n".join(t.text for t in request.system if not t.text.lstrip().startswith(BILLING_HEADER))
    if instructions:
        body["instructions"] = instructions
    body["input"] = input_items
    tools = render_tools(request.tools)
    if tools:
        body["tools"] = tools
        body.update(render_tool_choice(request))
    limit = [c for c in (request.max_output_tokens, max_output_tokens) if c]
    if limit:
        body["max_output_tokens"] = max(16, min(limit))
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    body.update(_reasoning(request, input_items))
    body.update(_text_format(request.response_format))
    if request.user_id:
        hashed = hashlib.sha256(request.user_id.encode()).hexdigest()
        body["safety_identifier"] = hashed
        body["prompt_cache_key"] = hashed
    body["store"] = False
    if request.stream:
        body["stream"] = True
    return body


# What `POST /responses/input_tokens` takes of a Responses body: the parts that are tokens.
_COUNTED = ("model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls", "reasoning", "text")


def render_count_request(request: ir.Request) -> dict[str, Any]:
    """The body of a token count on a Responses channel: what `render_request` sends, without the
    fields the counting endpoint does not take (sampling, limits, storage, streaming)."""
    body = render_request(dataclasses.replace(request, stream=False))
    return {name: body[name] for name in _COUNTED if name in body}


def _reasoning(request: ir.Request, input_items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Effort and summaries when reasoning is asked for; encrypted reasoning back whenever it may round-trip."""
    body: dict[str, Any] = {}
    settings = request.reasoning
    if not reasons(request.model):
        return body
    if settings.mode in (ir.ReasoningMode.ON, ir.ReasoningMode.ADAPTIVE):
        effort = settings.effort if settings.effort in _EFFORTS else _effort(settings)
        body["reasoning"] = {"effort": effort, "summary": "auto"}
    elif settings.mode is ir.ReasoningMode.OFF and settings.effort == "none":
        body["reasoning"] = {"effort": "none"}
    if "reasoning" in body or any(item["type"] == "reasoning" for item in input_items):
        body["include"] = [ENCRYPTED_REASONING]
    return body


def _effort(settings: ir.Reasoning) -> str:
    if settings.effort in ("xhigh", "max"):
        return "high"
    budget = settings.budget_tokens
    if budget is None:
        return "medium"
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _text_format(fmt: ir.ResponseFormat | None) -> dict[str, Any]:
    if fmt is None or fmt.kind is ir.ResponseFormatKind.TEXT:
        return {}
    if fmt.kind is ir.ResponseFormatKind.JSON_SCHEMA and fmt.schema is not None:
        spec = {"type": "json_schema", "name": fmt.name, "schema": dict(fmt.schema), "strict": fmt.strict}
        return {"text": {"format": spec}}
    return {"text": {"format": {"type": "json_object"}}}


class _Input:
    """Walks the IR conversation once, emitting input items with every call answered right after it."""

    def __init__(self, custom: frozenset[str]) -> None:
        self._custom = custom  # the custom tools' names: their calls are custom_tool_calls whatever the client said
        self._out: list[dict[str, Any]] = []
        self._pending: dict[str, ir.ToolKind] = {}  # calls of the last assistant turn not answered yet

    def render(self, messages: Sequence[ir.Message]) -> list[dict[str, Any]]:
        for message in messages:
            match message.role:
                case ir.Role.USER:
                    self._user(message.content)
                case ir.Role.ASSISTANT:
                    self._answer_pending()
                    self._assistant(message.content)
                case _:
                    assert_never(message.role)
        self._answer_pending()
        return self._out

    def _answer_pending(self) -> None:
        for call_id, kind in self._pending.items():
            self._out.append(_output(call_id, kind, NOT_EXECUTED))
        self._pending = {}

    def _assistant(self, content: Sequence[ir.Block]) -> None:
        texts: list[str] = []
        for block in content:
            if not isinstance(block, ir.Text) and texts:
                self._out.append(_assistant_message(texts))
                texts = []
            match block:
                case ir.Text(text=text):
                    texts.append(text)
                case ir.Thinking():
                    replayed = reasoning.replay(block)
                    if replayed is not None:
                        self._out.append(replayed)
                case ir.ToolCall():
                    kind = ir.ToolKind.CUSTOM if block.name in self._custom else block.kind
                    self._out.append(_call(block, kind))
                    self._pending[block.id] = kind
                case _:
                    pass  # redacted thinking and other providers' blocks mean nothing to OpenAI
        if texts:
            self._out.append(_assistant_message(texts))

    def _user(self, content: Sequence[ir.Block]) -> None:
        parts: list[dict[str, Any]] = []
        for block in content:
            if isinstance(block, ir.ToolResult):
                parts += self._result(block)
            else:
                parts += _parts(block)
        self._answer_pending()
        if parts:
            self._out.append({"type": "message", "role": "user", "content": parts})

    def _result(self, result: ir.ToolResult) -> list[dict[str, Any]]:
        """Emit the output item of a result; an orphan one is returned as text for the user message."""
        kind = self._pending.pop(result.call_id, None)
        if kind is None:
            text = "\n".join(p.text for p in result.content if isinstance(p, ir.Text)) or "(no output)"
            return [_input_text(f"[result of earlier tool call {result.call_id}]: {text}")]
        self._out.append(_output(result.call_id, kind, _result_output(result)))
        return []


def _assistant_message(texts: list[str]) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []} for text in texts]
    return {"type": "message", "role": "assistant", "content": content}


def _call(call: ir.ToolCall, kind: ir.ToolKind) -> dict[str, Any]:
    if kind is ir.ToolKind.CUSTOM:
        value = parse_arguments(call.args_json).get("input", "")
        text = value if isinstance(value, str) else stable_arguments(call.args_json)
        return {"type": "custom_tool_call", "call_id": call.id, "name": call.name, "input": text}
    return {
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": stable_arguments(call.args_json),
    }


def _output(call_id: str, kind: ir.ToolKind, output: str | list[dict[str, Any]]) -> dict[str, Any]:
    item_type = "custom_tool_call_output" if kind is ir.ToolKind.CUSTOM else "function_call_output"
    return {"type": item_type, "call_id": call_id, "output": output}


def _result_output(result: ir.ToolResult) -> str | list[dict[str, Any]]:
    """A plain string for text (with `Error: ` for a failed call, Responses having no error flag); parts
    when the result holds images or files."""
    prefix = "Error: " if result.is_error else ""
    if all(isinstance(p, ir.Text) for p in result.content):
        text = "\n".join(p.text for p in result.content if isinstance(p, ir.Text))
        return prefix + (text or "(no output)")
    parts = [p for block in result.content for p in _parts(block)]
    return [_input_text("Error:"), *parts] if result.is_error else parts


def _input_text(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}


def _parts(block: ir.Block) -> list[dict[str, Any]]:
    match block:
        case ir.Text(text=text):
            return [_input_text(text)]
        case ir.Image():
            url = block.data if block.source is ir.SourceKind.URL else f"data:{block.media_type};base64,{block.data}"
            return [{"type": "input_image", "image_url": url, "detail": "auto"}]
        case ir.Document():
            return [_document(block)]
        case ir.ToolCall() | ir.ToolResult() | ir.Thinking() | ir.RedactedThinking() | ir.Opaque():
            return []
        case _:
            assert_never(block)


def _document(document: ir.Document) -> dict[str, Any]:
    name = document.title or "document.pdf"
    match document.source:
        case ir.SourceKind.BASE64:
            data = f"data:{document.media_type or 'application/pdf'};base64,{document.data}"
            return {"type": "input_file", "filename": name, "file_data": data}
        case ir.SourceKind.URL:
            return {"type": "input_file", "file_url": document.data}
        case ir.SourceKind.TEXT:
            title = f' title="{document.title}"' if document.title else ""
            return _input_text(f"<document{title}>\n{document.data}\n</document>")
        case _:
            assert_never(document.source)
