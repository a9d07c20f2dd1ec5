"""Telling a provider's exhausted quota (daily, monthly, a coding plan's 5-hour window) from a burst 429.

A burst limit frees up within a minute, so the normal short cool-down fits it. An exhausted quota
does not free up for hours: retrying the channel every cool-down only collects more 429s, so the
channel is skipped until the quota's reset time instead.

`quota_reset()` reads the reset time from, in order: the response headers (`retry-after`,
`retry-after-ms`, `anthropic-ratelimit-unified-reset`, `x-ratelimit-reset*`), a "try again in …"
or a timestamp with a UTC offset in the message, and the period the message names (per day →
next UTC midnight, per month → the first of next month, N-hour → N hours). A reset at least
`QUOTA_MIN_S` away is a quota; a message that speaks of a quota without any time is taken as one
that frees up in `QUOTA_UNKNOWN_S` (the channel is tried again then, and skipped again if still out).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final

from axonhub.limits.model import Window, window_of

QUOTA_MIN_S: Final = 300.0
QUOTA_UNKNOWN_S: Final = 900.0
QUOTA_MAX_S: Final = 31 * 86400.0

_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT = r"(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![a-z])"
_PART = re.compile(r"([\d.]+)\s*(" + _UNIT + ")", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:[\d.]+\s*" + _UNIT + r"\s*)+$", re.IGNORECASE)
_TRY_AGAIN = re.compile(
    r"(?:try again|retry|available again|resets?)\s+in\s+(?:about\s+)?((?:[\d.]+\s*" + _UNIT + r"[\s,]*(?:and\s+)?)+)",
    re.IGNORECASE,
)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})", re.I)
_HOURS_WINDOW = re.compile(r"\b(\d{1,2})[ -]?(?:hours?|hrs?|h)\b(?! ago)", re.IGNORECASE)
_DAILY = re.compile(r"per[ _-]?day|daily|PerDay|\bRPD\b|\bTPD\b|for (?:the|to)day|day limit", re.IGNORECASE)
_MONTHLY = re.compile(r"per[ _-]?month|monthly|PerMonth|this month|month limit", re.IGNORECASE)
_QUOTA_WORDS = re.compile(
    r"quota|usage limit|limit reached for|exceeded your current|insufficient[_ ]quota|plan limit|"
    r"credits?|balance|" + _DAILY.pattern + "|" + _MONTHLY.pattern,
    re.IGNORECASE,
)


def parse_duration(text: str) -> float | None:
    """`6m0s`, `1h2m3.5s`, `20ms`, `45 seconds`, `2 hours and 3 minutes` → seconds."""
    if not _DURATION.match(text.replace(",", " ").replace(" and ", " ")):
        return None
    total = 0.0
    for number, unit in _PART.findall(text):
        try:
            value = float(number)
        except ValueError:
            return None
        key = unit.lower()
        key = "ms" if key.startswith("milli") or key == "ms" else key[0]
        total += value * _UNIT_SECONDS[key]
    return total


def _header_reset(headers: Mapping[str, str], now: float) -> float | None:
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    found: list[float] = []
    if "retry-after-ms" in lowered:
        found += _number(lowered["retry-after-ms"], lambda v: now + v / 1000)
    if "retry-after" in lowered:
        value = lowered["retry-after"]
        found += _number(value, lambda v: now + v) or _http_date(value)
    if "anthropic-ratelimit-unified-reset" in lowered:
        found += _number(lowered["anthropic-ratelimit-unified-reset"], _epoch_or_delta(now))
    for name, value in lowered.items():
        if name.startswith("x-ratelimit-reset") or (
            name.startswith("anthropic-ratelimit-") and name.endswith("-reset")
        ):
            found += _number(value, _epoch_or_delta(now)) or _duration_at(value, now) or _iso(value)
    return max(found) if found else None


def _number(text: str, to_time: Callable[[float], float]) -> list[float]:
    try:
        value = float(text)
    except ValueError:
        return []
    return [to_time(value)]


def _epoch_or_delta(now: float) -> Callable[[float], float]:
    """OpenRouter sends epoch milliseconds, others epoch seconds or a delay in seconds."""

    def to_time(value: float) -> float:
        if value > 1e12:
            return value / 1000
        if value > 1e9:
            return value
        return now + value

    return to_time


def _duration_at(text: str, now: float) -> list[float]:
    seconds = parse_duration(text)
    return [now + seconds] if seconds is not None else []


def _http_date(text: str) -> list[float]:
    try:
        return [parsedate_to_datetime(text).timestamp()]
    except (TypeError, ValueError, IndexError):
        return []


def _iso(text: str) -> list[float]:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return []
    return [moment.timestamp()] if moment.tzinfo is not None else []


def _message_reset(message: str, now: float) -> float | None:
    match = _TRY_AGAIN.search(message)
    if match:
        seconds = parse_duration(match.group(1).strip(" ,"))
        if seconds is not None:
            return now + seconds
    stamps = [t for s in _TIMESTAMP.findall(message) for t in _iso(s) if t > now]
    return max(stamps) if stamps else None


def _period_reset(message: str, now: float) -> float | None:
    if _MONTHLY.search(message):
        return window_of(Window.MONTH, now)[1]
    if _DAILY.search(message):
        return window_of(Window.DAY, now)[1]
    hours = _HOURS_WINDOW.search(message)
    if hours and _QUOTA_WORDS.search(message):
        return now + int(hours.group(1)) * 3600
    return None


def quota_reset(message: str, headers: Mapping[str, str], now: float) -> float | None:
    """The moment an upstream's 429 frees up when it is an exhausted quota; None for a burst limit."""
    reset = _header_reset(headers, now) or _message_reset(message, now) or _period_reset(message, now)
    if reset is None:
        return now + QUOTA_UNKNOWN_S if _QUOTA_WORDS.search(message) else None
    if reset - now < QUOTA_MIN_S:
        return None
    return min(reset, now + QUOTA_MAX_S)
