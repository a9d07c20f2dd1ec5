"""Anthropic Messages responses to and from the IR, usage and stop reasons.

`render_response` writes what an Anthropic client gets: a `msg_` id, the model name the client
asked for, no empty text blocks, every thinking block signed (a gateway carrier when the upstream
gave no signature), and the full usage object with both cache fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from axonhub import ir
from axonhub.formats import carrier
from axonhub.formats.tool_calls import anthropic_tool_id, parse_arguments, stable_json
from axonhub.ids import random_id

_STOP_REASONS: dict[str, ir.StopReason] = {
    "end_turn": ir.StopReason.END_TURN,
    "max_tokens": ir.StopReason.MAX_TOKENS,
    "stop_sequence": ir.StopReason.STOP_SEQUENCE,
    "tool_use": ir.StopReason.TOOL_USE,
    "refusal": ir.StopReason.REFUSAL,
    "pause_turn": ir.StopReason.PAUSE_TURN,
    "model_context_window_exceeded": ir.StopReason.CONTEXT_EXCEEDED,
}
_STOP_REASON_NAMES: dict[ir.StopReason, str] = {reason: name for name, reason in _STOP_REASONS.items()}


def stop_reason_from(value: Any) -> ir.StopReason:
    return _STOP_REASONS.get(str(value), ir.StopReason.END_TURN)


def stop_reason_name(reason: ir.StopReason) -> str:
    return _STOP_REASON_NAMES[reason]


def message_id() -> str:
    """A fresh `msg_` id for every message the gateway renders.

    Never derived from the upstream's id: upstreams that repeat ids (Ollama's `chatcmpl-<n>`, proxies
    with a constant id) would make Claude Code merge separate turns into one message. The upstream's
    id is kept in the trace instead.
    """
    return random_id("msg_")


def usage_from(raw: Any, base: ir.Usage | None = None) -> ir.Usage:
    """IR usage from an Anthropic usage object; fields it lacks keep their `base` value."""
    base = base or ir.Usage()
    if not isinstance(raw, Mapping):
        return base
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return ir.Usage(
        input_uncached=_count(raw.get("input_tokens"), base.input_uncached),
        cache_read=_count(raw.get("cache_read_input_tokens"), base.cache_read),
        cache_write=_count(raw.get("cache_creation_input_tokens"), base.cache_write),
        output=_count(raw.get("output_tokens"), base.output),
        reasoning_output=_count(thinking, base.reasoning_output),
    )


def _count(value: Any, default: int) -> int:
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else default


def usage_dict(usage: ir.Usage) -> dict[str, int]:
    """The four usage fields Anthropic clients require (message_start, message_delta, responses)."""
    return {
        "input_tokens": usage.input_uncached,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": usage.output,
    }


def parse_response(body: Mapping[str, Any]) -> ir.Response:
    content = body.get("content")
    blocks = [_parse_block(b) for b in content if isinstance(b, Mapping)] if isinstance(content, list) else []
    stop_sequence = body.get("stop_sequence")
    return ir.Response(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=tuple(b for b in blocks if b is not None),
        stop_reason=stop_reason_from(body.get("stop_reason")),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=usage_from(body.get("usage")),
    )


def _parse_block(raw: Mapping[str, Any]) -> ir.Block | None:
    match raw.get("type"):
        case "text":
            return ir.Text(str(raw.get("text", "")))
        case "thinking":
            signature = raw.get("signature")
            return ir.Thinking(str(raw.get("thinking", "")), signature if isinstance(signature, str) else None)
        case "redacted_thinking":
            return ir.RedactedThinking(str(raw.get("data", "")))
        case "tool_use":
            args = raw.get("input")
            return ir.ToolCall(
                str(raw.get("id", "")), str(raw.get("name", "")), stable_json(args if isinstance(args, dict) else {})
            )
    return ir.Opaque("anthropic", dict(raw))


def fallback_signature(model: str) -> str:
    """The signature of a thinking block whose upstream gave none: a gateway carrier."""
    return carrier.make_carrier(carrier.GATEWAY, model)


def render_response(response: ir.Response, client_model: str) -> dict[str, Any]:
    content = [b for b in (_render_block(block, response.model) for block in response.content) if b is not None]
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": content,
        "stop_reason": stop_reason_name(response.stop_reason),
        "stop_sequence": response.stop_sequence,
        "usage": usage_dict(response.usage),
    }


def _render_block(block: ir.Block, model: str) -> dict[str, Any] | None:
    match block:
        case ir.Text(text=text):
            return {"type": "text", "text": text} if text else None
        case ir.Thinking(text=text, signature=signature):
            return {"type": "thinking", "thinking": text, "signature": signature or fallback_signature(model)}
        case ir.RedactedThinking(data=data):
            return {"type": "redacted_thinking", "data": data}
        case ir.ToolCall(id=call_id, name=name, args_json=args):
            return {"type": "tool_use", "id": anthropic_tool_id(call_id), "name": name, "input": parse_arguments(args)}
        case ir.Opaque(provider="anthropic", raw=raw):
            return dict(raw)
        case ir.Opaque() | ir.Image() | ir.Document() | ir.ToolResult():
            return None
        case _:
            assert_never(block)
