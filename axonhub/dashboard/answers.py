"""One answer, as a replay compares it: text, tool calls and their arguments, stop reason, usage,
latency, cost, and where it was served. Format-agnostic: the client format's codec reads the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.config import Price
from axonhub.dashboard.queries import record_cost
from axonhub.errors import GatewayError
from axonhub.stream_answer import format_named, model_only


def content_of(client_format: str, body: Any) -> dict[str, Any]:
    """Text, thinking and tool calls of a whole answer body in `client_format`.

    A body the trace could not keep whole (truncated, a stream that failed) says so in `note`.
    """
    empty: dict[str, Any] = {"text": "", "thinking": "", "tool_calls": [], "note": None}
    if body is None:
        return {**empty, "note": "no answer body was recorded"}
    if not isinstance(body, dict):
        return {**empty, "text": str(body)[:20_000], "note": "the answer is not JSON"}
    if body.get("truncated") is True:
        return {**empty, "note": f"the recorded answer was truncated ({body.get('bytes')} bytes)"}
    if "stream_error" in body:
        return {**empty, "text": str(body.get("partial_text") or ""), "note": f"stream failed: {body['stream_error']}"}
    client = format_named(client_format)
    if client is None:
        return {**empty, "note": f"no codec reads {client_format} answers"}
    try:
        response = client.codec.parse_response(body, model_only(str(body.get("model") or "")))
    except (GatewayError, KeyError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, GatewayError) else repr(exc)
        return {**empty, "note": f"the answer could not be read: {message}"}
    texts, thinking, calls = [], [], []
    for block in response.content:
        if isinstance(block, ir.Text):
            texts.append(block.text)
        elif isinstance(block, ir.Thinking):
            thinking.append(block.text)
        elif isinstance(block, ir.ToolCall):
            calls.append({"id": block.id, "name": block.name, "arguments": _arguments(block.args_json)})
    return {"text": "\n".join(texts), "thinking": "\n".join(thinking), "tool_calls": calls, "note": None}


def _arguments(args_json: str) -> Any:
    try:
        return json.loads(args_json) if args_json.strip() else {}
    except ValueError:
        return args_json


def answer(record: Mapping[str, Any], body: Any, pricing: Mapping[str, Price]) -> dict[str, Any]:
    """The comparable view of one exchange: its record's numbers and its answer's content."""
    timings = record.get("timings") or {}
    return {
        "request_id": record.get("request_id"),
        "profile": record.get("profile"),
        "requested_model": record.get("requested_model"),
        "resolved_model": record.get("resolved_model"),
        "channel": record.get("channel"),
        "status": record.get("status"),
        "stop_reason": record.get("stop_reason"),
        "usage": record.get("usage"),
        "latency_ms": timings.get("total_ms"),
        "ttfb_ms": timings.get("ttfb_ms"),
        "cost_usd": record_cost(record, pricing),
        "error": record.get("error"),
        **content_of(str(record.get("client_format") or ""), body),
    }


def difference(original: Mapping[str, Any], replay: Mapping[str, Any]) -> dict[str, Any]:
    """Replay minus original: tokens, latency and cost (None where either side is unknown)."""
    return {
        "input": _minus(_tokens(replay, "input"), _tokens(original, "input")),
        "output": _minus(_tokens(replay, "output"), _tokens(original, "output")),
        "cache_read": _minus(_tokens(replay, "cache_read"), _tokens(original, "cache_read")),
        "latency_ms": _minus(replay.get("latency_ms"), original.get("latency_ms")),
        "cost_usd": _minus(replay.get("cost_usd"), original.get("cost_usd")),
    }


def _tokens(side: Mapping[str, Any], name: str) -> int | None:
    usage = side.get("usage")
    value = usage.get(name) if isinstance(usage, dict) else None
    return int(value) if isinstance(value, int | float) else None


def _minus(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    return round(a - b, 6)


def totals(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over a session replay: each side's tokens, latency and cost, and the difference."""

    def side(name: str) -> dict[str, Any]:
        out: dict[str, Any] = {"input": 0, "output": 0, "cache_read": 0, "latency_ms": 0.0, "cost_usd": None}
        for pair in pairs:
            view = pair[name]
            for token in ("input", "output", "cache_read"):
                out[token] += _tokens(view, token) or 0
            out["latency_ms"] = round(out["latency_ms"] + (view.get("latency_ms") or 0), 2)
            if view.get("cost_usd") is not None:
                out["cost_usd"] = round((out["cost_usd"] or 0.0) + view["cost_usd"], 6)
        return out

    original, replay = side("original"), side("replay")
    # Only pairs where both sides answered are compared: two failures agree on nothing.
    answered = [p for p in pairs if p["original"]["stop_reason"] and p["replay"]["stop_reason"]]
    return {
        "requests": len(pairs),
        "original": original,
        "replay": replay,
        "difference": {name: _minus(replay[name], original[name]) for name in original},
        "same_stop_reasons": sum(1 for p in answered if p["original"]["stop_reason"] == p["replay"]["stop_reason"]),
        "same_tools": sum(
            1
            for p in answered
            if [c["name"] for c in p["original"]["tool_calls"]] == [c["name"] for c in p["replay"]["tool_calls"]]
        ),
    }
