"""The state backends' contract, run on memory and on a real Redis: atomic asks, idempotent
settlements, leases that expire, no lost updates between two clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from axonhub.limits.admission import Adjust, Ask, Counter, Lease, Refused, Settle
from axonhub.limits.state import StateBackend, StateUnavailable
from tests.redis_server import RedisServer

NOW = 1_800_000_000.0
SUBJECT = "{k:alice}"


def rpm(limit: int, add: int = 1, key: str = "{k:alice}:requests:minute:1") -> Counter:
    return Counter(key, limit, add, 120)


async def test_an_ask_within_its_limits_is_granted_and_counted(backend: StateBackend) -> None:
    ask = Ask("op1", SUBJECT, (rpm(3), Counter("{k:alice}:input_tokens:day:d", 1000, 250, 120)))
    assert await backend.admit(ask, NOW) is None
    assert await backend.counters(["{k:alice}:requests:minute:1", "{k:alice}:input_tokens:day:d"], NOW) == [1, 250]


async def test_a_refused_ask_changes_nothing_and_names_the_counter_that_refused(backend: StateBackend) -> None:
    tokens = "{k:alice}:input_tokens:day:d"
    assert await backend.admit(Ask("a", SUBJECT, (Counter(tokens, 1000, 900, 120),)), NOW) is None
    refusal = await backend.admit(Ask("b", SUBJECT, (rpm(5), Counter(tokens, 1000, 200, 120))), NOW)
    assert refusal == Refused(index=1, used=900)
    assert await backend.counters(["{k:alice}:requests:minute:1", tokens], NOW) == [0, 900]


async def test_a_full_window_refuses_and_an_empty_one_admits_any_single_request(backend: StateBackend) -> None:
    assert await backend.admit(Ask("big", SUBJECT, (Counter("{k:alice}:t", 100, 5000, 120),)), NOW) is None
    assert await backend.admit(Ask("next", SUBJECT, (Counter("{k:alice}:t", 100, 0, 120),)), NOW) == Refused(0, 5000)
    # exactly full refuses too, even a request that reserves nothing (output tokens are counted afterwards)
    assert await backend.admit(Ask("fill", SUBJECT, (Counter("{k:alice}:o", 100, 100, 120),)), NOW) is None
    assert await backend.admit(Ask("zero", SUBJECT, (Counter("{k:alice}:o", 100, 0, 120),)), NOW) == Refused(0, 100)


async def test_an_ask_retried_with_the_same_id_is_not_counted_twice(backend: StateBackend) -> None:
    ask = Ask("retried", SUBJECT, (rpm(1),), Lease("{k:alice}:concurrent", 1, "retried", 60))
    assert await backend.admit(ask, NOW) is None
    assert await backend.admit(ask, NOW) is None  # the same call again: already applied
    assert await backend.counters(["{k:alice}:requests:minute:1"], NOW) == [1]
    assert await backend.lease_counts(["{k:alice}:concurrent"], NOW) == [1]
    assert await backend.admit(Ask("other", SUBJECT, (rpm(1),)), NOW) == Refused(0, 1)


async def test_leases_cap_holders_free_on_release_and_expire_unless_renewed(backend: StateBackend) -> None:
    def lease(member: str) -> Ask:
        return Ask(member, SUBJECT, (), Lease("{k:alice}:concurrent", 2, member, 60))

    assert await backend.admit(lease("one"), NOW) is None
    assert await backend.admit(lease("two"), NOW) is None
    assert await backend.admit(lease("three"), NOW) == Refused(-1, 2)
    await backend.release([("{k:alice}:concurrent", "one")])
    assert await backend.admit(lease("three"), NOW) is None
    await backend.renew([("{k:alice}:concurrent", "three")], 600, NOW + 30)
    # 61 s later "two" has expired (its holder never renewed it); "three" was renewed
    assert await backend.lease_counts(["{k:alice}:concurrent"], NOW + 61) == [1]
    assert await backend.admit(lease("four"), NOW + 61) is None
    assert await backend.admit(lease("five"), NOW + 61) == Refused(-1, 2)


async def test_a_settlement_applies_once_clamps_at_zero_and_skips_windows_that_are_over(backend: StateBackend) -> None:
    await backend.admit(Ask("a", SUBJECT, (Counter("{k:alice}:t:1", 10_000, 300, 120),)), NOW)
    settle = Settle(
        "a:settled",
        SUBJECT,
        (
            Adjust("{k:alice}:t:1", -500, 120, only_existing=True),  # more than was reserved: stays at 0
            Adjust("{k:alice}:t:0", -300, 120, only_existing=True),  # a window that is gone: skipped
            Adjust("{k:alice}:t:2", 42, 120),
        ),
    )
    await backend.settle(settle, NOW)
    await backend.settle(settle, NOW)  # a retried settlement: nothing more
    assert await backend.counters(["{k:alice}:t:1", "{k:alice}:t:0", "{k:alice}:t:2"], NOW) == [0, 0, 42]


async def test_a_settlement_releases_the_lease(backend: StateBackend) -> None:
    await backend.admit(Ask("a", SUBJECT, (), Lease("{k:alice}:concurrent", 1, "a", 60)), NOW)
    await backend.settle(Settle("a:settled", SUBJECT, (), (("{k:alice}:concurrent", "a"),)), NOW)
    assert await backend.lease_counts(["{k:alice}:concurrent"], NOW) == [0]


async def test_marks_live_until_their_moment(backend: StateBackend) -> None:
    import time

    now = time.time()
    await backend.mark("{c:kimi}:exhausted", now + 3600, now)
    assert await backend.marks(["{c:kimi}:exhausted", "{c:other}:exhausted"], now) == {"{c:kimi}:exhausted": now + 3600}
    assert await backend.marks(["{c:kimi}:exhausted"], now + 3601) == {}


async def test_a_mark_can_be_taken_back_before_its_moment(backend: StateBackend) -> None:
    import time

    now = time.time()
    await backend.mark("{c:kimi}:exhausted", now + 3600, now)
    await backend.unmark("{c:kimi}:exhausted")
    await backend.unmark("{c:never}:exhausted")  # nothing to take back: no error
    assert await backend.marks(["{c:kimi}:exhausted"], now) == {}


async def test_memory_counters_expire_with_their_window() -> None:
    from axonhub.limits.state import MemoryState

    state = MemoryState()
    await state.admit(Ask("a", SUBJECT, (Counter("{k:alice}:r", 1, 1, 60),)), NOW)
    assert await state.admit(Ask("b", SUBJECT, (Counter("{k:alice}:r", 1, 1, 60),)), NOW + 59) == Refused(0, 1)
    assert await state.admit(Ask("c", SUBJECT, (Counter("{k:alice}:r", 1, 1, 60),)), NOW + 60) is None


async def test_redis_counters_carry_their_own_expiry(redis_server: RedisServer) -> None:
    from axonhub.limits.redis_state import RedisState

    state = RedisState(redis_server.url, prefix="p:")
    try:
        await state.admit(Ask("a", SUBJECT, (Counter("{k:alice}:r", 5, 1, 90),), Lease("{k:alice}:c", 1, "a", 30)), NOW)
        assert 0 < await state.client.ttl("p:{k:alice}:r") <= 90
        assert 0 < await state.client.ttl("p:{k:alice}:c") <= 31
        assert 0 < await state.client.ttl("p:{k:alice}:op:a") <= 300
    finally:
        await state.close()


async def test_two_redis_clients_admitting_at_once_never_lose_an_update(redis_server: RedisServer) -> None:
    """Two instances, 200 asks at once against a limit of 37: exactly 37 are granted."""
    from axonhub.limits.redis_state import RedisState

    first, second = RedisState(redis_server.url, timeout=2), RedisState(redis_server.url, timeout=2)
    try:
        asks = [Ask(f"op{i}", SUBJECT, (rpm(37),)) for i in range(200)]
        verdicts = await asyncio.gather(*((first if i % 2 else second).admit(a, NOW) for i, a in enumerate(asks)))
        assert sum(v is None for v in verdicts) == 37
        assert await first.counters(["{k:alice}:requests:minute:1"], NOW) == [37]
    finally:
        await first.close()
        await second.close()


async def test_a_dead_redis_answers_unavailable_within_the_timeout_then_fails_fast(tmp_path: Path) -> None:
    from axonhub.limits.redis_state import RedisState

    server = RedisServer(tmp_path / "r")  # never started: nothing listens on its port
    state = RedisState(server.url, timeout=0.2)
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        with pytest.raises(StateUnavailable, match="Redis unavailable"):
            await state.admit(Ask("a", SUBJECT, (rpm(1),)), NOW)
        assert loop.time() - began < 1.0
        began = loop.time()
        with pytest.raises(StateUnavailable, match="next try in"):
            await state.admit(Ask("b", SUBJECT, (rpm(1),)), NOW)
        assert loop.time() - began < 0.05
    finally:
        await state.close()


async def test_redis_comes_back_after_an_outage(redis_server: RedisServer) -> None:
    from axonhub.limits import redis_state
    from axonhub.limits.redis_state import RedisState

    state = RedisState(redis_server.url, timeout=0.2)
    try:
        assert await state.admit(Ask("a", SUBJECT, (rpm(10),)), NOW) is None
        redis_server.stop()
        with pytest.raises(StateUnavailable):
            await state.admit(Ask("b", SUBJECT, (rpm(10),)), NOW)
        redis_server.start()
        await asyncio.sleep(redis_state.PAUSE_FIRST_S + 0.1)
        assert await state.admit(Ask("c", SUBJECT, (rpm(10),)), NOW) is None
    finally:
        await state.close()
