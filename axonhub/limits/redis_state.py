"""The Redis state backend: the memory backend's operations, shared by every AxonHub instance.

An ask and a settlement are each one Lua script, so Redis runs the check and the change as one
atomic step: no lost update between instances, and a retried call (same id) changes nothing. Every
key of one script shares a hash tag (`{k:alice}`, `{c:kimi}`), so the scripts also run on a Redis
Cluster. Counters carry their own expiry (the end of their window plus a slack); a lease set
expires with its last lease.

Never slow: each call is bounded by `timeout` seconds (connect included) and retried once on a
dropped connection within that bound. After a failure the backend answers StateUnavailable at once
for a short, growing pause (0.5 s doubling to 5 s) instead of making every request wait for a dead
server; the first call after the pause tries Redis again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from axonhub.limits.admission import OP_TTL_S, Ask, Refused, Settle
from axonhub.limits.state import StateUnavailable

T = TypeVar("T")

PAUSE_FIRST_S: Final = 0.5
PAUSE_MAX_S: Final = 5.0

# KEYS: op, counters…, [lease set]
# ARGV: op ttl, n counters, (limit, add, ttl) per counter, then with a lease: limit, member, expires ms, now ms, ttl
_ADMIT: Final = """
local done = redis.call('GET', KEYS[1])
if done then return done end
local n = tonumber(ARGV[2])
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local limit, add = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local used = tonumber(redis.call('GET', KEYS[1 + i]) or '0')
  if used >= limit or (used > 0 and used + add > limit) then
    return 'R ' .. (i - 1) .. ' ' .. used
  end
end
local set = KEYS[n + 2]
local l = 3 + n * 3
if set then
  redis.call('ZREMRANGEBYSCORE', set, '-inf', ARGV[l + 3])
  local held = redis.call('ZCARD', set)
  if not redis.call('ZSCORE', set, ARGV[l + 1]) and held >= tonumber(ARGV[l]) then
    return 'R -1 ' .. held
  end
end
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local key = KEYS[1 + i]
  redis.call('INCRBY', key, ARGV[a + 2])
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[a + 3]) end
end
if set then
  redis.call('ZADD', set, ARGV[l + 2], ARGV[l + 1])
  redis.call('EXPIRE', set, ARGV[l + 4])
end
redis.call('SET', KEYS[1], 'G', 'EX', ARGV[1])
return 'G'
"""

# KEYS: op, counters…, lease sets…
# ARGV: op ttl, n counters, (amount, ttl, only existing) per counter, then one member per lease set
_SETTLE: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local key = KEYS[1 + i]
  if ARGV[a + 3] == '0' or redis.call('EXISTS', key) == 1 then
    local value = redis.call('INCRBY', key, ARGV[a + 1])
    if value < 0 then redis.call('SET', key, 0, 'KEEPTTL') end
    if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[a + 2]) end
  end
end
for j = n + 2, #KEYS do
  redis.call('ZREM', KEYS[j], ARGV[3 + n * 3 + (j - n - 2)])
end
return 1
"""


class RedisState:
    """Counters, leases and marks in Redis under `prefix`."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "axonhub:", timeout: float = 0.25) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
            health_check_interval=30,
        )
        self._admit = self.client.register_script(_ADMIT)
        self._settle = self.client.register_script(_SETTLE)
        self._paused_until = 0.0
        self._pause = PAUSE_FIRST_S
        self._last_error = ""

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        if now < self._paused_until:
            raise StateUnavailable(
                f"Redis unavailable ({self._last_error}); next try in {self._paused_until - now:.1f}s"
            )
        try:
            async with asyncio.timeout(self.timeout * 2):
                result = await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self._last_error = f"{what}: {exc.__class__.__name__}: {exc}".rstrip(": ")
            self._paused_until = time.monotonic() + self._pause
            self._pause = min(self._pause * 2, PAUSE_MAX_S)
            raise StateUnavailable(f"Redis unavailable ({self._last_error})") from exc
        self._pause = PAUSE_FIRST_S
        return result

    async def admit(self, ask: Ask, now: float) -> Refused | None:
        keys = [self._key(f"{ask.subject}:op:{ask.op}"), *(self._key(c.key) for c in ask.counters)]
        args: list[Any] = [OP_TTL_S, len(ask.counters)]
        for counter in ask.counters:
            args += [counter.limit, counter.add, counter.ttl]
        if ask.lease is not None:
            keys.append(self._key(ask.lease.key))
            lease = ask.lease
            args += [lease.limit, lease.member, _ms(now + lease.ttl), _ms(now), math.ceil(lease.ttl) + 1]
        verdict = await self._call("admit", lambda: self._admit(keys=keys, args=args))
        if verdict == "G":
            return None
        _, index, used = str(verdict).split()
        return Refused(int(index), int(used))

    async def settle(self, settle: Settle, now: float) -> None:
        keys = [self._key(f"{settle.subject}:op:{settle.op}"), *(self._key(a.key) for a in settle.adjusts)]
        args: list[Any] = [OP_TTL_S, len(settle.adjusts)]
        for adjust in settle.adjusts:
            args += [adjust.amount, adjust.ttl, int(adjust.only_existing)]
        for key, member in settle.release:
            keys.append(self._key(key))
            args.append(member)
        await self._call("settle", lambda: self._settle(keys=keys, args=args))

    async def renew(self, leases: Iterable[tuple[str, str]], ttl: float, now: float) -> None:
        leases = list(leases)
        if not leases:
            return

        async def run() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, member in leases:
                    pipe.zadd(self._key(key), {member: _ms(now + ttl)}, xx=True)
                    pipe.expire(self._key(key), math.ceil(ttl) + 1)
                await pipe.execute()

        await self._call("renew", run)

    async def release(self, leases: Iterable[tuple[str, str]]) -> None:
        leases = list(leases)
        if not leases:
            return

        async def run() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, member in leases:
                    pipe.zrem(self._key(key), member)
                await pipe.execute()

        await self._call("release", run)

    async def counters(self, keys: list[str], now: float) -> list[int]:
        if not keys:
            return []
        values = await self._call("read", lambda: self.client.mget([self._key(k) for k in keys]))
        return [max(int(v), 0) if v is not None else 0 for v in values]

    async def lease_counts(self, keys: list[str], now: float) -> list[int]:
        if not keys:
            return []

        async def run() -> list[Any]:
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zcount(self._key(key), f"({_ms(now)}", "+inf")
                return await pipe.execute()  # type: ignore[no-any-return]

        return [int(n) for n in await self._call("read", run)]

    async def mark(self, key: str, until: float, now: float) -> None:
        seconds = max(math.ceil(until - now), 1)
        await self._call("mark", lambda: self.client.set(self._key(key), repr(until), ex=seconds))

    async def marks(self, keys: list[str], now: float) -> dict[str, float]:
        if not keys:
            return {}
        values = await self._call("read", lambda: self.client.mget([self._key(k) for k in keys]))
        found = {key: float(v) for key, v in zip(keys, values, strict=True) if v is not None}
        return {key: until for key, until in found.items() if until > now}

    async def unmark(self, key: str) -> None:
        await self._call("mark", lambda: self.client.delete(self._key(key)))

    async def ping(self) -> None:
        await self._call("ping", self.client.ping)

    async def close(self) -> None:
        await self.client.aclose()


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
