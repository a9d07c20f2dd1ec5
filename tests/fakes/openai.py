"""Builders for OpenAI Chat Completions wire-format replies: chunks, SSE streams, completions, errors.

Shapes follow what OpenAI-compatible providers really send: every chunk
carries `id`, `object`, `created` and `model`; DeepSeek reports cache hits as
`prompt_cache_hit_tokens`/`prompt_cache_miss_tokens`, OpenAI as `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.upstream import Reply, ScriptedModel

CHUNK_ID = "chatcmpl-fake01"
CREATED = 1767225600


def usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """OpenAI-style usage: `prompt_tokens` includes the cached ones."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def deepseek_usage(hit: int, miss: int, completion: int, *, reasoning: int = 0) -> dict[str, Any]:
    """DeepSeek-style usage: cache hits and misses add up to `prompt_tokens`."""
    return {
        "prompt_tokens": hit + miss,
        "completion_tokens": completion,
        "total_tokens": hit + miss + completion,
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": miss,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def chunk(
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    *,
    model: str = "deepseek-chat",
    chunk_usage: dict[str, Any] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; `choices=False` makes the final usage-only chunk (`choices: []`)."""
    body: dict[str, Any] = {"id": CHUNK_ID, "object": "chat.completion.chunk", "created": CREATED, "model": model}
    body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}] if choices else []
    body["usage"] = chunk_usage
    return body


def tool_delta(index: int, *, call_id: str | None = None, name: str | None = None, args: str = "") -> dict[str, Any]:
    """A `delta` with one tool-call fragment; the first fragment of a call carries id and name."""
    call: dict[str, Any] = {"index": index}
    if call_id is not None:
        call.update(id=call_id, type="function")
    function: dict[str, Any] = {"arguments": args}
    if name is not None:
        function["name"] = name
    call["function"] = function
    return {"tool_calls": [call]}


def data(payload: dict[str, Any] | str) -> bytes:
    """One SSE event as OpenAI writes it: a `data:` line, no event name."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


DONE = data("[DONE]")


def sse(*chunks: dict[str, Any] | float, done: bool = True) -> list[bytes | float]:
    """The body of a stream: each chunk as a `data:` event, floats kept as pauses, then `[DONE]`."""
    out: list[bytes | float] = [c if isinstance(c, float) else data(c) for c in chunks]
    return [*out, DONE] if done else out


def text_stream(
    *pieces: str,
    model: str = "deepseek-chat",
    reasoning: tuple[str, ...] = (),
    finish_reason: str = "stop",
    final_usage: dict[str, Any] | None = None,
) -> list[bytes | float]:
    """A role chunk, reasoning deltas, text deltas, the finish chunk, then usage in a `choices: []` chunk."""
    chunks = [chunk({"role": "assistant", "content": ""}, model=model)]
    chunks += [chunk({"reasoning_content": r}, model=model) for r in reasoning]
    chunks += [chunk({"content": p}, model=model) for p in pieces]
    chunks.append(chunk({}, finish_reason, model=model))
    chunks.append(chunk(model=model, chunk_usage=final_usage or usage(10, 5), choices=False))
    return sse(*chunks)


def completion(
    content: str | None = None,
    *,
    model: str = "deepseek-chat",
    reasoning_content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    body_usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole `chat.completion`."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": CHUNK_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": body_usage or usage(10, 5),
    }


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A whole tool call as it sits in `message.tool_calls` (arguments as a JSON string)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def error(message: str, error_type: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def answer(
    body: dict[str, Any], text: str = "", *, reasoning: tuple[str, ...] = (), calls: list[dict[str, Any]] | None = None
) -> Reply:
    """The reply a model gives to `body`: streamed when it asked for a stream, else one JSON completion.

    `calls` are whole tool calls (`call()`); streamed, each one's arguments come in two fragments.
    """
    model = str(body.get("model", "deepseek-chat"))
    finish = "tool_calls" if calls else "stop"
    if not body.get("stream"):
        return Reply.json(
            completion(
                text or None,
                model=model,
                reasoning_content="".join(reasoning) or None,
                tool_calls=calls,
                finish_reason=finish,
            )
        )
    chunks = [chunk({"role": "assistant", "content": ""}, model=model)]
    chunks += [chunk({"reasoning_content": r}, model=model) for r in reasoning]
    chunks += [chunk({"content": text}, model=model)] if text else []
    for index, whole in enumerate(calls or []):
        args = whole["function"]["arguments"]
        half = len(args) // 2
        chunks.append(
            chunk(tool_delta(index, call_id=whole["id"], name=whole["function"]["name"], args=args[:half]), model=model)
        )
        chunks.append(chunk(tool_delta(index, args=args[half:]), model=model))
    chunks.append(chunk({}, finish, model=model))
    chunks.append(chunk(model=model, chunk_usage=usage(100, 10), choices=False))
    return Reply.sse(sse(*chunks))


class ChatModel(ScriptedModel):
    """A fake OpenAI-compatible model answering `/chat/completions` by reading each request."""
