"""The limiter without HTTP: key admission and settlement, channel gates, quota skips, on_error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from axonhub.config import Channel, Key, ModelMatcher, Price
from axonhub.errors import ErrorKind, GatewayError, RateLimited
from axonhub.limits.limiter import Limiter
from axonhub.limits.model import MICRO_USD, ChannelLimits, KeyLimits, Measure, Rate, Window, usd
from axonhub.limits.state import MemoryState, StateBackend, Unreachable

NOW = 1_800_000_030.0  # 30 s into a minute


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def key(**limits: Any) -> Key:
    return Key(name="alice", secret_hash="sha256:x", limits=KeyLimits(**limits))


def channel(**limits: Any) -> Channel:
    return Channel("kimi", "anthropic", "http://127.0.0.1:9", ModelMatcher(), limits=ChannelLimits(**limits))


def record(request_id: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"request_id": request_id, "key": "alice", "usage": usage}


async def admit(
    limiter: Limiter, request_id: str, k: Key, fmt: str = "anthropic", estimate: int = 100, price: Price | None = None
) -> None:
    await limiter.admit(request_id, k, fmt, estimate=lambda: estimate, price=price)


async def test_requests_per_minute_refuses_the_next_request_saying_which_limit_and_when() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    alice = key(requests_per_minute=2)
    await admit(limiter, "r1", alice)
    await admit(limiter, "r2", alice)
    with pytest.raises(RateLimited) as refused:
        await admit(limiter, "r3", alice)
    err = refused.value
    assert err.kind is ErrorKind.RATE_LIMIT
    assert err.message == (
        "rate limit: key 'alice' reached its limit requests_per_minute (2 requests per minute; used 2); "
        "it resets at 2027-01-15T08:01:00Z"
    )
    assert err.headers == {
        "retry-after": "30",
        "retry-after-ms": "30000",
        "x-should-retry": "true",
        "anthropic-ratelimit-requests-limit": "2",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z",
    }
    assert err.limit == {
        "scope": "key",
        "subject": "alice",
        "name": "requests_per_minute",
        "limit": 2,
        "used": 2,
        "reset_at": NOW + 30,
    }


async def test_openai_clients_get_openai_rate_limit_headers_and_a_day_limit_says_do_not_retry() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    alice = key(output_tokens_per_day=1000)
    await admit(limiter, "r1", alice, "openai_chat")
    limiter.settle_record(record("r1", {"input": 10, "output": 1000}))
    await limiter.settled()
    with pytest.raises(RateLimited) as refused:
        await admit(limiter, "r2", alice, "openai_chat")
    assert refused.value.headers == {
        "retry-after": "57570",
        "retry-after-ms": "57570000",
        "x-should-retry": "false",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "15h59m30s",
    }


async def test_input_tokens_are_admitted_on_the_estimate_and_settled_with_the_real_count() -> None:
    state = MemoryState()
    limiter = Limiter(state, clock=Clock())
    alice = key(input_tokens_per_minute=10_000)
    await admit(limiter, "r1", alice, estimate=6000)
    with pytest.raises(RateLimited, match="input_tokens_per_minute"):
        await admit(limiter, "r2", alice, estimate=6000)  # 6000 + 6000 would overflow
    limiter.settle_record(record("r1", {"input": 100, "cache_read": 1800, "cache_write": 100, "output": 7}))
    await limiter.settled()
    assert [row["used"] for row in await limiter.key_usage(alice)] == [2000]
    await admit(limiter, "r2", alice, estimate=6000)


async def test_spend_is_reserved_at_the_input_price_and_settled_at_the_real_cost() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    alice = key(spend_per_day_usd=1.0)
    price = Price(input=3.0, output=15.0, cache_read=0.3)
    await admit(limiter, "r1", alice, estimate=200_000, price=price)  # $0.60 reserved
    with pytest.raises(RateLimited, match=r"spend_per_day_usd \(\$1.00 of spend per day; used \$0.60\)"):
        await admit(limiter, "r2", alice, estimate=200_000, price=price)
    limiter.settle_record(record("r1", {"input": 10_000, "output": 20_000, "cache_read": 100_000}))
    await limiter.settled()  # 0.03 + 0.30 + 0.03 = $0.36
    assert [row["used"] for row in await limiter.key_usage(alice)] == [360_000]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(5, "$5.00"), (1234.5, "$1,234.50"), (0.5, "$0.50"), (0.001, "$0.001"), (0.015, "$0.015"), (0, "$0.00")],
)
def test_spend_amounts_under_a_cent_keep_their_digits(amount: float, shown: str) -> None:
    assert usd(amount) == shown
    rate = Rate("spend_per_day_usd", Measure.SPEND, Window.DAY, round(amount * MICRO_USD))
    assert rate.describe() == f"{shown} of spend per day"


async def test_a_quota_mark_cleared_on_one_instance_is_forgotten_by_the_others(backend: StateBackend) -> None:
    """Two gateways on one shared state: a mark one of them made reaches the other; cleared on the
    other (`axonhub channels reset`), the first forgets it at its next refresh."""
    clock = Clock()
    first, second = Limiter(backend, clock=clock), Limiter(backend, clock=clock)
    first.note_quota("kimi", clock() + 3600)
    await first.settled()  # the mark is shared
    await second.refresh_marks(["kimi", "other"])
    assert second.exhausted_until("kimi") == clock() + 3600
    assert await second.clear_quota("kimi") == clock() + 3600
    assert second.exhausted_until("kimi") is None
    await first.refresh_marks(["kimi", "other"])
    assert first.exhausted_until("kimi") is None
    assert await first.clear_quota("kimi") is None  # nothing left to clear


async def test_concurrent_requests_free_up_when_an_exchange_is_settled() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    alice = key(concurrent_requests=2)
    await admit(limiter, "r1", alice)
    await admit(limiter, "r2", alice)
    with pytest.raises(RateLimited) as refused:
        await admit(limiter, "r3", alice)
    assert refused.value.message == (
        "rate limit: key 'alice' reached its limit concurrent_requests (2 concurrent requests; used 2); "
        "it frees up when one of its requests in flight ends"
    )
    assert refused.value.headers["retry-after"] == "1"
    limiter.settle_record(record("r1"))
    await limiter.settled()
    await admit(limiter, "r3", alice)


async def test_a_key_without_limits_touches_no_state() -> None:
    class Exploding(MemoryState):
        async def admit(self, *args: Any) -> Any:
            raise AssertionError("no state call expected")

    limiter = Limiter(Exploding(), clock=Clock())
    await admit(limiter, "r1", key())


@pytest.mark.parametrize("on_error", ["open", "closed"])
async def test_an_unreachable_state_follows_on_error(on_error: str) -> None:
    state: StateBackend = Unreachable("redis", "environment variable REDIS_URL is not set")
    limiter = Limiter(state, on_error=on_error, clock=Clock())
    if on_error == "open":
        await admit(limiter, "r1", key(requests_per_minute=1))
        await admit(limiter, "r2", key(requests_per_minute=1))
        assert limiter.metrics.unchecked._value.get() == 2
    else:
        with pytest.raises(GatewayError) as refused:
            await admit(limiter, "r1", key(requests_per_minute=1))
        assert refused.value.kind is ErrorKind.UNAVAILABLE
        assert "on_error is closed" in refused.value.client_message(hints=True)
    assert limiter.health() == {
        "backend": "redis",
        "ok": False,
        "error": "environment variable REDIS_URL is not set",
        "since": NOW,
        "on_error": on_error,
    }


async def test_the_channel_gate_lets_twenty_requests_through_two_slots_in_arrival_order() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    kimi = channel(max_concurrent=2)
    inside: list[int] = []
    order: list[int] = []

    async def attempt(n: int) -> None:
        channel_pass = await limiter.enter_channel(kimi, "anthropic")
        order.append(n)
        inside.append(n)
        assert len(inside) <= 2
        await asyncio.sleep(0.01)
        inside.remove(n)
        assert channel_pass is not None
        channel_pass.release()

    tasks = []
    for n in range(20):
        tasks.append(asyncio.create_task(attempt(n)))
        await asyncio.sleep(0)  # arrive one after the other
    await asyncio.gather(*tasks)
    assert order == list(range(20))


async def test_a_full_queue_and_a_queue_timeout_refuse_at_once_and_in_time() -> None:
    limiter = Limiter(MemoryState(), clock=Clock())
    kimi = channel(max_concurrent=1, max_queue=1, queue_timeout=0.2)
    holder = await limiter.enter_channel(kimi, "anthropic")
    waiter = asyncio.create_task(limiter.enter_channel(kimi, "anthropic"))
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimited, match="1 request already waiting"):
        await limiter.enter_channel(kimi, "anthropic")
    with pytest.raises(RateLimited, match=r"no free slot .* within its queue_timeout of 0\.2s"):
        await waiter
    assert holder is not None


async def test_channel_requests_per_minute_refuse_without_waiting() -> None:
    clock = Clock()
    limiter = Limiter(MemoryState(), clock=clock)
    kimi = channel(requests_per_minute=1, max_concurrent=5)
    await limiter.enter_channel(kimi, "openai_chat")
    with pytest.raises(RateLimited) as refused:
        await limiter.enter_channel(kimi, "openai_chat")
    assert refused.value.limit["name"] == "requests_per_minute"
    assert refused.value.headers["x-ratelimit-reset-requests"] == "30s"
    clock.now += 30
    await limiter.enter_channel(kimi, "openai_chat")


async def test_an_exhausted_channel_is_skipped_until_its_reset() -> None:
    clock = Clock()
    limiter = Limiter(MemoryState(), clock=clock)
    limiter.note_quota("kimi", NOW + 3600)
    await limiter.settled()
    assert limiter.exhausted_until("kimi") == NOW + 3600
    clock.now += 3600
    assert limiter.exhausted_until("kimi") is None
