"""A key's current use of each of its limits, for `axonhub keys show`.

With Redis state the use is read from Redis: the very counters every instance enforces. With
memory state the counters live inside the running server, so the use is summed from the trace log
instead (every worker's file, so it is the total under `serve --workers`): admitted model calls and
the tokens and spend the upstreams reported, in the current window of each limit. The two agree
except for requests still in flight, and after a restart, when a memory server counts from zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from axonhub.config import Price
from axonhub.limits.admission import counter_key, lease_key, subject_tag
from axonhub.limits.model import MICRO_USD, KeyLimits, Measure, window_of
from axonhub.limits.state import StateBackend
from axonhub.trace_record import MODEL_CALLS, TraceRecord
from axonhub.trace_stats import cost_of, price_for, record_time, usage_of


async def key_usage(state: StateBackend, key_name: str, limits: KeyLimits, now: float) -> list[dict[str, Any]]:
    """Each limit of a key with its use in the current window, read from the state backend."""
    subject = subject_tag("k", key_name)
    rates = limits.rates()
    windows = [window_of(rate.window, now) for rate in rates]
    keys = [counter_key(subject, r.measure, r.window, w[0]) for r, w in zip(rates, windows, strict=True)]
    used = await state.counters(keys, now)
    rows = [
        {"limit": rate.name, "value": rate.limit, "used": value, "resets_at": reset}
        for rate, value, (_, reset) in zip(rates, used, windows, strict=True)
    ]
    if limits.concurrent_requests is not None:
        (held,) = await state.lease_counts([lease_key(subject, "concurrent")], now)
        rows.append(
            {"limit": "concurrent_requests", "value": limits.concurrent_requests, "used": held, "resets_at": None}
        )
    return rows


def use_from_trace(
    records: Iterable[TraceRecord],
    key_name: str,
    limits: KeyLimits,
    pricing: Mapping[str, Price],
    now: float,
) -> list[dict[str, Any]]:
    """Each limit of a key with its use in the current window, summed from trace records."""
    rates = limits.rates()
    windows = [window_of(rate.window, now) for rate in rates]
    starts = [_window_start(rate.window.value, now) for rate in rates]
    used = [0] * len(rates)
    for record in records:
        if record.get("key") != key_name or record.get("kind") not in MODEL_CALLS or record.get("limit"):
            continue
        moment = record_time(record)
        if moment is None or record.get("resolved_model") is None:
            continue
        counts = _counts(record, pricing)
        for i, rate in enumerate(rates):
            if starts[i] <= moment.timestamp() <= now:
                used[i] += counts[rate.measure]
    rows = [
        {"limit": rate.name, "value": rate.limit, "used": value, "resets_at": reset}
        for rate, value, (_, reset) in zip(rates, used, windows, strict=True)
    ]
    if limits.concurrent_requests is not None:
        rows.append(
            {"limit": "concurrent_requests", "value": limits.concurrent_requests, "used": None, "resets_at": None}
        )
    return rows


def _window_start(window: str, now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    if window == "minute":
        return float(int(now // 60) * 60)
    if window == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def _counts(record: TraceRecord, pricing: Mapping[str, Price]) -> dict[Measure, int]:
    usage = usage_of(record)
    price = price_for(record, pricing)
    return {
        Measure.REQUESTS: 1,
        Measure.INPUT_TOKENS: usage["input"] + usage["cache_read"] + usage["cache_write"],
        Measure.OUTPUT_TOKENS: usage["output"],
        Measure.SPEND: round(cost_of(usage, price) * MICRO_USD) if price else 0,
    }
