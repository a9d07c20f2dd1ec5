"""What a limit is: the frozen limits of a key and of a channel, the windows they count in, and
when each window resets.

Windows are fixed and aligned to UTC: a minute window is one wall-clock minute, a day window one
UTC day, a month window one UTC calendar month. A window's counters start at zero when it begins,
so "when it resets" has one answer every instance agrees on (given clocks kept by NTP).

Spend is counted in micro-dollars (an integer, so Redis can add it atomically).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

MICRO_USD: Final = 1_000_000


def usd(amount: float) -> str:
    """`$5.00`, `$1,234.50`; an amount under a dollar that cents would round keeps its digits (`$0.001`)."""
    if abs(amount) < 1 and round(amount, 2) != amount:
        return f"${amount:.6f}".rstrip("0")
    return f"${amount:,.2f}"


class Window(StrEnum):
    MINUTE = "minute"
    DAY = "day"
    MONTH = "month"


class Measure(StrEnum):
    REQUESTS = "requests"
    INPUT_TOKENS = "input_tokens"
    OUTPUT_TOKENS = "output_tokens"
    SPEND = "spend"  # micro-USD


def utc_iso(moment: float) -> str:
    """`2026-05-01T12:01:00Z`: how limits say when they reset."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def window_of(window: Window, now: float) -> tuple[str, float]:
    """(the window's id, the epoch second it resets) for the window holding `now`."""
    if window is Window.MINUTE:
        minute = int(now // 60)
        return str(minute), float((minute + 1) * 60)
    moment = datetime.fromtimestamp(now, UTC)
    if window is Window.DAY:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start.timestamp() + 86400
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    )
    return start.strftime("%Y-%m"), following.timestamp()


@dataclass(frozen=True, slots=True)
class Rate:
    """One counted limit: `limit` units of `measure` per `window`."""

    name: str  # the config's name for it, e.g. "input_tokens_per_minute"
    measure: Measure
    window: Window
    limit: int  # in the measure's unit (spend: micro-USD)

    def describe(self) -> str:
        """`60 requests per minute`, `1 input token per day`, `$5.00 of spend per day`."""
        if self.measure is Measure.SPEND:
            return f"{usd(self.limit / MICRO_USD)} of spend per {self.window.value}"
        unit = self.measure.value.replace("_", " ")
        return f"{self.limit:,} {unit if self.limit != 1 else unit.removesuffix('s')} per {self.window.value}"


# field of KeyLimits -> what it counts and per which window
KEY_RATES: Final[Mapping[str, tuple[Measure, Window]]] = {
    "requests_per_minute": (Measure.REQUESTS, Window.MINUTE),
    "input_tokens_per_minute": (Measure.INPUT_TOKENS, Window.MINUTE),
    "output_tokens_per_minute": (Measure.OUTPUT_TOKENS, Window.MINUTE),
    "input_tokens_per_day": (Measure.INPUT_TOKENS, Window.DAY),
    "output_tokens_per_day": (Measure.OUTPUT_TOKENS, Window.DAY),
    "spend_per_day_usd": (Measure.SPEND, Window.DAY),
    "spend_per_month_usd": (Measure.SPEND, Window.MONTH),
}


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A key's limits (None: no limit). Input tokens count the whole prompt, cached or not."""

    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None
    input_tokens_per_day: int | None = None
    output_tokens_per_day: int | None = None
    spend_per_day_usd: float | None = None
    spend_per_month_usd: float | None = None
    concurrent_requests: int | None = None

    def rates(self) -> tuple[Rate, ...]:
        rates = []
        for name, (measure, window) in KEY_RATES.items():
            value = getattr(self, name)
            if value is not None:
                limit = round(value * MICRO_USD) if measure is Measure.SPEND else int(value)
                rates.append(Rate(name, measure, window, limit))
        return tuple(rates)

    @property
    def empty(self) -> bool:
        return self == NO_KEY_LIMITS  # checked for every request: one comparison, not a walk over fields()

    def as_dict(self) -> dict[str, Any]:
        """The limits that are set, by config name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


NO_KEY_LIMITS: Final = KeyLimits()


def with_overrides(base: KeyLimits, overrides: Mapping[str, Any] | None) -> KeyLimits:
    """`base` with the fields `overrides` names; an explicit null lifts a limit."""
    return dataclasses.replace(base, **dict(overrides or {}))


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """A channel's limits on the requests AxonHub sends it."""

    max_concurrent: int | None = None  # upstream requests in flight at once (streams included)
    max_queue: int = 100  # requests allowed to wait for a free slot; more are turned away at once
    queue_timeout: float = 60.0  # seconds a request waits for a slot before trying the next channel
    requests_per_minute: int | None = None

    @property
    def empty(self) -> bool:
        return self.max_concurrent is None and self.requests_per_minute is None


NO_CHANNEL_LIMITS: Final = ChannelLimits()
