"""Graceful shutdown of a real `axonhub serve`: SIGTERM stops accepting, a stream in flight finishes
within the grace period, one still open after it ends with an error event in its client's format,
and every exchange reaches the trace."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import SECRET, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.slow

MESSAGE = wire.message([{"type": "text", "text": "slow but complete"}])


def slow_stream(pause: float) -> Reply:
    """message_start and ping at once, then `pause` seconds before each following event."""
    events = wire.stream_events(MESSAGE)
    body: list[bytes | float] = events[:2]
    for event in events[2:]:
        body += [pause, event]
    return Reply.sse(body)


def stalled_stream() -> Reply:
    events = wire.stream_events(MESSAGE)
    return Reply.sse([*events[:3], 30.0, *events[3:]])


async def gateway(tmp_path: Path, upstream: FakeUpstream, grace: float) -> GatewayProcess:
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["server"]["shutdown_grace"] = grace
    served = GatewayProcess(write_config(tmp_path / "axonhub.yml", data))
    await served.start()
    return served


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    out = []
    for block in raw.decode().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
        if data is not None:
            out.append((name, json.loads(data) if data != "[DONE]" else data))
    return out


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def refused(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/health") as response:
            await response.read()
    except aiohttp.ClientConnectionError:
        return True
    return False


async def test_a_stream_in_flight_finishes_within_the_grace_period(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.enqueue(slow_stream(0.2))
    served = await gateway(tmp_path, upstream, grace=20)
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{served.url}/v1/messages", json=body, headers={"x-api-key": SECRET}) as response,
    ):
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"event: message_start")
        served.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert await refused(served.url)  # no longer accepting
        rest = await response.read()
    events = sse_events(first + rest)
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert await served.wait() == 0
    (record,) = records(tmp_path / "trace.jsonl")
    assert (record["status"], record["error"], record["stop_reason"]) == (200, None, "end_turn")
    assert record["usage"]["output"] == 7


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
async def test_a_stream_still_open_after_the_grace_period_ends_with_an_error_event(
    tmp_path: Path, upstream: FakeUpstream, client: str
) -> None:
    upstream.enqueue(stalled_stream())
    served = await gateway(tmp_path, upstream, grace=0.5)
    messages = [{"role": "user", "content": "hi"}]
    if client == "anthropic":
        path, body = (
            "/v1/messages",
            {"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": True, "messages": messages},
        )
    else:
        path, body = "/v1/chat/completions", {"model": "claude-sonnet-4-5", "stream": True, "messages": messages}
    loop = asyncio.get_running_loop()
    async with (
        aiohttp.ClientSession() as session,
        session.post(served.url + path, json=body, headers={"Authorization": f"Bearer {SECRET}"}) as response,
    ):
        assert response.status == 200
        first = await response.content.readuntil(b"\n\n")
        served.signal(signal.SIGTERM)
        began = loop.time()
        rest = await response.read()  # ends cleanly: the stream is closed, not reset
        took = loop.time() - began
    assert took < 5
    message = "AxonHub is shutting down: this request was still running after the 0.5s grace period; retry it"
    events = sse_events(first + rest)
    if client == "anthropic":
        assert events[0][0] == "message_start"
        assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": message}})
    else:
        assert events[0][1]["object"] == "chat.completion.chunk"
        assert events[-1] == (
            None,
            {"error": {"message": message, "type": "server_error", "param": None, "code": "overloaded"}},
        )
    assert await served.wait() == 0
    (record,) = records(tmp_path / "trace.jsonl")
    assert (record["status"], record["error"]) == (200, {"type": "shutdown", "message": message})


async def test_a_request_not_yet_answered_after_the_grace_period_gets_an_overloaded_error(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply(status=200, delay=30.0))  # no answer at all for 30 s
    served = await gateway(tmp_path, upstream, grace=0.5)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        pending = asyncio.ensure_future(
            session.post(f"{served.url}/v1/messages", json=body, headers={"x-api-key": SECRET})
        )
        for _ in range(200):
            if upstream.requests:
                break
            await asyncio.sleep(0.05)
        served.signal(signal.SIGTERM)
        response = await pending
        assert response.status == 529
        assert (await response.json())["error"]["type"] == "overloaded_error"
    assert await served.wait() == 0
    (record,) = records(tmp_path / "trace.jsonl")
    assert (record["status"], record["error"]["type"]) == (529, "shutdown")
