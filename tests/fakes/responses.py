"""Builders for OpenAI Responses wire-format replies: response objects, SSE streams, errors, a fake model.

Streams follow what OpenAI's API sends: `event:` lines naming each event, `sequence_number` rising
from 0, one response id throughout, per output item `output_item.added`, its deltas and
`output_item.done`, then `response.completed` (or `.incomplete` / `.failed`) with the whole response.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.upstream import Reply, ScriptedModel

RESPONSE_ID = "resp_upstream01"
CREATED = 1767225600


def usage(input_tokens: int = 100, output_tokens: int = 10, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def message(text: str, item_id: str = "msg_up1") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": [part]}


def reasoning(summary: str, encrypted: str = "gAAAAopaque==", item_id: str = "rs_up1") -> dict[str, Any]:
    parts = [{"type": "summary_text", "text": summary}] if summary else []
    return {"id": item_id, "type": "reasoning", "summary": parts, "encrypted_content": encrypted}


def function_call(call_id: str, name: str, arguments: str, item_id: str = "fc_up1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def custom_call(call_id: str, name: str, text: str, item_id: str = "ctc_up1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "input": text,
    }


def response(
    output: list[dict[str, Any]],
    *,
    status: str = "completed",
    model: str = "gpt-5",
    body_usage: dict[str, Any] | None = None,
    incomplete: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": body_usage if body_usage is not None else (usage() if status != "failed" else None),
    }


class Events:
    """Writes one stream's events with rising sequence numbers."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def item_events(event: Events, index: int, item: dict[str, Any], pieces: int = 2) -> list[bytes]:
    """The events of one output item, its text, summary or arguments in `pieces` deltas."""
    kind, item_id = item["type"], item["id"]
    shell: dict[str, Any] = {**item, "status": "in_progress"}
    where = {"item_id": item_id, "output_index": index}
    out: list[bytes] = []
    if kind == "message":
        shell["content"] = []
        out.append(event("response.output_item.added", output_index=index, item=shell))
        text = item["content"][0]["text"]
        empty = {"type": "output_text", "text": "", "annotations": []}
        out.append(event("response.content_part.added", **where, content_index=0, part=empty))
        out += [
            event("response.output_text.delta", **where, content_index=0, delta=d, logprobs=[])
            for d in split(text, pieces)
        ]
        out.append(event("response.output_text.done", **where, content_index=0, text=text, logprobs=[]))
        out.append(event("response.content_part.done", **where, content_index=0, part=item["content"][0]))
    elif kind == "reasoning":
        shell = {"id": item_id, "type": "reasoning", "summary": []}
        out.append(event("response.output_item.added", output_index=index, item=shell))
        for n, part in enumerate(item["summary"]):
            out.append(
                event(
                    "response.reasoning_summary_part.added",
                    **where,
                    summary_index=n,
                    part={"type": "summary_text", "text": ""},
                )
            )
            out += [
                event("response.reasoning_summary_text.delta", **where, summary_index=n, delta=d)
                for d in split(part["text"], pieces)
            ]
            out.append(event("response.reasoning_summary_text.done", **where, summary_index=n, text=part["text"]))
            out.append(event("response.reasoning_summary_part.done", **where, summary_index=n, part=part))
    elif kind == "function_call":
        shell["arguments"] = ""
        out.append(event("response.output_item.added", output_index=index, item=shell))
        out += [
            event("response.function_call_arguments.delta", **where, delta=d) for d in split(item["arguments"], pieces)
        ]
        out.append(
            event("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
        )
    elif kind == "custom_tool_call":
        shell["input"] = ""
        out.append(event("response.output_item.added", output_index=index, item=shell))
        out += [event("response.custom_tool_call_input.delta", **where, delta=d) for d in split(item["input"], pieces)]
        out.append(event("response.custom_tool_call_input.done", **where, input=item["input"]))
    else:
        out.append(event("response.output_item.added", output_index=index, item=shell))
    out.append(event("response.output_item.done", output_index=index, item=item))
    return out


def split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_events(whole: dict[str, Any], pieces: int = 2) -> list[bytes]:
    """The SSE events OpenAI sends for the response `whole`."""
    event = Events()
    opening = {**whole, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    out = [event("response.created", response=opening), event("response.in_progress", response=opening)]
    for index, item in enumerate(whole["output"]):
        out += item_events(event, index, item, pieces)
    terminal = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}
    out.append(event(terminal[whole["status"]], response=whole))
    return out


def answer(body: dict[str, Any], output: list[dict[str, Any]], **options: Any) -> Reply:
    """The reply a model gives to `body`: streamed when it asked for a stream, else the response JSON."""
    whole = response(output, model=str(body.get("model", "gpt-5")), **options)
    return Reply.sse(list(stream_events(whole))) if body.get("stream") else Reply.json(whole)


def error(message: str, error_type: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


class ResponsesModel(ScriptedModel):
    """A fake OpenAI Responses API answering `/v1/responses` by reading each request."""
