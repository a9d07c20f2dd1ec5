"""A client that goes away mid-stream cancels the upstream request at once, and the trace says so."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.conftest import SECRET, Gateway
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply


async def hang_up_mid_stream(gateway: Gateway, upstream: FakeUpstream) -> None:
    """Read the first event of a stream whose upstream then goes quiet for 30 s, and hang up."""
    events = wire.stream_events(wire.message())
    upstream.enqueue(Reply.sse([*events[:3], 30.0, *events[3:]]))
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    async with aiohttp.ClientSession() as session:
        response = await session.post(gateway.url + "/v1/messages", json=body, headers={"x-api-key": SECRET})
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"event: message_start")
        response.close()


async def test_client_disconnect_mid_stream_closes_the_upstream_connection(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    await hang_up_mid_stream(gateway, upstream)
    await asyncio.wait_for(upstream.client_gone.wait(), timeout=5)


async def test_a_client_that_hangs_up_is_recorded_as_499_client_closed(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    await hang_up_mid_stream(gateway, upstream)
    await asyncio.wait_for(upstream.client_gone.wait(), timeout=5)
    trace = gateway.config.server.trace.path
    for _ in range(100):  # the trace writer is a background thread
        if trace.exists() and trace.read_text().strip():
            break
        await asyncio.sleep(0.05)
    record = json.loads(trace.read_text().splitlines()[-1])
    assert (record["status"], record["error"], record["stream"]) == (
        499,
        {"type": "client_closed", "message": "the client closed the connection"},
        True,
    )
