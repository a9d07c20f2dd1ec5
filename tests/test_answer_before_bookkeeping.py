"""A JSON answer reaches the client before the gateway's bookkeeping (trace record, log line, metrics)
runs: the client never waits for it.

The bookkeeping is made to block the event loop for a second; a client on a plain socket in another
thread must have the whole answer well before that second is over.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

from axonhub.appkeys import ON_EXCHANGE_DONE
from axonhub.trace_record import TraceRecord
from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

BLOCK_S = 1.0


def ask_on_a_socket(port: int, answers: list[tuple[float, bytes]]) -> None:
    body = json.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        received = b""
        while b'"end_turn"' not in received:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
    answers.append((time.monotonic() - began, received))


async def test_the_client_has_its_json_answer_before_the_bookkeeping_runs(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))
    upstream.enqueue(Reply.json(wire.message([{"type": "text", "text": "first"}])))
    booked: list[TraceRecord] = []

    def slow_bookkeeping(record: TraceRecord) -> None:
        time.sleep(BLOCK_S)  # blocks the event loop, as a very slow trace write would
        booked.append(record)

    gateway.server.app[ON_EXCHANGE_DONE].append(slow_bookkeeping)
    answers: list[tuple[float, bytes]] = []
    await asyncio.to_thread(ask_on_a_socket, gateway.server.port, answers)  # the loop serves meanwhile
    [(seconds, received)] = answers
    assert received.startswith(b"HTTP/1.1 200 OK") and b'"first"' in received
    assert seconds < BLOCK_S / 2, f"the answer waited for the bookkeeping ({seconds:.2f} s)"
    assert [r["status"] for r in booked] == [200]  # and the bookkeeping still ran, whole
