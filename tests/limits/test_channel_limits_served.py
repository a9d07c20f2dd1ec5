"""Channel limits through the server: the concurrency cap's queue (in order, bounded in size and in
time), requests per minute, the first-byte timeout apart from the idle one, and a channel whose
provider quota is exhausted skipped until its reset, then tried again."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from axonhub.limits.limiter import LIMITER
from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.errors_shape import assert_anthropic_error, assert_openai_error
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def channel(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "anthropic",
        "base_url": url,
        "api_key": "${FAKE_ANTHROPIC_KEY}",
        "models": [{"regex": "claude-.*"}],
        **extra,
    }


async def post(
    gateway: Gateway, text: str = "hi", client: str = "anthropic", request_id: str | None = None, **extra: Any
) -> aiohttp.ClientResponse:
    messages = [{"role": "user", "content": text}]
    async with aiohttp.ClientSession() as session:
        if client == "anthropic":
            body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages, **extra}
            headers = {"x-api-key": SECRET, **({"x-request-id": request_id} if request_id else {})}
            response = await session.post(f"{gateway.url}/v1/messages", json=body, headers=headers)
        else:
            body = {"model": "claude-sonnet-4-5", "messages": messages, **extra}
            headers = {"Authorization": f"Bearer {SECRET}"}
            response = await session.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers)
        await response.read()
        return response


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def written(path: Path, count: int) -> list[dict[str, Any]]:
    """The trace records once `count` of them are written (the writer thread writes in batches)."""
    for _ in range(250):
        if len(found := records(path)) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(records(path))} trace records written, {count} expected")


async def test_twenty_parallel_requests_go_through_a_cap_of_two_in_arrival_order(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply(
        status=200, delay=0.2, body=[json.dumps(wire.message()).encode()], headers={"Content-Type": "application/json"}
    )
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["limits"] = {"max_concurrent": 2, "queue_timeout": 30}
    gateway = await start_gateway(data)
    tasks = []
    for n in range(20):
        tasks.append(asyncio.ensure_future(post(gateway, f"request {n}", request_id=f"r{n:02d}")))
        await asyncio.sleep(0.02)  # arrive one after the other
    statuses = [r.status for r in await asyncio.gather(*tasks)]
    assert statuses == [200] * 20
    assert upstream.max_inflight == 2  # never more than the cap upstream
    assert sorted(r.json()["messages"][0]["content"] for r in upstream.requests) == sorted(
        f"request {n}" for n in range(20)
    )
    await written(tmp_path / "trace.jsonl", 20)
    # first come, first served: the order requests reached the channel's queue is the order they got a slot
    entered, granted = {}, {}
    for r in records(tmp_path / "trace.jsonl"):
        attempt = r["attempts"][0]
        entered[r["request_id"]] = datetime.fromisoformat(r["time"]).timestamp() + attempt["started_ms"] / 1000
        granted[r["request_id"]] = entered[r["request_id"]] + attempt["queued_ms"] / 1000
    # (a record's wall-clock time is cut to the millisecond and read a moment apart from its monotonic
    # start, a moment another thread can stretch by a GIL switch: differences under 10 ms are not compared)
    overtaken = [
        (a, b, round(entered[b] - entered[a], 4), round(granted[a] - granted[b], 4))
        for a in entered
        for b in entered
        if entered[a] + 0.01 < entered[b] and granted[b] + 0.01 < granted[a]
    ]
    assert overtaken == []
    assert len({round(t, 3) for t in entered.values()}) > 15  # they did arrive one after the other
    queued = sorted(r["attempts"][0]["queued_ms"] for r in records(tmp_path / "trace.jsonl"))
    assert queued[0] < 50 and queued[-1] > 1000  # the last ones waited for several rounds of two


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
async def test_a_full_channel_queue_times_out_to_a_429_in_the_clients_format(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, client: str
) -> None:
    events = wire.stream_events(wire.message())
    upstream.enqueue(Reply.sse([*events[:2], 1.0, *events[2:]]))
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["limits"] = {"max_concurrent": 1, "queue_timeout": 0.3}
    gateway = await start_gateway(data)
    holder = asyncio.ensure_future(post(gateway, stream=True))
    while not upstream.requests:  # noqa: ASYNC110 - the fake offers no event to wait on
        await asyncio.sleep(0.01)
    refused = await post(gateway, client=client)
    message = "rate limit: channel 'fake-anthropic' had no free slot (max_concurrent 1) within its queue_timeout of 0.3s; try again shortly"
    if client == "anthropic":
        await assert_anthropic_error(refused, 429, "rate_limit_error", message)
    else:
        await assert_openai_error(refused, 429, "rate_limit_error", message, "rate_limit_exceeded")
    assert (refused.headers["retry-after"], refused.headers["x-should-retry"]) == ("1", "true")
    assert (await holder).status == 200
    assert len(upstream.requests) == 1


async def test_two_requests_sharing_a_client_request_id_each_give_back_only_their_own_slot(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A client chooses its own `x-request-id`; the slot of one request must not be given back when
    another request with the same id ends (the cap would be exceeded while the first still streams)."""
    events = wire.stream_events(wire.message())
    upstream.enqueue(
        Reply.sse([*events[:2], 1.0, *events[2:]]),  # A: short
        Reply.sse([*events[:2], 2.5, *events[2:]]),  # B: long, the same request id as A
        Reply.sse([*events[:2], 0.5, *events[2:]]),  # C
        Reply.sse([*events[:2], 0.5, *events[2:]]),  # D
    )
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["limits"] = {"max_concurrent": 2, "queue_timeout": 30}
    gateway = await start_gateway(data)
    first = asyncio.ensure_future(post(gateway, "A", request_id="same", stream=True))
    while len(upstream.requests) < 1:  # noqa: ASYNC110 - the fake offers no event to wait on
        await asyncio.sleep(0.01)
    second = asyncio.ensure_future(post(gateway, "B", request_id="same", stream=True))
    while len(upstream.requests) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert (await first).status == 200
    others = [asyncio.ensure_future(post(gateway, text, stream=True)) for text in ("C", "D")]
    answers = await asyncio.gather(second, *others)
    assert [r.status for r in answers] == [200, 200, 200]
    assert upstream.max_inflight == 2  # B kept its slot after A ended: C and D took one at a time
    assert answers[0].headers["x-request-id"] not in ("same", "")  # an id in flight already: B got its own


async def test_a_busy_channel_hands_the_request_to_the_next_one(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    backup = FakeUpstream()
    await backup.start()
    try:
        events = wire.stream_events(wire.message())
        upstream.enqueue(Reply.sse([*events[:2], 0.8, *events[2:]]))
        backup.default = Reply.json(wire.message())
        data = base_config(upstream.url, tmp_path / "trace.jsonl")
        data["channels"] = [
            channel("primary", upstream.url, priority=0, limits={"max_concurrent": 1, "max_queue": 0}),
            channel("backup", backup.url, priority=1),
        ]
        gateway = await start_gateway(data)
        holder = asyncio.ensure_future(post(gateway, stream=True))
        while not upstream.requests:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert (await post(gateway)).status == 200
        assert (len(upstream.requests), len(backup.requests)) == (1, 1)
        await holder
        second = next(r for r in await written(tmp_path / "trace.jsonl", 2) if r["channel"] == "backup")
        assert [(a["channel"], a["status"], a["error"]) for a in second["attempts"]] == [
            (
                "primary",
                None,
                "rate limit: channel 'primary' has all 1 of its concurrent slots (max_concurrent) taken "
                "and 0 requests already waiting (max_queue); try again shortly",
            ),
            ("backup", 200, None),
        ]
    finally:
        await backup.close()


async def test_channel_requests_per_minute_skip_to_the_next_channel_or_answer_429(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    clock = Clock()
    clock.now = (clock.now // 60) * 60 + 10  # 10 s into a minute
    upstream.default = Reply.json(wire.message())
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["limits"] = {"requests_per_minute": 2}
    gateway = await start_gateway(data, clock=clock)
    assert [(await post(gateway)).status for _ in range(2)] == [200, 200]
    refused = await post(gateway, client="openai_chat")
    assert refused.status == 429
    assert refused.headers["retry-after"] == "50"
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    assert refused.headers["x-ratelimit-reset-requests"] == "50s"
    assert (
        "channel 'fake-anthropic' reached its limit requests_per_minute (2 requests per minute; used 2)"
        in (await refused.json())["error"]["message"]
    )
    clock.now += 50
    assert (await post(gateway)).status == 200
    assert len(upstream.requests) == 3


async def test_an_exhausted_quota_is_skipped_until_its_reset_and_then_tried_again(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    clock = Clock()
    backup = FakeUpstream()
    await backup.start()
    try:
        quota = wire.error("rate_limit_error", "Usage limit reached for 5 hour. Please try again later.")
        upstream.enqueue(Reply.json(quota, status=429, headers={"retry-after": "18000"}))
        upstream.default = Reply.json(wire.message())
        backup.default = Reply.json(wire.message())
        data = base_config(upstream.url, tmp_path / "trace.jsonl")
        data["channels"] = [channel("plan", upstream.url, priority=0), channel("backup", backup.url, priority=1)]
        gateway = await start_gateway(data, clock=clock)

        assert (await post(gateway)).status == 200  # plan: 429 quota -> backup
        assert (len(upstream.requests), len(backup.requests)) == (1, 1)
        for _ in range(3):  # skipped, not retried every cool-down
            assert (await post(gateway)).status == 200
        assert (len(upstream.requests), len(backup.requests)) == (1, 4)
        async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/health") as response:
            health = await response.json()
        plan = next(c for c in health["channels"] if c["name"] == "plan")
        assert plan["quota_exhausted_until"] is not None

        clock.now += 18_001  # the quota is back
        assert (await post(gateway)).status == 200
        assert (len(upstream.requests), len(backup.requests)) == (2, 4)
        first = (await written(tmp_path / "trace.jsonl", 5))[0]
        assert [(a["channel"], a["status"]) for a in first["attempts"]] == [("plan", 429), ("backup", 200)]
    finally:
        await backup.close()


async def test_when_every_channel_is_out_of_quota_the_client_gets_429_until_the_first_reset(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    clock = Clock()
    quota = wire.error("rate_limit_error", "You have exceeded your daily quota (requests per day).")
    upstream.enqueue(Reply.json(quota, status=429, headers={"retry-after": "7200"}))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"), clock=clock)
    first = await post(gateway)
    assert first.status == 429  # the upstream's own 429 on the last channel
    second = await post(gateway)
    body = await second.json()
    assert second.status == 429
    assert body["error"]["message"].startswith(
        "rate limit: every channel that serves claude-sonnet-4-5 (fake-anthropic) has exhausted its provider quota; "
        "the first resets at "
    )
    assert second.headers["retry-after"] == "7200" and second.headers["x-should-retry"] == "false"
    assert len(upstream.requests) == 1


async def test_the_request_that_finds_a_quota_exhausted_is_told_when_it_resets_too(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A provider that says its quota is out without a Retry-After: the first 429 is the upstream's
    own, with the reset the gateway took from the message, as every later refusal has it."""
    clock = Clock()
    quota = {"error": {"message": "You exceeded your daily quota", "type": "insufficient_quota"}}
    upstream.enqueue(Reply.json(quota, status=429))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"), clock=clock)
    first, second = await post(gateway), await post(gateway)
    assert (first.status, second.status) == (429, 429)
    assert first.headers["retry-after"] == second.headers["retry-after"]
    assert int(first.headers["retry-after"]) > 60
    assert first.headers["x-should-retry"] == second.headers["x-should-retry"] == "false"
    assert "retry-after-ms" in first.headers
    assert len(upstream.requests) == 1


async def test_an_upstreams_own_retry_after_is_kept_on_the_first_refusal(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    quota = wire.error("rate_limit_error", "You have exceeded your daily quota (requests per day).")
    upstream.enqueue(Reply.json(quota, status=429, headers={"Retry-After": "7200"}))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"), clock=Clock())
    first = await post(gateway)
    assert first.status == 429
    assert first.headers.getall("retry-after") == ["7200"]  # not written twice in two cases
    assert first.headers["x-should-retry"] == "false"


async def test_the_first_byte_timeout_is_apart_from_the_idle_timeout(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    events = wire.stream_events(wire.message())
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["timeouts"] = {"first_byte": 0.3, "read": 5}
    gateway = await start_gateway(data)
    # a long quiet spell inside the stream is fine (read: 5 s)...
    upstream.enqueue(Reply.sse([*events[:2], 1.0, *events[2:]]))
    assert (await post(gateway, stream=True)).status == 200
    # ...an upstream that does not start answering within first_byte is not
    upstream.enqueue(Reply(status=200, delay=2.0, body=[json.dumps(wire.message()).encode()]))
    loop = asyncio.get_running_loop()
    began = loop.time()
    slow = await post(gateway)
    assert loop.time() - began < 1.5
    await assert_anthropic_error(slow, 504, "timeout_error", "[fake-anthropic] the upstream did not answer within 0.3s")


async def test_a_first_byte_timeout_longer_than_the_idle_one_waits_for_a_slow_start(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    events = wire.stream_events(wire.message())
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"][0]["timeouts"] = {"first_byte": 3, "read": 0.4}
    gateway = await start_gateway(data)
    upstream.enqueue(
        Reply(
            status=200,
            delay=1.0,
            body=[json.dumps(wire.message()).encode()],
            headers={"Content-Type": "application/json"},
        )
    )
    assert (await post(gateway)).status == 200  # 1 s before the first byte: within first_byte
    upstream.enqueue(Reply.sse([*events[:2], 1.0, *events[2:]]))
    cut = await post(gateway, stream=True)  # 1 s of silence mid-stream: beyond read
    assert b"upstream went silent" in await cut.read()


async def test_limits_and_state_show_in_health_and_metrics(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message())
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["keys"][0]["limits"] = {"requests_per_minute": 0}
    gateway = await start_gateway(data)
    assert (await post(gateway)).status == 429
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/health") as response:
            health = await response.json()
        async with session.get(f"{gateway.url}/metrics") as response:
            metrics = await response.text()
    assert health["status"] == "ok"
    assert health["state"] == {"backend": "memory", "ok": True, "error": None, "since": None, "on_error": "open"}
    assert 'axonhub_limit_rejections_total{limit="requests_per_minute",scope="key"} 1.0' in metrics
    assert "axonhub_state_up 1.0" in metrics
    assert gateway.server.app[LIMITER].state.name == "memory"
