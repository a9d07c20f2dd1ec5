"""OpenAI Responses answers to and from the IR: the response object, its output items, usage, status.

`render_response` writes what a Responses client gets: a fresh `resp_` id, the model it asked for,
one output item per IR block (reasoning with its `encrypted_content`, messages, function calls, and
calls of custom tools as `custom_tool_call` with their raw input, each under the name and namespace
the client declared), `status` (`incomplete` with its reason at max tokens or a refusal) and the
full usage object, cached and reasoning tokens included. `parse_response` reads an OpenAI answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, assert_never

from axonhub import ir
from axonhub.errors import UpstreamError
from axonhub.formats.openai_chat.errors import error_from_payload
from axonhub.formats.openai_responses import reasoning
from axonhub.formats.openai_responses.tools import ToolNames
from axonhub.formats.tool_calls import parse_arguments, stable_arguments, stable_json
from axonhub.ids import random_id

# stop reason -> (status, incomplete_details.reason)
_STATUS: dict[ir.StopReason, tuple[str, str | None]] = {
    ir.StopReason.END_TURN: ("completed", None),
    ir.StopReason.STOP_SEQUENCE: ("completed", None),
    ir.StopReason.PAUSE_TURN: ("completed", None),
    ir.StopReason.TOOL_USE: ("completed", None),
    ir.StopReason.MAX_TOKENS: ("incomplete", "max_output_tokens"),
    ir.StopReason.CONTEXT_EXCEEDED: ("incomplete", "max_output_tokens"),
    ir.StopReason.REFUSAL: ("incomplete", "content_filter"),
}
_INCOMPLETE_REASONS = {"max_output_tokens": ir.StopReason.MAX_TOKENS, "content_filter": ir.StopReason.REFUSAL}


def status_of(reason: ir.StopReason) -> tuple[str, str | None]:
    return _STATUS[reason]


def stop_reason_name(reason: ir.StopReason) -> str:
    """What the trace records: the status a Responses client sees, or the reason it is incomplete."""
    status, why = _STATUS[reason]
    return why or status


def response_id() -> str:
    """A fresh `resp_` id for every response the gateway renders, never the upstream's."""
    return random_id("resp_")


# ------------------------------------------------------------------------------------- usage


def usage_dict(usage: ir.Usage) -> dict[str, Any]:
    """Every field Codex requires: input (cached included), output (reasoning included), total."""
    return {
        "input_tokens": usage.input_total,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_output},
        "total_tokens": usage.input_total + usage.output,
    }


def usage_from(raw: Any) -> ir.Usage:
    if not isinstance(raw, Mapping):
        return ir.Usage()
    details = raw.get("input_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    output_details = raw.get("output_tokens_details")
    output_details = output_details if isinstance(output_details, Mapping) else {}
    cached, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    uncached = max(_count(raw.get("input_tokens")) - cached - written, 0)
    return ir.Usage(
        uncached, cached, written, _count(raw.get("output_tokens")), _count(output_details.get("reasoning_tokens"))
    )


def _count(value: Any) -> int:
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else 0


# ------------------------------------------------------------------------------------- render


class Items:
    """Output items for a client: fresh item ids, and calls under the names the client declared."""

    def __init__(self, request: ir.Request) -> None:
        self.names = ToolNames(request.tools)

    def message(self, text: str, status: str = "completed") -> dict[str, Any]:
        content = [output_text(text)] if status == "completed" else []
        return {"id": random_id("msg_"), "type": "message", "role": "assistant", "status": status, "content": content}

    def reasoning_shell(self) -> dict[str, Any]:
        """A reasoning item as it opens: no summary yet, its encrypted content known only at its end."""
        return {"id": random_id("rs_"), "type": "reasoning", "summary": []}

    def reasoning(self, block: ir.Thinking | ir.RedactedThinking, model: str) -> dict[str, Any]:
        item = self.reasoning_shell()
        if isinstance(block, ir.Thinking):
            item["summary"] = [{"type": "summary_text", "text": block.text}] if block.text else []
            item["encrypted_content"] = reasoning.seal(block, model)
        else:
            item["encrypted_content"] = reasoning.seal_redacted(block, model)
        return item

    def call(self, call: ir.ToolCall, status: str = "completed") -> dict[str, Any]:
        """A function_call, or a custom_tool_call when the client declared the tool as custom."""
        declared = self.names.declared(call.name)
        arguments = stable_arguments(call.args_json) if status == "completed" else ""
        if declared.kind is ir.ToolKind.CUSTOM or call.kind is ir.ToolKind.CUSTOM:
            item = {"id": random_id("ctc_"), "type": "custom_tool_call", "status": status, "call_id": call.id}
            item.update(name=declared.name, input=custom_input(call.args_json) if status == "completed" else "")
        else:
            item = {"id": random_id("fc_"), "type": "function_call", "status": status, "call_id": call.id}
            item.update(name=declared.name, arguments=arguments)
        if declared.namespace:
            item["namespace"] = declared.namespace
        return item


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def custom_input(args_json: str) -> str:
    """The raw input of a custom tool's call: its `input` string (the whole arguments when there is none)."""
    args = parse_arguments(args_json)
    value = args.get("input")
    if isinstance(value, str):
        return value
    return stable_json(args) if args else ""


def response_object(
    request: ir.Request, rid: str, created: int, status: str, output: list[dict[str, Any]]
) -> dict[str, Any]:
    """The response object of every lifecycle event and of a JSON answer; usage and reasons set by the caller."""
    choice = request.tool_choice
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": request.max_output_tokens,
        "model": request.model,
        "output": output,
        "parallel_tool_calls": choice.parallel if choice is not None else True,
        "previous_response_id": None,
        "reasoning": {"effort": request.reasoning.effort, "summary": None},
        "temperature": request.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": None,
        "metadata": {},
    }


def finished(response: dict[str, Any], reason: ir.StopReason, usage: ir.Usage) -> dict[str, Any]:
    status, why = status_of(reason)
    response.update(status=status, usage=usage_dict(usage))
    response["incomplete_details"] = {"reason": why} if why else None
    return response


def render_response(response: ir.Response, request: ir.Request, *, created: int | None = None) -> dict[str, Any]:
    """A response object for a Responses client."""
    items = Items(request)
    output: list[dict[str, Any]] = []
    for block in response.content:
        match block:
            case ir.Text(text=text):
                if text:
                    output.append(items.message(text))
            case ir.Thinking() | ir.RedactedThinking():
                output.append(items.reasoning(block, response.model))
            case ir.ToolCall():
                output.append(items.call(block))
            case ir.Image() | ir.Document() | ir.ToolResult() | ir.Opaque():
                pass
            case _:
                assert_never(block)
    stamp = int(time.time()) if created is None else created
    whole = response_object(request, response_id(), stamp, "completed", output)
    return finished(whole, response.stop_reason, response.usage)


# ------------------------------------------------------------------------------------- parse


def parse_response(body: Mapping[str, Any], model: str = "") -> ir.Response:
    """An upstream response object as the IR; a failed response raises UpstreamError."""
    if body.get("status") == "failed" or isinstance(body.get("error"), Mapping):
        kind, message = error_from_payload(body)
        if kind is not None:
            raise UpstreamError(message, kind=kind)
    model = str(body.get("model") or model)
    output = body.get("output")
    blocks = [b for item in (output if isinstance(output, list) else []) if (b := parse_item(item, model))]
    return ir.Response(
        str(body.get("id", "")), model, tuple(blocks), stop_reason(body, blocks), None, usage_from(body.get("usage"))
    )


def stop_reason(body: Mapping[str, Any], blocks: list[ir.Block]) -> ir.StopReason:
    if body.get("status") == "incomplete":
        details = body.get("incomplete_details")
        why = details.get("reason") if isinstance(details, Mapping) else None
        return _INCOMPLETE_REASONS.get(str(why), ir.StopReason.MAX_TOKENS)
    return ir.StopReason.TOOL_USE if any(isinstance(b, ir.ToolCall) for b in blocks) else ir.StopReason.END_TURN


def parse_item(item: Any, model: str) -> ir.Block | None:
    """One output item of an OpenAI answer as an IR block; hosted tools' items are left out."""
    if not isinstance(item, Mapping):
        return None
    match item.get("type"):
        case "message":
            content = item.get("content")
            parts = content if isinstance(content, list) else []
            text = "".join(str(p.get("text") or p.get("refusal") or "") for p in parts if isinstance(p, Mapping))
            return ir.Text(text) if text else None
        case "reasoning":
            encrypted = item.get("encrypted_content")
            rid = item.get("id") if isinstance(item.get("id"), str) else None
            return reasoning.from_openai(
                reasoning.summary_text(item), encrypted if isinstance(encrypted, str) else None, rid, model
            )
        case "function_call":
            arguments = item.get("arguments")
            args = stable_arguments(arguments) if isinstance(arguments, str) else "{}"
            return ir.ToolCall(_call_id(item), str(item.get("name", "")), args)
        case "custom_tool_call":
            raw_input = item.get("input")
            args = stable_json({"input": raw_input if isinstance(raw_input, str) else ""})
            return ir.ToolCall(_call_id(item), str(item.get("name", "")), args, ir.ToolKind.CUSTOM)
    return None


def _call_id(item: Mapping[str, Any]) -> str:
    call_id = item.get("call_id") or item.get("id")
    return str(call_id) if call_id else random_id("call_")
