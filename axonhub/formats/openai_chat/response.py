"""OpenAI Chat Completions responses to and from the IR.

`parse_response` turns an upstream answer into IR blocks in the order an Anthropic client expects:
reasoning (`reasoning_content` or `reasoning`) as a thinking block signed with a gateway carrier,
text, a refusal as text, then the tool calls with their arguments parsed or repaired. The stop
reason follows the tool override: any surviving call means `tool_use`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.errors import ErrorKind, UpstreamError
from axonhub.formats import carrier
from axonhub.formats.openai_chat.errors import error_from_payload
from axonhub.formats.tool_calls import openai_tool_id, parse_arguments, stable_arguments, stable_json
from axonhub.ids import random_id

_FINISH_REASONS: dict[str, ir.StopReason] = {
    "stop": ir.StopReason.END_TURN,
    "length": ir.StopReason.MAX_TOKENS,
    "tool_calls": ir.StopReason.TOOL_USE,
    "function_call": ir.StopReason.TOOL_USE,
    "content_filter": ir.StopReason.REFUSAL,
}
_FINISH_NAMES: dict[ir.StopReason, str] = {
    ir.StopReason.END_TURN: "stop",
    ir.StopReason.STOP_SEQUENCE: "stop",
    ir.StopReason.PAUSE_TURN: "stop",
    ir.StopReason.MAX_TOKENS: "length",
    ir.StopReason.CONTEXT_EXCEEDED: "length",
    ir.StopReason.TOOL_USE: "tool_calls",
    ir.StopReason.REFUSAL: "content_filter",
}
# finish reasons that mean the generation failed: (kind, message)
FAILED_FINISHES: dict[str, tuple[ErrorKind, str]] = {
    "insufficient_system_resource": (
        ErrorKind.OVERLOADED,
        "upstream interrupted the generation: insufficient system resource",
    ),
    "error": (ErrorKind.SERVER, "upstream reported an error during generation"),
}


def stop_reason(finish_reason: str | None, tool_calls: int, refusal: bool = False) -> ir.StopReason:
    """The stop reason, with the tool override: calls that survived win; `tool_calls` without any means end_turn."""
    if tool_calls:
        return ir.StopReason.TOOL_USE
    reason = _FINISH_REASONS.get(finish_reason or "stop", ir.StopReason.END_TURN)
    if reason is ir.StopReason.TOOL_USE:
        return ir.StopReason.END_TURN
    return ir.StopReason.REFUSAL if refusal else reason


def finish_reason_name(reason: ir.StopReason) -> str:
    return _FINISH_NAMES[reason]


def usage_from(raw: Any) -> ir.Usage:
    """IR usage: cached and cache-write tokens out of prompt_tokens; DeepSeek's hit/miss when present."""
    if not isinstance(raw, Mapping):
        return ir.Usage()
    prompt = _count(raw.get("prompt_tokens"))
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    output_details = raw.get("completion_tokens_details")
    reasoning = _count(output_details.get("reasoning_tokens")) if isinstance(output_details, Mapping) else 0
    if "prompt_cache_hit_tokens" in raw:
        cache_read = _count(raw.get("prompt_cache_hit_tokens"))
        miss = raw.get("prompt_cache_miss_tokens")
        uncached = _count(miss) if miss is not None else max(prompt - cache_read, 0)
        cache_write = 0
    else:
        cache_read = _count(details.get("cached_tokens"))
        cache_write = _count(details.get("cache_write_tokens"))
        uncached = max(prompt - cache_read - cache_write, 0)
    return ir.Usage(uncached, cache_read, cache_write, _count(raw.get("completion_tokens")), reasoning)


def _count(value: Any) -> int:
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_dict(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.input_total
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output,
        "total_tokens": prompt + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_output},
    }


def reasoning_signature(model: str) -> str:
    """The carrier that signs reasoning from a Chat upstream,, so it can be passed back later."""
    return carrier.make_carrier(carrier.CHAT, model)


def parse_response(body: Mapping[str, Any], model: str = "") -> ir.Response:
    """An upstream chat.completion as the IR; a failed generation raises UpstreamError."""
    kind, message = error_from_payload(body)
    if kind is not None:
        raise UpstreamError(message, kind=kind)
    model = str(body.get("model") or model)
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else None
    usage = usage_from(body.get("usage"))
    if choice is None:  # some providers answer a content filter with no choice at all
        return ir.Response(str(body.get("id", "")), model, (), ir.StopReason.REFUSAL, None, usage)
    finish = choice.get("finish_reason")
    if finish in FAILED_FINISHES:
        failed_kind, failed_message = FAILED_FINISHES[str(finish)]
        raise UpstreamError(failed_message, kind=failed_kind)
    raw_message = choice.get("message")
    content, refusal = _blocks(raw_message if isinstance(raw_message, Mapping) else {}, model)
    calls = sum(isinstance(b, ir.ToolCall) for b in content)
    reason = stop_reason(finish if isinstance(finish, str) else None, calls, refusal)
    return ir.Response(str(body.get("id", "")), model, content, reason, None, usage)


def _blocks(message: Mapping[str, Any], model: str) -> tuple[tuple[ir.Block, ...], bool]:
    blocks: list[ir.Block] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        blocks.append(ir.Thinking(reasoning, reasoning_signature(model)))
    text = _text(message.get("content"))
    if text:
        blocks.append(ir.Text(text))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        blocks.append(ir.Text(refusal))
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        parsed = _call(call)
        if parsed is not None:
            blocks.append(parsed)
    return tuple(blocks), isinstance(refusal, str) and bool(refusal)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def _call(raw: Any) -> ir.ToolCall | None:
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not function.get("name"):
        return None
    args = function.get("arguments")
    args_json = stable_arguments(args) if isinstance(args, str) else stable_json(args if args is not None else {})
    return ir.ToolCall(str(raw.get("id") or random_id("call_")), str(function["name"]), args_json)


def render_response(
    response: ir.Response, client_model: str, *, created: int | None = None, reasoning: bool = False
) -> dict[str, Any]:
    """A chat.completion for an OpenAI client; `reasoning` adds thinking as `reasoning_content`."""
    text = "".join(b.text for b in response.content if isinstance(b, ir.Text))
    calls = [_render_call(b) for b in response.content if isinstance(b, ir.ToolCall)]
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    thinking = "".join(b.text for b in response.content if isinstance(b, ir.Thinking))
    if reasoning and thinking:
        message["reasoning_content"] = thinking
    if calls:
        message["tool_calls"] = calls
    finish = finish_reason_name(response.stop_reason)
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": client_model,
        "choices": [choice],
        "usage": usage_dict(response.usage),
    }


def completion_id() -> str:
    """A fresh `chatcmpl-` id for every completion the gateway renders, never the upstream's."""
    return random_id("chatcmpl-")


def _render_call(call: ir.ToolCall) -> dict[str, Any]:
    arguments = stable_json(parse_arguments(call.args_json))
    return {"id": openai_tool_id(call.id), "type": "function", "function": {"name": call.name, "arguments": arguments}}
