"""Pure admission and settlement: which counters a request checks and moves, and what a refusal says.

A request is admitted on its estimate: every limited counter of the current windows is checked and,
only if all of them have room, moved at once (requests +1, input tokens +estimate, spend +the
estimated input cost, output tokens +0) and a concurrency lease is taken. When the exchange ends it
is settled with what the upstream reported: the estimate is taken back out of the windows it went
into and the real counts are added to the windows current at the end.

A counter refuses when its window is already full, or when the request's reservation would overflow
it; an empty window admits any one request, so a single large prompt is never refused forever.

Everything here is IO-free: the state backends (`state.py`, `redis_state.py`) apply what this
module computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from axonhub.limits.model import MICRO_USD, KeyLimits, Measure, Rate, Window, usd, utc_iso, window_of

# How long a counter outlives its window, so a late settlement still finds the reservation.
COUNTER_SLACK_S: Final = 120
# A concurrency lease expires unless renewed within this time (a holder that died frees its slot).
LEASE_TTL_S: Final = 60.0
# How long an admission's or settlement's id is remembered, so a retried call is not counted twice.
OP_TTL_S: Final = 300


# ---------------------------------------------------------------------------------------------
# What the state backends apply
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counter:
    """Check `key` against `limit`; if every check of the ask passes, add `add` to it."""

    key: str
    limit: int
    add: int
    ttl: int  # seconds the counter lives when created


@dataclass(frozen=True, slots=True)
class Lease:
    """Hold one of `limit` slots in the lease set `key` as `member`, expiring unless renewed."""

    key: str
    limit: int
    member: str
    ttl: float


@dataclass(frozen=True, slots=True)
class Ask:
    """One atomic admission: all counters and the lease pass and are taken together, or none."""

    op: str  # unique id: a retried call with the same id is not counted twice
    subject: str  # the hash tag every key of the ask shares (one Redis Cluster slot)
    counters: tuple[Counter, ...] = ()
    lease: Lease | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """Which part of an ask refused: `index` into `counters`, or -1 for the lease; what it held."""

    index: int
    used: int


@dataclass(frozen=True, slots=True)
class Adjust:
    """Add `amount` (may be negative) to counter `key`; a result below zero is stored as zero."""

    key: str
    amount: int
    ttl: int
    only_existing: bool = False  # a release from a window that may have expired already


@dataclass(frozen=True, slots=True)
class Settle:
    op: str
    subject: str
    adjusts: tuple[Adjust, ...] = ()
    release: tuple[tuple[str, str], ...] = ()  # (lease set key, member)


def subject_tag(scope: str, name: str) -> str:
    """`{k:alice}`: every state key of one key (or channel) shares this hash tag."""
    return "{" + f"{scope}:{name}" + "}"


def counter_key(subject: str, measure: Measure, window: Window, window_id: str) -> str:
    return f"{subject}:{measure.value}:{window.value}:{window_id}"


def lease_key(subject: str, what: str) -> str:
    return f"{subject}:{what}"


def counter_ttl(reset_at: float, now: float) -> int:
    return max(int(reset_at - now) + COUNTER_SLACK_S, 1)


def refuses(used: int, limit: int, add: int) -> bool:
    """A full window refuses; so does one the reservation would overflow, unless it is empty."""
    return used >= limit or (used > 0 and used + add > limit)


# ---------------------------------------------------------------------------------------------
# Refusals as the client and the trace see them
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exceeded:
    """A limit that refused a request: which one, how far it was used, when it frees up."""

    scope: str  # "key" | "channel"
    subject: str  # the key's or the channel's name
    name: str  # "requests_per_minute", "concurrent_requests", "max_concurrent", …
    limit: int
    used: int
    reset_at: float | None  # epoch seconds; None when it frees as soon as a request ends
    measure: Measure | None = None
    window: Window | None = None

    def retry_after(self, now: float) -> int:
        """Whole seconds until the limit frees up (at least 1)."""
        if self.reset_at is None:
            return 1
        return max(int(self.reset_at - now + 0.999), 1)

    def describe_limit(self) -> str:
        if self.measure is not None and self.window is not None:
            return Rate(self.name, self.measure, self.window, self.limit).describe()
        return f"{self.limit} concurrent request{'s' if self.limit != 1 else ''}"

    def message(self) -> str:
        used = usd(self.used / MICRO_USD) if self.measure is Measure.SPEND else f"{self.used:,}"
        where = f"{self.scope} '{self.subject}'"
        text = f"rate limit: {where} reached its limit {self.name} ({self.describe_limit()}; used {used})"
        if self.reset_at is None:
            return text + "; it frees up when one of its requests in flight ends"
        return text + f"; it resets at {utc_iso(self.reset_at)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "subject": self.subject,
            "name": self.name,
            "limit": self.limit,
            "used": self.used,
            "reset_at": self.reset_at,
        }


# ---------------------------------------------------------------------------------------------
# Key admission and settlement
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    rate: Rate
    key: str  # the counter of the admission's window
    amount: int


@dataclass(frozen=True, slots=True)
class Ticket:
    """What an admitted request took, kept until it is settled."""

    op: str
    subject: str
    key_name: str
    reservations: tuple[Reservation, ...]
    lease: tuple[str, str] | None  # (lease set key, member)


def estimated_cost_micro(input_tokens: int, input_price: float) -> int:
    """Micro-USD of `input_tokens` at `input_price` USD per million tokens."""
    return round(input_tokens * input_price)


def key_ask(
    key_name: str, limits: KeyLimits, op: str, now: float, estimate: int, input_price: float
) -> tuple[Ask, Ticket, tuple[Rate, ...], tuple[float, ...]]:
    """The ask that admits one request of key `key_name`, its ticket, and per counter its rate and reset."""
    subject = subject_tag("k", key_name)
    counters: list[Counter] = []
    reservations: list[Reservation] = []
    resets: list[float] = []
    rates = limits.rates()
    for rate in rates:
        window_id, reset_at = window_of(rate.window, now)
        key = counter_key(subject, rate.measure, rate.window, window_id)
        amount = _reserve(rate.measure, estimate, input_price)
        counters.append(Counter(key, rate.limit, amount, counter_ttl(reset_at, now)))
        reservations.append(Reservation(rate, key, amount))
        resets.append(reset_at)
    lease = None
    if limits.concurrent_requests is not None:
        lease = Lease(lease_key(subject, "concurrent"), limits.concurrent_requests, op, LEASE_TTL_S)
    ask = Ask(op, subject, tuple(counters), lease)
    ticket = Ticket(op, subject, key_name, tuple(reservations), (lease.key, lease.member) if lease else None)
    return ask, ticket, rates, tuple(resets)


def _reserve(measure: Measure, estimate: int, input_price: float) -> int:
    match measure:
        case Measure.REQUESTS:
            return 1
        case Measure.INPUT_TOKENS:
            return estimate
        case Measure.OUTPUT_TOKENS:
            return 0
        case Measure.SPEND:
            return estimated_cost_micro(estimate, input_price)


def key_refusal(
    key_name: str, limits: KeyLimits, refused: Refused, rates: tuple[Rate, ...], resets: tuple[float, ...]
) -> Exceeded:
    if refused.index < 0:
        limit = limits.concurrent_requests or 0
        return Exceeded("key", key_name, "concurrent_requests", limit, refused.used, None)
    rate = rates[refused.index]
    return Exceeded(
        "key", key_name, rate.name, rate.limit, refused.used, resets[refused.index], rate.measure, rate.window
    )


@dataclass(frozen=True, slots=True)
class Actual:
    """What the exchange really used, as the limits count it."""

    input_tokens: int = 0  # the whole prompt: uncached + cache reads + cache writes
    output_tokens: int = 0
    spend_micro: int = 0

    @classmethod
    def from_usage(cls, usage: Mapping[str, Any] | None, cost_usd: float) -> Actual:
        usage = usage or {}

        def count(name: str) -> int:
            value = usage.get(name)
            return value if isinstance(value, int) and value > 0 else 0

        return cls(
            input_tokens=count("input") + count("cache_read") + count("cache_write"),
            output_tokens=count("output"),
            spend_micro=round(cost_usd * MICRO_USD),
        )

    def of(self, measure: Measure) -> int:
        match measure:
            case Measure.REQUESTS:
                return 0  # counted whole at admission
            case Measure.INPUT_TOKENS:
                return self.input_tokens
            case Measure.OUTPUT_TOKENS:
                return self.output_tokens
            case Measure.SPEND:
                return self.spend_micro


def settlement(ticket: Ticket, actual: Actual, now: float) -> Settle:
    """Take each reservation back out of its window and add the real count to the current one."""
    amounts: dict[str, list[int]] = {}  # key -> [amount, only_existing, ttl]
    for reservation in ticket.reservations:
        rate = reservation.rate
        if rate.measure is Measure.REQUESTS:
            continue
        window_id, reset_at = window_of(rate.window, now)
        current = counter_key(ticket.subject, rate.measure, rate.window, window_id)
        ttl = counter_ttl(reset_at, now)
        if reservation.amount:
            entry = amounts.setdefault(reservation.key, [0, 1, ttl])
            entry[0] -= reservation.amount
        real = actual.of(rate.measure)
        if real:
            entry = amounts.setdefault(current, [0, 0, ttl])
            entry[0] += real
            entry[1] = 0  # an add creates the counter
    adjusts = tuple(
        Adjust(key, amount, ttl, only_existing=bool(only)) for key, (amount, only, ttl) in amounts.items() if amount
    )
    return Settle(ticket.op + ":settled", ticket.subject, adjusts, (ticket.lease,) if ticket.lease else ())
