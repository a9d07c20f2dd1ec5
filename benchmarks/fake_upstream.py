"""A fast fake Anthropic + OpenAI-compatible upstream for benchmarks: canned answers, no logic.

    python benchmarks/fake_upstream.py --port 9101 [--events 50]

`POST /v1/messages` answers an Anthropic message (JSON, or SSE with `stream: true`);
`POST /v1/chat/completions` answers an OpenAI chat completion (JSON or chunks).
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


def anthropic_stream(events: int) -> bytes:
    def ev(name: str, data: dict[str, object]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    usage = {"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    parts = [
        ev("message_start", {"type": "message_start", "message": message}),
        ev(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "word "}}
    parts += [ev("content_block_delta", delta)] * events
    parts += [
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": events},
            },
        ),
        ev("message_stop", {"type": "message_stop"}),
    ]
    return "".join(parts).encode()


def openai_stream(events: int) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    parts = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": "word "})] * events
    parts.append(chunk({}, "stop"))
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": events, "total_tokens": 100 + events},
    }
    parts.append(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n")
    return "".join(parts).encode()


def make_app(events: int) -> web.Application:
    a_stream, o_stream = anthropic_stream(events), openai_stream(events)
    a_json = json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-bench",
            "content": [{"type": "text", "text": "word " * events}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": events},
        }
    ).encode()
    o_json = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "bench",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "word " * events}}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": events, "total_tokens": 100 + events},
        }
    ).encode()

    async def answer(request: web.Request, stream_body: bytes, json_body: bytes) -> web.Response:
        body = await request.json()
        if body.get("stream"):
            return web.Response(body=stream_body, content_type="text/event-stream")
        return web.Response(body=json_body, content_type="application/json")

    async def messages(request: web.Request) -> web.Response:
        return await answer(request, a_stream, a_json)

    async def chat(request: web.Request) -> web.Response:
        return await answer(request, o_stream, o_json)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()
    web.run_app(make_app(args.events), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
