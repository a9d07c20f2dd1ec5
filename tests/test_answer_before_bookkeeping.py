"""An answer reaches the client before the gateway's bookkeeping (trace record, log line, metrics)
runs: the client never waits for it.

The bookkeeping is made to block the event loop for a second; a client on a plain socket in another
thread must have the whole answer well before that second is over: on the standard event loop and on
uvloop (what `axonhub serve` runs), a JSON answer and a stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import uvloop
from aiohttp.test_utils import TestServer

from axonhub.appkeys import ON_EXCHANGE_DONE
from axonhub.config import load_config
from axonhub.server import make_app
from axonhub.trace_record import TraceRecord
from tests.conftest import SECRET, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

BLOCK_S = 1.0
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def ask_on_a_socket(port: int, stream: bool) -> tuple[float, bytes]:
    """(seconds until the answer was whole, the bytes received)."""
    body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 10,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        received = b""
        while not (received.endswith(b"\r\n0\r\n\r\n") if stream else b'"end_turn"' in received):
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
    return time.monotonic() - began, received


async def scenario(tmp_path: Path, stream: bool) -> tuple[float, bytes, list[TraceRecord]]:
    upstream = FakeUpstream()
    await upstream.start()
    message = wire.message([{"type": "text", "text": "first"}])
    upstream.enqueue(Reply.sse(wire.stream_events(message)) if stream else Reply.json(message))
    server = TestServer(
        make_app(load_config(write_config(tmp_path / "axonhub.yml", base_config(upstream.url, tmp_path / "t.jsonl")))),
        host="127.0.0.1",
    )
    await server.start_server()
    booked: list[TraceRecord] = []

    def slow_bookkeeping(record: TraceRecord) -> None:
        time.sleep(BLOCK_S)  # blocks the event loop, as a very slow trace write would
        booked.append(record)

    server.app[ON_EXCHANGE_DONE].append(slow_bookkeeping)
    try:
        seconds, received = await asyncio.to_thread(ask_on_a_socket, server.port, stream)
    finally:
        await server.close()
        await upstream.close()
    return seconds, received, booked


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("loop", LOOPS)
def test_the_client_has_its_answer_before_the_bookkeeping_runs(
    tmp_path: Path, upstream_key: str, loop: str, stream: bool
) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        seconds, received, booked = runner.run(scenario(tmp_path, stream))
    assert received.startswith(b"HTTP/1.1 200 OK") and b"first" in received
    assert seconds < BLOCK_S / 2, f"the answer waited for the bookkeeping ({seconds:.2f} s)"
    assert [r["status"] for r in booked] == [200]  # and the bookkeeping still ran, whole
