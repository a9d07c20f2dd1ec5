"""The limits as the request path sees them: admit a key's request, gate each upstream attempt on a
channel, settle the exchange when it ends, skip a channel whose quota is exhausted.

One `Limiter` per app (`LIMITER`), opened and closed in `cleanup_ctx`:

    admit(exchange, route, estimate)   after auth and routing, before dispatch: raises RateLimited
    enter_channel(channel, fmt)        before each upstream attempt: a ChannelPass, or RateLimited
    settle_record(record)              an ON_EXCHANGE_DONE callback: settles the usage, frees leases
    exhausted_until / note_quota       a channel that answered "quota exhausted" is skipped until then

When the state cannot be reached (`StateUnavailable`), `on_error` decides: `open` admits the request
unchecked (counted in `axonhub_limit_unchecked_total`), `closed` refuses it with a 503. Either way
`/health` and `/metrics` show the outage. Leases held by this process are renewed in the background,
so a long stream keeps its slot and a crashed process frees its slots when their leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from axonhub.config import Channel, Key, Price, StateConfig
from axonhub.errors import ErrorKind, GatewayError, RateLimited
from axonhub.exchange import Exchange
from axonhub.limits.admission import (
    LEASE_TTL_S,
    Actual,
    Ask,
    Exceeded,
    Lease,
    Refused,
    Ticket,
    counter_key,
    counter_ttl,
    key_ask,
    key_refusal,
    lease_key,
    settlement,
    subject_tag,
)
from axonhub.limits.admission import Counter as StateCounter
from axonhub.limits.gate import Gate, QueueFull, QueueTimeout
from axonhub.limits.headers import limit_headers
from axonhub.limits.model import Measure, Window, utc_iso, window_of
from axonhub.limits.quota import quota_reset
from axonhub.limits.state import MemoryState, StateBackend, StateUnavailable, Unreachable
from axonhub.profiles import Candidate, Route
from axonhub.trace_record import TraceRecord

T = TypeVar("T")
log = structlog.get_logger("axonhub.limits")

RENEW_EVERY_S: Final = LEASE_TTL_S / 3
MARKS_EVERY_S: Final = 5.0
SETTLE_DRAIN_S: Final = 5.0


def open_state(config: StateConfig) -> StateBackend:
    """The backend `server.state` names."""
    if config.backend == "memory":
        return MemoryState()
    if config.url is None:
        return Unreachable("redis", f"environment variable {config.url_env} is not set")
    try:
        from axonhub.limits.redis_state import RedisState
    except ImportError:
        return Unreachable("redis", "the redis package is not installed: pip install 'axonhub[redis]'")
    return RedisState(config.url, prefix=config.prefix, timeout=config.timeout)


class LimitMetrics:
    """The limits' Prometheus series, on the app's registry."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry
        self.rejections = Counter(
            "axonhub_limit_rejections", "Requests refused by an AxonHub limit.", ["scope", "limit"], registry=r
        )
        self.unchecked = Counter(
            "axonhub_limit_unchecked",
            "Requests let through unchecked because the limits state was unreachable (on_error: open).",
            registry=r,
        )
        self.state_errors = Counter("axonhub_state_errors", "Failed calls to the limits state.", registry=r)
        self.state_up = Gauge(
            "axonhub_state_up",
            "1 while the limits state answers, 0 while not.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.state_up.set(1)
        self.waiting = Gauge(
            "axonhub_channel_queue_waiting",
            "Requests waiting for a free slot of a channel.",
            ["channel"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.inflight = Gauge(
            "axonhub_channel_inflight",
            "Upstream requests holding a slot of a channel (channels with max_concurrent).",
            ["channel"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.exhausted = Gauge(
            "axonhub_channel_quota_exhausted",
            "1 while a channel is skipped because its provider quota is exhausted.",
            ["channel"],
            registry=r,
            multiprocess_mode="livemax",
        )


@dataclass(slots=True)
class ChannelPass:
    """A slot of a channel held for one upstream attempt; `release()` gives it back (once)."""

    limiter: Limiter
    channel: str
    gate: Gate | None
    lease: tuple[str, str] | None
    released: bool = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self.lease is not None:
            self.limiter._release_slot(self)


@dataclass(slots=True)
class _Pending:
    ticket: Ticket | None  # None: a key without limits, waiting only to give back channel slots
    price: Price | None
    passes: list[ChannelPass] = field(default_factory=list)


class Limiter:
    """Admission, channel gates, settlement and quota skips for one app."""

    def __init__(
        self,
        state: StateBackend,
        *,
        on_error: str = "open",
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        poll: float | None = None,
    ) -> None:
        self.state = state
        self.on_error = on_error
        self.clock = clock
        self.poll = poll if poll is not None else (1.0 if state.name == "memory" else 0.05)
        self.metrics = LimitMetrics(registry)
        self.state_error: str | None = None
        self.state_error_since: float | None = None
        self._pending: dict[tuple[str, str | None], list[_Pending]] = {}
        self._held: dict[tuple[str, str], None] = {}  # leases this process holds, to renew
        self._gates: dict[str, Gate] = {}
        self._exhausted: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    # -----------------------------------------------------------------------------------------
    # State calls and their failures
    # -----------------------------------------------------------------------------------------

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            result = await call
        except StateUnavailable as exc:
            self._state_failed(str(exc))
            raise
        self._state_ok()
        return result

    def _state_failed(self, error: str) -> None:
        self.metrics.state_errors.inc()
        if self.state_error is None:
            self.state_error_since = self.clock()
            log.error("limits state unreachable", backend=self.state.name, error=error, on_error=self.on_error)
        self.state_error = error
        self.metrics.state_up.set(0)

    def _state_ok(self) -> None:
        if self.state_error is not None:
            log.warning("limits state reachable again", backend=self.state.name)
            self.state_error = None
            self.state_error_since = None
            self.metrics.state_up.set(1)

    def _unreachable(self, subject: str) -> GatewayError:
        return GatewayError(
            f"AxonHub cannot check the limits of {subject} right now; try again shortly",
            kind=ErrorKind.UNAVAILABLE,
            headers={"retry-after": "5", "x-should-retry": "true"},  # an outage passes (its kind is not retried)
            detail=self.state_error,
            hint=f"its limits state ({self.state.name}) is unreachable and server.state.on_error is closed "
            "(see /health)",
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -----------------------------------------------------------------------------------------
    # Keys
    # -----------------------------------------------------------------------------------------

    async def admit_exchange(self, exchange: Exchange, route: Route, estimate: Callable[[], int]) -> None:
        """Admit a routed model call of the exchange's key (token counts are not limited)."""
        if exchange.kind == "count_tokens":
            return
        pricing = exchange.config.pricing
        price = pricing.get(route.resolved_model) or pricing.get(exchange.requested_model or "")
        await self.admit(exchange.request_id, exchange.key, exchange.client_format, estimate=estimate, price=price)

    def usable(self, route: Route, client_format: str) -> tuple[Candidate, ...]:
        """The route's channels without those skipped for an exhausted quota; RateLimited if none is left."""
        kept = tuple(c for c in route.candidates if self.exhausted_until(c.channel.name) is None)
        if kept or not route.candidates:
            return kept
        until = min(self.exhausted_until(c.channel.name) or 0.0 for c in route.candidates)
        names = ", ".join(c.channel.name for c in route.candidates)
        exceeded = _quota_exceeded(names, until)
        message = (
            f"rate limit: every channel that serves {route.resolved_model} ({names}) has exhausted its provider "
            f"quota; the first resets at {utc_iso(until)}"
        )
        raise self._refusal(exceeded, client_format, self.clock(), message)

    async def admit(
        self,
        request_id: str,
        key: Key | None,
        client_format: str,
        *,
        estimate: Callable[[], int],
        price: Price | None,
    ) -> None:
        """Admit one request of `key` or raise RateLimited (or a 503 when the state is down and closed)."""
        if key is None or key.limits.empty:
            return
        limits = key.limits
        now = self.clock()
        needs_estimate = any(r.measure in (Measure.INPUT_TOKENS, Measure.SPEND) for r in limits.rates())
        tokens = estimate() if needs_estimate else 0
        op = secrets.token_hex(12)
        ask, ticket, rates, resets = key_ask(key.name, limits, op, now, tokens, price.input if price else 0.0)
        try:
            refused = await self._call(self.state.admit(ask, now))
        except StateUnavailable:
            if self.on_error == "closed":
                raise self._unreachable(f"key '{key.name}'") from None
            self.metrics.unchecked.inc()
            return
        if refused is not None:
            raise self._refusal(key_refusal(key.name, limits, refused, rates, resets), client_format, now)
        self._pending.setdefault((request_id, key.name), []).append(_Pending(ticket, price))
        if ticket.lease is not None:
            self._held[ticket.lease] = None

    def _refusal(self, exceeded: Exceeded, client_format: str, now: float, message: str | None = None) -> RateLimited:
        self.metrics.rejections.labels(exceeded.scope, exceeded.name).inc()
        return RateLimited(
            message or exceeded.message(),
            headers=limit_headers(exceeded, client_format, now),
            limit=exceeded.as_dict(),
        )

    def settle_record(self, record: TraceRecord) -> None:
        """ON_EXCHANGE_DONE: settle the exchange's usage, give back its lease and its channel slots."""
        entries = self._pending.get((str(record.get("request_id")), record.get("key")))
        if not entries:
            return
        pending = entries.pop(0)  # two requests sharing a client-chosen request id settle in turn
        if not entries:
            del self._pending[(str(record.get("request_id")), record.get("key"))]
        for channel_pass in pending.passes:
            channel_pass.release()
        ticket = pending.ticket
        if ticket is None:
            return
        if ticket.lease is not None:
            self._held.pop(ticket.lease, None)
        cost = _cost(record.get("usage"), pending.price)
        self._spawn(self._settle(settlement(ticket, Actual.from_usage(record.get("usage"), cost), self.clock())))

    async def _settle(self, settle: Any) -> None:
        with contextlib.suppress(StateUnavailable):
            await self._call(self.state.settle(settle, self.clock()))

    async def key_usage(self, key: Key) -> list[dict[str, Any]]:
        """Each limit of `key` with its current use and reset time (raises StateUnavailable)."""
        from axonhub.limits.usage import key_usage

        return await key_usage(self.state, key.name, key.limits, self.clock())

    # -----------------------------------------------------------------------------------------
    # Channels
    # -----------------------------------------------------------------------------------------

    async def enter_channel(self, channel: Channel, client_format: str) -> ChannelPass | None:
        """A slot of `channel` for one attempt (waiting in line for it), or RateLimited for this channel."""
        limits = channel.limits
        if limits.empty:
            return None
        subject = subject_tag("c", channel.name)
        op = secrets.token_hex(12)
        lease = None
        if limits.max_concurrent is not None:
            lease = Lease(lease_key(subject, "inflight"), limits.max_concurrent, op, LEASE_TTL_S)

        async def try_take() -> bool:
            now = self.clock()
            counters: tuple[StateCounter, ...] = ()
            reset_at = 0.0
            if limits.requests_per_minute is not None:
                window_id, reset_at = window_of(Window.MINUTE, now)
                key = counter_key(subject, Measure.REQUESTS, Window.MINUTE, window_id)
                counters = (StateCounter(key, limits.requests_per_minute, 1, counter_ttl(reset_at, now)),)
            try:
                refused = await self._call(self.state.admit(Ask(op, subject, counters, lease), now))
            except StateUnavailable:
                if self.on_error == "closed":
                    raise self._unreachable(f"channel '{channel.name}'") from None
                self.metrics.unchecked.inc()
                return True
            if refused is None:
                return True
            if refused.index >= 0:
                exceeded = Exceeded(
                    "channel",
                    channel.name,
                    "requests_per_minute",
                    limits.requests_per_minute or 0,
                    refused.used,
                    reset_at,
                    Measure.REQUESTS,
                    Window.MINUTE,
                )
                raise self._refusal(exceeded, client_format, now)
            return False

        if lease is None:
            await try_take()
            return ChannelPass(self, channel.name, None, None)
        gate = self._gates.setdefault(channel.name, Gate())
        waiting = self.metrics.waiting.labels(channel.name)
        waiting.inc()
        try:
            await gate.enter(try_take, wait_at_most=limits.queue_timeout, max_queue=limits.max_queue, poll=self.poll)
        except (QueueFull, QueueTimeout) as exc:
            raise self._busy(channel, client_format, isinstance(exc, QueueFull)) from None
        finally:
            waiting.dec()
        self._held[(lease.key, lease.member)] = None
        self.metrics.inflight.labels(channel.name).inc()
        return ChannelPass(self, channel.name, gate, (lease.key, lease.member))

    def _busy(self, channel: Channel, client_format: str, full: bool) -> RateLimited:
        limits = channel.limits
        cap = limits.max_concurrent or 0
        exceeded = Exceeded("channel", channel.name, "max_concurrent", cap, cap, None)
        if full:
            message = (
                f"rate limit: channel '{channel.name}' has all {cap} of its concurrent slots (max_concurrent) taken "
                f"and {limits.max_queue} request{'s' if limits.max_queue != 1 else ''} already waiting (max_queue); "
                "try again shortly"
            )
        else:
            message = (
                f"rate limit: channel '{channel.name}' had no free slot (max_concurrent {cap}) within its "
                f"queue_timeout of {limits.queue_timeout:g}s; try again shortly"
            )
        return self._refusal(exceeded, client_format, self.clock(), message)

    def hold(self, request_id: str, key: Key | None, channel_pass: ChannelPass | None) -> None:
        """Keep `channel_pass` until the exchange is settled (the attempt that answered streams on)."""
        if channel_pass is None:
            return
        entries = self._pending.get((request_id, key.name if key else None))
        if entries:
            entries[-1].passes.append(channel_pass)
            return
        # a key without limits: a pending entry only to give the slot back when the exchange ends
        self._pending.setdefault((request_id, key.name if key else None), []).append(
            _Pending(None, None, [channel_pass])
        )

    def _release_slot(self, channel_pass: ChannelPass) -> None:
        assert channel_pass.lease is not None
        self._held.pop(channel_pass.lease, None)
        self.metrics.inflight.labels(channel_pass.channel).dec()
        self._spawn(self._give_back(channel_pass))

    async def _give_back(self, channel_pass: ChannelPass) -> None:
        assert channel_pass.lease is not None
        with contextlib.suppress(StateUnavailable):  # the lease expires on its own
            await self._call(self.state.release([channel_pass.lease]))
        if channel_pass.gate is not None:
            channel_pass.gate.released()

    # -----------------------------------------------------------------------------------------
    # Exhausted quotas
    # -----------------------------------------------------------------------------------------

    def exhausted_until(self, channel: str) -> float | None:
        until = self._exhausted.get(channel)
        if until is None:
            return None
        if until <= self.clock():
            self._forget_exhausted(channel, "channel quota reset; trying it again")
            return None
        return until

    def quota_exhausted(self, channel: str, message: str, headers: Mapping[str, str]) -> bool:
        """An upstream 429 of `channel`: True (and the channel skipped until its reset) when it is an
        exhausted quota rather than a burst limit."""
        until = quota_reset(message, headers, self.clock())
        if until is None:
            return False
        self.note_quota(channel, until)
        return True

    def quota_headers(self, channel: str) -> dict[str, str]:
        """The retry headers every refusal for `channel`'s exhausted quota carries ({} while it is not)."""
        until = self.exhausted_until(channel)
        if until is None:
            return {}
        return limit_headers(_quota_exceeded(channel, until), "", self.clock())

    def note_quota(self, channel: str, until: float) -> None:
        """`channel`'s provider quota is exhausted until `until`: skip it (every instance) until then."""
        self._remember_exhausted(channel, until)
        self._spawn(self._share_mark(channel, until))

    def _remember_exhausted(self, channel: str, until: float) -> None:
        if self._exhausted.get(channel, 0.0) < until:
            self._exhausted[channel] = until
            self.metrics.exhausted.labels(channel).set(1)
            log.warning("channel quota exhausted; skipping it until its reset", channel=channel, until=until)

    async def _share_mark(self, channel: str, until: float) -> None:
        with contextlib.suppress(StateUnavailable):
            await self._call(self.state.mark(_exhausted_key(channel), until, self.clock()))

    async def refresh_marks(self, channels: Iterable[str]) -> None:
        """Follow the shared marks: learn the channels other instances found exhausted, and forget those
        an admin cleared. (A mark this instance could not share while the state was down is forgotten
        too: the channel's next 429 marks it again.)"""
        names = list(channels)
        marks = await self._call(self.state.marks([_exhausted_key(n) for n in names], self.clock()))
        for name in names:
            until = marks.get(_exhausted_key(name))
            if until is not None:
                self._remember_exhausted(name, until)
            elif name in self._exhausted:
                self._forget_exhausted(name, "channel quota mark cleared elsewhere; trying it again")

    async def clear_quota(self, channel: str) -> float | None:
        """Forget that `channel`'s quota is exhausted, here and in the shared state (other instances
        follow within MARKS_EVERY_S); until when it was marked, or None. StateUnavailable when the
        shared state cannot be reached: the mark is then cleared here only."""
        until = self.exhausted_until(channel)
        if until is not None:
            self._forget_exhausted(channel, "channel quota mark cleared by an admin; trying it again")
        await self._call(self.state.unmark(_exhausted_key(channel)))
        return until

    def _forget_exhausted(self, channel: str, why: str) -> None:
        del self._exhausted[channel]
        self.metrics.exhausted.labels(channel).set(0)
        log.info(why, channel=channel)

    # -----------------------------------------------------------------------------------------
    # Background work and health
    # -----------------------------------------------------------------------------------------

    def start(self, channel_names: Callable[[], Iterable[str]]) -> None:
        """Renew held leases and, on shared state, follow other instances' quota marks."""
        loop = asyncio.get_running_loop()
        self._loops.append(loop.create_task(self._renew_forever(), name="axonhub-limits-renew"))
        if self.state.name != "memory":
            self._loops.append(loop.create_task(self._marks_forever(channel_names), name="axonhub-limits-marks"))

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            with contextlib.suppress(StateUnavailable):
                await self._call(self.state.renew(list(self._held), LEASE_TTL_S, self.clock()))

    async def _marks_forever(self, channel_names: Callable[[], Iterable[str]]) -> None:
        while True:
            with contextlib.suppress(StateUnavailable):
                await self.refresh_marks(channel_names())
            await asyncio.sleep(MARKS_EVERY_S)

    async def settled(self) -> None:
        """Wait for the settlements and slot releases started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the background loops, let pending settlements finish (bounded), close the state."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=SETTLE_DRAIN_S)
        await self.state.close()

    def health(self) -> dict[str, Any]:
        return {
            "backend": self.state.name,
            "ok": self.state_error is None,
            "error": self.state_error,
            "since": self.state_error_since,
            "on_error": self.on_error,
        }

    def exhausted(self) -> dict[str, float]:
        now = self.clock()
        return {name: until for name, until in self._exhausted.items() if until > now}


def _quota_exceeded(channels: str, until: float) -> Exceeded:
    """The refusal of `channels` (one name, or several joined) for a provider quota spent until `until`."""
    return Exceeded("channel", channels, "provider_quota", 0, 0, until)


def _exhausted_key(channel: str) -> str:
    return f"{subject_tag('c', channel)}:exhausted"


def _cost(usage: Any, price: Price | None) -> float:
    from axonhub.trace_stats import cost_of, usage_counts

    if price is None or not isinstance(usage, Mapping):
        return 0.0
    return cost_of(usage_counts(usage), price)


LIMITER = web.AppKey("limiter", Limiter)


def limiter_ctx(limiter: Limiter, channel_names: Callable[[], Iterable[str]]) -> Callable[[web.Application], Any]:
    """A cleanup_ctx running the limiter's background work while the app runs."""

    async def ctx(app: web.Application) -> Any:
        limiter.start(channel_names)
        try:
            yield
        finally:
            await limiter.close()

    return ctx


__all__ = ["LIMITER", "ChannelPass", "Limiter", "Refused", "limiter_ctx", "open_state"]
