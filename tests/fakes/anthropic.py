"""Builders for Anthropic wire-format replies: messages, SSE streams, errors."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.upstream import Reply, ScriptedModel


def message(
    content: list[dict[str, Any]] | None = None,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    msg_id: str = "msg_fake01",
) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content if content is not None else [{"type": "text", "text": "Hello from the fake upstream."}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage
        or {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7},
    }


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


def stream_events(msg: dict[str, Any]) -> list[bytes]:
    """The SSE events Anthropic sends for `msg`, block by block, in the documented order."""
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**msg["usage"], "output_tokens": 1}
    out = [event("message_start", {"type": "message_start", "message": start}), event("ping", {"type": "ping"})]
    for index, block in enumerate(msg["content"]):
        out += _block_events(index, block)
    out.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"]},
                "usage": {"output_tokens": msg["usage"]["output_tokens"]},
            },
        )
    )
    out.append(event("message_stop", {"type": "message_stop"}))
    return out


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block["text"]}]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        text = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [{"type": "input_json_delta", "partial_json": text[i : i + 7]} for i in range(0, len(text), 7)]
    else:
        start, deltas = block, []
    out = [event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    out += [event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def error(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def answer(body: dict[str, Any], content: list[dict[str, Any]], stop_reason: str | None = None) -> Reply:
    """The reply a model gives to `body`: streamed when it asked for a stream, else one JSON message."""
    reason = stop_reason or ("tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
    msg = message(content, model=str(body.get("model", "claude-sonnet-4-5")), stop_reason=reason)
    return Reply.sse(list(stream_events(msg))) if body.get("stream") else Reply.json(msg)


class MessagesModel(ScriptedModel):
    """A fake Anthropic model answering `/v1/messages` by reading each request."""
