"""Limits on a real Redis through the server: two gateway processes sharing one Redis enforce one
limit together; killing Redis mid-load follows `on_error` and shows in /health and /metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway_process import GatewayProcess
from tests.redis_server import RedisServer

BODY = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


async def away_from_a_minute_edge() -> None:
    if time.time() % 60 > 30:
        await asyncio.sleep(61 - time.time() % 60)


async def post(url: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/messages", json=BODY, headers={"x-api-key": SECRET}) as response,
    ):
        await response.read()
        return response.status


async def get(url: str, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url + path) as response:
        return await (response.json() if path == "/health" else response.text())


def metric(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def redis_config(upstream: FakeUpstream, tmp_path: Path, redis: RedisServer, **state: Any) -> dict[str, Any]:
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["server"]["state"] = {"backend": "redis", "url": redis.url, "prefix": "t:", "timeout": 0.2, **state}
    data["keys"][0]["limits"] = {"requests_per_minute": 7}
    return data


@pytest.mark.slow
async def test_two_gateway_processes_sharing_one_redis_enforce_one_limit(
    tmp_path: Path, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    upstream.default = Reply.json(wire.message())
    # generous and closed: on a loaded machine a slow Redis must show as a 503, never as an unchecked admission
    data = redis_config(upstream, tmp_path, redis_server, timeout=5, on_error="closed")
    config = write_config(tmp_path / "axonhub.yml", data)
    first, second = GatewayProcess(config), GatewayProcess(config)
    await asyncio.gather(first.start(), second.start())
    try:
        await away_from_a_minute_edge()
        minute = time.time() // 60
        statuses = await asyncio.gather(*(post((first if i % 2 else second).url) for i in range(20)))
        assert time.time() // 60 == minute, "the burst crossed a minute: run again"
        assert sorted(statuses) == [200] * 7 + [429] * 13
        assert len(upstream.requests) == 7
        assert (await get(first.url, "/health"))["state"]["backend"] == "redis"
    finally:
        await asyncio.gather(first.stop(), second.stop())


async def load(gateway: Gateway, seconds: float) -> list[tuple[float, int]]:
    """Requests one after the other for `seconds`: (how long each took, its status)."""
    loop = asyncio.get_running_loop()
    results = []
    end = loop.time() + seconds
    while loop.time() < end:
        began = loop.time()
        status = await post(gateway.url)
        results.append((loop.time() - began, status))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("on_error", ["open", "closed"])
async def test_killing_redis_mid_load_follows_on_error_and_shows_in_health_and_metrics(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, redis_server: RedisServer, on_error: str
) -> None:
    upstream.default = Reply.json(wire.message())
    data = redis_config(upstream, tmp_path, redis_server, on_error=on_error)
    data["keys"][0]["limits"] = {"requests_per_minute": 100_000}
    gateway = await start_gateway(data)
    running = asyncio.ensure_future(load(gateway, 2.5))
    await asyncio.sleep(0.5)
    redis_server.stop()  # killed mid-load
    await asyncio.sleep(1.0)
    health = await get(gateway.url, "/health")
    metrics = await get(gateway.url, "/metrics")
    results = await running
    # never blocked on the dead Redis beyond its bound (2 x 0.2 s); the slack is for a loaded machine,
    # an unbounded wait would be the OS's connect timeout or forever
    assert max(took for took, _ in results) < 2.0
    statuses = [status for _, status in results]
    assert statuses[0] == 200
    if on_error == "open":
        assert set(statuses) == {200}
        assert metric(metrics, "axonhub_limit_unchecked_total") > 0
    else:
        assert statuses[-1] == 503 and set(statuses) == {200, 503}
        assert metric(metrics, "axonhub_limit_unchecked_total") == 0
    assert health["status"] == "degraded"
    assert health["state"]["ok"] is False and "Redis unavailable" in health["state"]["error"]
    assert health["state"]["on_error"] == on_error
    assert metric(metrics, "axonhub_state_up") == 0
    assert metric(metrics, "axonhub_state_errors_total") > 0

    redis_server.start()  # back: enforcing again, healthy again
    for _ in range(50):
        if await post(gateway.url) == 200 and (await get(gateway.url, "/health"))["state"]["ok"]:
            break
        await asyncio.sleep(0.2)
    assert (await get(gateway.url, "/health"))["status"] == "ok"


async def test_the_closed_refusal_is_a_503_in_the_clients_format(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["server"]["state"] = {"backend": "redis", "url": "redis://127.0.0.1:9/0", "on_error": "closed", "timeout": 0.1}
    data["keys"][0]["limits"] = {"requests_per_minute": 10}
    gateway = await start_gateway(data)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.url}/v1/messages", json=BODY, headers={"x-api-key": SECRET}) as response,
    ):
        body = await response.json()
    assert response.status == 503
    assert body["error"] == {
        "type": "api_error",
        "message": "AxonHub cannot check the limits of key 'alice' right now; try again shortly; its limits state "
        "(redis) is unreachable and server.state.on_error is closed (see /health)",
    }
    # An outage passes: the SDKs and Claude Code are told to retry, as the message and Retry-After say.
    assert (response.headers["retry-after"], response.headers["x-should-retry"]) == ("5", "true")
    assert upstream.requests == []
