"""The state backend interface, and the in-process (memory) backend.

A backend keeps expiring integer counters, sets of expiring leases, and expiring marks (a channel's
"exhausted until"), and applies `admission.Ask`s and `admission.Settle`s atomically: an ask checks
all its counters and its lease and takes them all or none; a settlement applies all its adjustments
and releases at once. Both carry an id, and a second call with the same id changes nothing (an ask
answers what the first one answered), so a call retried after a lost reply never counts twice.

`MemoryState` is the default: one process, nothing shared, nothing to run. Every method is
synchronous inside (no await between check and change), so it is atomic on the event loop.
`redis_state.RedisState` shares the same operations between processes and machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from axonhub.errors import AxonHubError
from axonhub.limits.admission import OP_TTL_S, Ask, Refused, Settle, refuses

# A sweep of expired entries at most this often (memory backend).
_SWEEP_EVERY_S = 30.0


class StateUnavailable(AxonHubError):
    """The shared state could not be reached in time; the caller applies `state.on_error`."""


class StateBackend(Protocol):
    """Where the limits' counters live."""

    name: str

    async def admit(self, ask: Ask, now: float) -> Refused | None:
        """Apply `ask` atomically: None when admitted, else what refused."""
        ...

    async def settle(self, settle: Settle, now: float) -> None: ...

    async def renew(self, leases: Iterable[tuple[str, str]], ttl: float, now: float) -> None:
        """Push the expiry of these (lease set, member) leases `ttl` seconds past `now`."""
        ...

    async def release(self, leases: Iterable[tuple[str, str]]) -> None: ...

    async def counters(self, keys: list[str], now: float) -> list[int]:
        """The current value of each counter (0 when absent or expired)."""
        ...

    async def lease_counts(self, keys: list[str], now: float) -> list[int]:
        """The number of live leases in each lease set."""
        ...

    async def mark(self, key: str, until: float, now: float) -> None:
        """Remember `until` under `key` until that moment."""
        ...

    async def marks(self, keys: list[str], now: float) -> dict[str, float]:
        """The live marks among `keys`."""
        ...

    async def unmark(self, key: str) -> None:
        """Forget the mark under `key` before its moment."""
        ...

    async def ping(self) -> None:
        """Raise StateUnavailable when the backend cannot be reached."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Expiring:
    value: int
    expires: float


@dataclass(slots=True)
class MemoryState:
    """Counters, leases and marks in this process's memory; lost on restart, never shared."""

    name: str = "memory"
    _counters: dict[str, _Expiring] = field(default_factory=dict)
    _leases: dict[str, dict[str, float]] = field(default_factory=dict)
    _marks: dict[str, float] = field(default_factory=dict)
    _ops: dict[str, float] = field(default_factory=dict)  # id of an applied ask or settlement -> forget at
    _swept: float = 0.0

    async def admit(self, ask: Ask, now: float) -> Refused | None:
        self._sweep(now)
        if self._ops.get(ask.op, 0.0) > now:
            return None  # applied already
        verdict = self._check(ask, now)
        if verdict is not None:
            return verdict  # a refusal changes nothing, so a retry may simply check again
        for counter in ask.counters:
            self._add(counter.key, counter.add, counter.ttl, now)
        if ask.lease is not None:
            self._leases.setdefault(ask.lease.key, {})[ask.lease.member] = now + ask.lease.ttl
        self._ops[ask.op] = now + OP_TTL_S
        return None

    def _check(self, ask: Ask, now: float) -> Refused | None:
        for index, counter in enumerate(ask.counters):
            used = self._value(counter.key, now)
            if refuses(used, counter.limit, counter.add):
                return Refused(index, used)
        if ask.lease is not None:
            holders = self._live(ask.lease.key, now)
            if ask.lease.member not in holders and len(holders) >= ask.lease.limit:
                return Refused(-1, len(holders))
        return None

    async def settle(self, settle: Settle, now: float) -> None:
        if self._ops.get(settle.op, 0.0) > now:
            return
        self._ops[settle.op] = now + OP_TTL_S
        for adjust in settle.adjusts:
            entry = self._counters.get(adjust.key)
            if adjust.only_existing and (entry is None or entry.expires <= now):
                continue  # the window it was reserved in is over
            self._add(adjust.key, adjust.amount, adjust.ttl, now)
        await self.release(settle.release)

    async def renew(self, leases: Iterable[tuple[str, str]], ttl: float, now: float) -> None:
        for key, member in leases:
            holders = self._leases.get(key)
            if holders is not None and member in holders:
                holders[member] = now + ttl

    async def release(self, leases: Iterable[tuple[str, str]]) -> None:
        for key, member in leases:
            holders = self._leases.get(key)
            if holders is not None:
                holders.pop(member, None)
                if not holders:
                    del self._leases[key]

    async def counters(self, keys: list[str], now: float) -> list[int]:
        return [self._value(key, now) for key in keys]

    async def lease_counts(self, keys: list[str], now: float) -> list[int]:
        return [len(self._live(key, now)) for key in keys]

    async def mark(self, key: str, until: float, now: float) -> None:
        self._marks[key] = until

    async def marks(self, keys: list[str], now: float) -> dict[str, float]:
        return {key: self._marks[key] for key in keys if self._marks.get(key, 0.0) > now}

    async def unmark(self, key: str) -> None:
        self._marks.pop(key, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _value(self, key: str, now: float) -> int:
        entry = self._counters.get(key)
        if entry is None or entry.expires <= now:
            return 0
        return entry.value

    def _add(self, key: str, amount: int, ttl: int, now: float) -> None:
        entry = self._counters.get(key)
        if entry is None or entry.expires <= now:
            entry = self._counters[key] = _Expiring(0, now + ttl)
        entry.value = max(entry.value + amount, 0)

    def _live(self, key: str, now: float) -> Mapping[str, float]:
        holders = self._leases.get(key, {})
        for member in [m for m, expires in holders.items() if expires <= now]:
            del holders[member]
        return holders

    def _sweep(self, now: float) -> None:
        """Forget expired counters, ops and marks now and then, so memory stays bounded."""
        if now - self._swept < _SWEEP_EVERY_S:
            return
        self._swept = now
        for key in [k for k, e in self._counters.items() if e.expires <= now]:
            del self._counters[key]
        for op in [o for o, expires in self._ops.items() if expires <= now]:
            del self._ops[op]
        for key in [k for k, until in self._marks.items() if until <= now]:
            del self._marks[key]
        for key in list(self._leases):
            if not self._live(key, now):
                del self._leases[key]


class Unreachable:
    """A backend that cannot be used at all (its URL's variable is not set, its package is missing):
    every call answers StateUnavailable with the reason, so `on_error` applies as for an outage."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def admit(self, ask: Ask, now: float) -> Refused | None:
        raise StateUnavailable(self.reason)

    async def settle(self, settle: Settle, now: float) -> None:
        raise StateUnavailable(self.reason)

    async def renew(self, leases: Iterable[tuple[str, str]], ttl: float, now: float) -> None:
        raise StateUnavailable(self.reason)

    async def release(self, leases: Iterable[tuple[str, str]]) -> None:
        raise StateUnavailable(self.reason)

    async def counters(self, keys: list[str], now: float) -> list[int]:
        raise StateUnavailable(self.reason)

    async def lease_counts(self, keys: list[str], now: float) -> list[int]:
        raise StateUnavailable(self.reason)

    async def mark(self, key: str, until: float, now: float) -> None:
        raise StateUnavailable(self.reason)

    async def marks(self, keys: list[str], now: float) -> dict[str, float]:
        raise StateUnavailable(self.reason)

    async def unmark(self, key: str) -> None:
        raise StateUnavailable(self.reason)

    async def ping(self) -> None:
        raise StateUnavailable(self.reason)

    async def close(self) -> None:
        return None
