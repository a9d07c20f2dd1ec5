"""`server.client_timeouts` in a real `axonhub serve`: slow clients are cut off, slow answers are not.

Raw sockets play the slow clients (a slow-loris header trickle, an idle keep-alive connection, a
body that stops halfway); the official SDK reads a stream the upstream takes longer to produce
than every client limit together.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import anthropic
import pytest

from tests.conftest import SECRET, ServeFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.serve_process import ServeProcess

pytestmark = pytest.mark.slow

ENV = {"FAKE_ANTHROPIC_KEY": "sk-ant-upstream-secret-key-000"}
LIMITS = {"headers": 1.5, "body": 1, "keepalive": 3}  # the keep-alive timer also runs from connect
SLACK = 5.0  # generous: the point is that the connection is closed at all, not the exact moment


async def start(serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path) -> ServeProcess:
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["server"]["client_timeouts"] = LIMITS
    return await serve(write_config(tmp_path / "axonhub.yml", data), env=ENV)


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent until it closed the connection (fails if it did not, in time)."""
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def test_slow_loris_connections_are_closed_after_the_header_timeout(
    serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    server = await start(serve, upstream, tmp_path)

    async def trickle() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        closed = asyncio.create_task(closed_by_server(reader, LIMITS["headers"] + SLACK))
        while not closed.done():  # one header line a second, never the blank line that ends them
            try:
                writer.write(f"X-Slow-{sent}: {'a' * 20}\r\n".encode())
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
            await asyncio.wait([closed], timeout=1.0)
        received = await closed
        writer.close()
        return sent, received

    results = await asyncio.gather(*(trickle() for _ in range(20)))
    assert [received for _, received in results] == [b""] * 20  # dropped without an answer
    assert all(sent <= LIMITS["headers"] + 2 for sent, _ in results)
    closed = await server.wait_for_event("connection closed: request headers incomplete", count=20)
    assert closed[0]["limit_s"] == LIMITS["headers"]


async def test_an_idle_keepalive_connection_is_closed_after_its_timeout_and_used_before(
    serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    server = await start(serve, upstream, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for _ in range(2):  # the connection is kept alive between requests
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        assert json.loads(await reader.readexactly(length))["status"] == "ok"
        await asyncio.sleep(LIMITS["keepalive"] / 4)
    assert await closed_by_server(reader, LIMITS["keepalive"] + SLACK) == b""
    writer.close()


async def test_a_body_that_stops_halfway_gets_an_error_and_the_connection_closed(
    serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    server = await start(serve, upstream, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"x-api-key: {SECRET}\r\nContent-Length: 500\r\n\r\n".encode()
        + b'{"model": "claude-sonnet-4-5", '
    )
    answer = await closed_by_server(reader, LIMITS["body"] + SLACK)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    parsed = json.loads(body)
    assert parsed == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "the request body did not arrive within 1s (server.client_timeouts.body); "
            "the connection is closed",
        },
        "request_id": parsed["request_id"],
    }
    assert upstream.requests == []


async def test_a_slow_streaming_answer_is_not_cut_by_any_client_timeout(
    serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    msg = wire.message([{"type": "text", "text": "slow but whole"}])
    events = wire.stream_events(msg)
    slow: list[bytes | float] = []
    for event in events:  # about 1.5 s between events: longer than every client limit in total
        slow += [event, 1.5 if len(slow) < 8 else 0.0]
    upstream.enqueue(Reply.sse(slow))
    server = await start(serve, upstream, tmp_path)
    async with (
        anthropic.AsyncAnthropic(base_url=server.url, api_key=SECRET, max_retries=0) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert (text, final.stop_reason) == ("slow but whole", "end_turn")
