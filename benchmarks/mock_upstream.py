"""A canned Anthropic + OpenAI-compatible upstream on raw asyncio, fast enough never to be the limit.

    python benchmarks/mock_upstream.py --port 9100

No framework, no JSON parsing of the request: an `asyncio.Protocol` reads HTTP/1.1 requests on
keep-alive connections (Content-Length or chunked bodies) and answers from bytes built once.

    POST [/<shape>]/v1/messages            an Anthropic message
    POST [/<shape>]/v1/chat/completions    an OpenAI chat completion

A body holding `"stream":true` (with or without a space) gets an SSE stream in chunked transfer
encoding (in one write, or one write per event when they are spaced out by `d`); any other body
gets the whole JSON answer. `<shape>` sets the answer:
`w20` (words of text, default 20; a stream sends one word per delta event), `d100` (milliseconds
between stream events, default 0) and `t` (each word is the monotonic time it was sent, so a client
can tell how late each event arrived). Example: `/w10-d100-t/v1/chat/completions`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Shape:
    words: int = 20
    delay_ms: float = 0.0
    stamped: bool = False


def parse_shape(path: str) -> tuple[Shape, str]:
    """The answer shape named by the path's first segment (when it is not `v1`), and the rest."""
    head, _, rest = path.lstrip("/").partition("/")
    if head == "v1" or not rest:
        return Shape(), path
    words, delay, stamped = 20, 0.0, False
    for part in head.split("-"):
        if part.startswith("w"):
            words = int(part[1:])
        elif part.startswith("d"):
            delay = float(part[1:])
        elif part == "t":
            stamped = True
    return Shape(words, delay, stamped), "/" + rest


# ---------------------------------------------------------------------------------------- bodies


def _sse(event: str | None, data: object) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def anthropic_json(words: int) -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-bench",
            "content": [{"type": "text", "text": " ".join(["word"] * words)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": words},
        }
    ).encode()


def openai_json(words: int) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": " ".join(["word"] * words)},
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words},
        }
    ).encode()


def anthropic_events(words: int) -> tuple[list[bytes], bytes, list[bytes]]:
    """(events before the text, one text delta with `{WORD}` in place of the word, events after)."""
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 1},
    }
    head = [
        _sse("message_start", {"type": "message_start", "message": message}),
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    delta = _sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "{WORD}"}},
    )
    tail = [
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": words},
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    return head, delta, tail


def openai_events(words: int) -> tuple[list[bytes], bytes, list[bytes]]:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return _sse(None, body)

    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words},
    }
    head = [chunk({"role": "assistant", "content": ""})]
    tail = [chunk({}, "stop"), _sse(None, usage), b"data: [DONE]\n\n"]
    return head, chunk({"content": "{WORD}"}), tail


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@lru_cache(maxsize=256)
def canned(anthropic: bool, shape: Shape) -> tuple[bytes, list[bytes], bytes, list[bytes]]:
    """(whole JSON response, stream head frames, delta template, stream tail frames), HTTP-framed."""
    body = anthropic_json(shape.words) if anthropic else openai_json(shape.words)
    json_response = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    head, delta, tail = anthropic_events(shape.words) if anthropic else openai_events(shape.words)
    start = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    framed_head = [start + _chunked(head[0])] + [_chunked(e) for e in head[1:]]
    framed_tail = [_chunked(e) for e in tail] + [b"0\r\n\r\n"]
    return json_response, framed_head, delta, framed_tail


# -------------------------------------------------------------------------------------- protocol


class MockProtocol(asyncio.Protocol):
    """One keep-alive connection: parse a request, answer it, repeat."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # a stream is being written: later pipelined requests wait

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.process()

    def process(self) -> None:
        while not self.busy:
            request = take_request(self.buffer)
            if request is None:
                return
            path, body = request
            self.answer(path, body)

    def answer(self, path: str, body: bytes) -> None:
        assert self.transport is not None
        shape, rest = parse_shape(path)
        if not rest.endswith(("/messages", "/chat/completions")):
            self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            return
        json_response, head, delta, tail = canned(rest.endswith("/messages"), shape)
        if b'"stream":true' not in body and b'"stream": true' not in body:
            self.transport.write(json_response)
            return
        if shape.delay_ms == 0 and not shape.stamped:  # as a fast upstream's events reach a reader: together
            self.transport.write(
                b"".join(head) + _chunked(delta.replace(b"{WORD}", b"word ")) * shape.words + b"".join(tail)
            )
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self.slow_stream(shape, head, delta, tail))

    async def slow_stream(self, shape: Shape, head: list[bytes], delta: bytes, tail: list[bytes]) -> None:
        assert self.transport is not None
        try:
            for frame in head:
                self.transport.write(frame)
            for _ in range(shape.words):
                if shape.delay_ms:
                    await asyncio.sleep(shape.delay_ms / 1000)
                if self.transport.is_closing():
                    return
                word = b"%.6f " % time.monotonic() if shape.stamped else b"word "
                self.transport.write(_chunked(delta.replace(b"{WORD}", word)))
            for frame in tail:
                self.transport.write(frame)
        finally:
            self.busy = False
        self.process()


def take_request(buffer: bytearray) -> tuple[str, bytes] | None:
    """Take one whole request off the front of `buffer`: (path, body), or None when incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1")
    request_line, *lines = head.split("\r\n")
    path = request_line.split(" ", 2)[1]
    length, chunked = 0, False
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    start = end + 4
    if chunked:
        decoded = _dechunk(buffer, start)
        if decoded is None:
            return None
        body, stop = decoded
        del buffer[:stop]
        return path, body
    if len(buffer) < start + length:
        return None
    body = bytes(buffer[start : start + length])
    del buffer[: start + length]
    return path, body


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int] | None:
    parts: list[bytes] = []
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return None
            return b"".join(parts), trailer_end + 4
        if len(buffer) < line_end + 2 + size + 2:
            return None
        parts.append(bytes(buffer[line_end + 2 : line_end + 2 + size]))
        at = line_end + 2 + size + 2


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MockProtocol, host, port, backlog=4096, reuse_address=True)
    print(f"mock upstream on http://{host}:{port} (pid {os.getpid()})", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
