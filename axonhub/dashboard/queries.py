"""What the dashboard's data APIs answer, computed from the index: pure functions, no HTTP.

Callers hold `Indexer.lock` and run these in a worker thread (a full scan of a million records
takes a few hundred milliseconds; the pages never wait on the event loop for it). Times go out as
ISO 8601 UTC strings; costs in USD from the live config's `pricing` by resolved model.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from axonhub.config import Price
from axonhub.dashboard.index import (
    COARSE_S,
    FINE_S,
    LAT_BINS,
    MAX_TOKENS,
    USAGE,
    USAGE_FIELDS,
    Index,
    Level,
    bin_value,
    request_hash,
    unpack_dims,
)
from axonhub.trace_record import MODEL_CALLS, TraceRecord

BODIES: Final = ("request_body", "response_body")
TOKEN_NAMES: Final = ("input", "output", "cache_read", "cache_write", "reasoning")
STEPS: Final = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
MAX_POINTS: Final = 96
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC).timestamp()  # the latest time a window reaches
MAX_SERIES: Final = 8
OTHER: Final = "(other)"
GROUPS: Final = ("model", "channel", "key", "profile")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def cost(price: Price | None, tin: int, tout: int, tcr: int, tcw: int) -> float | None:
    if price is None:
        return None
    return (tin * price.input + tout * price.output + tcr * price.cache_read + tcw * price.cache_write) / 1_000_000


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """The sessions page's filters; a session matches when one of its requests does."""

    key: str | None = None
    model: str | None = None
    channel: str | None = None
    since: float | None = None
    until: float | None = None
    q: str | None = None  # a request id, or the start of a trace id

    @property
    def by_request(self) -> bool:
        return bool(self.key or self.model or self.channel)


class FilterCache:
    """Session -> newest matching record, per request-level filter, extended as the index grows."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str | None, str | None, str | None], tuple[int, dict[int, int]]] = {}
        self.counts: dict[tuple[int, int, SessionFilter], int] = {}

    def matching(self, index: Index, flt: SessionFilter) -> dict[int, int] | None:
        ids = (
            index.keys.find(flt.key or ""),
            index.models.find(flt.model or ""),
            index.channels.find(flt.channel or ""),
        )
        if (flt.key and ids[0] is None) or (flt.model and ids[1] is None) or (flt.channel and ids[2] is None):
            return None  # a name the index never saw: nothing matches
        cache_key = (index.serial, flt.key, flt.model, flt.channel)
        scanned, best = self._entries.get(cache_key, (0, {}))
        key_id = ids[0] if flt.key else None
        model_id = ids[1] if flt.model else None
        channel_id = ids[2] if flt.channel else None
        sess, keys, models, channels = index.sess, index.key, index.model, index.channel
        for i in range(scanned, len(index)):
            if (
                (key_id is None or keys[i] == key_id)
                and (model_id is None or models[i] == model_id)
                and (channel_id is None or channels[i] == channel_id)
            ):
                best[sess[i]] = i
        if len(self._entries) > 32:
            self._entries.clear()
        self._entries[cache_key] = (len(index), best)
        return best


def sessions_page(
    index: Index,
    flt: SessionFilter,
    pricing: Mapping[str, Price],
    *,
    cursor: int | None = None,
    limit: int = 50,
    cache: FilterCache | None = None,
) -> dict[str, Any]:
    """One page of sessions, most recently active first; `next` is the cursor of the page after."""
    cache = cache or FilterCache()
    rows: list[dict[str, Any]] = []
    next_cursor: int | None = None
    for position, s in _ordered_sessions(index, flt, cache, before=cursor):
        if len(rows) == limit:
            next_cursor = rows[-1]["cursor"]
            break
        rows.append({**session_row(index, s, pricing), "cursor": position})
    return {"sessions": rows, "next": next_cursor, "total": _count_sessions(index, flt, cache)}


def _time_ok(index: Index, s: int, flt: SessionFilter) -> bool:
    sessions = index.sessions
    after = flt.since is None or sessions.last[s] >= flt.since
    return after and (flt.until is None or sessions.first[s] <= flt.until)


def _ordered_sessions(
    index: Index, flt: SessionFilter, cache: FilterCache, before: int | None = None
) -> Iterator[tuple[int, int]]:
    """(position, session) of matching sessions, position descending (the newest matching record),
    positions below `before` only."""
    end = len(index) if before is None else min(before, len(index))
    sessions = index.sessions
    candidates: dict[int, int] | None = None
    if flt.by_request:
        candidates = cache.matching(index, flt)
        if candidates is None:
            return
    if flt.q:
        found = _search(index, flt.q)
        candidates = {s: p for s, p in (candidates or {s: sessions.tail[s] for s in found}).items() if s in found}
    if candidates is not None:
        for s, position in sorted(candidates.items(), key=lambda item: item[1], reverse=True):
            if position < end and not sessions.replay[s] and _time_ok(index, s, flt):
                yield position, s
        return
    stop_before = flt.since - 3600 if flt.since is not None else None  # records arrive roughly in time order
    sess, tail, t = index.sess, sessions.tail, index.t
    for i in range(end - 1, -1, -1):
        if stop_before is not None and t[i] < stop_before:
            return
        s = sess[i]
        if tail[s] == i and not sessions.replay[s] and _time_ok(index, s, flt):
            yield i, s


def _count_sessions(index: Index, flt: SessionFilter, cache: FilterCache) -> int:
    """How many sessions match, counted once per index generation and filter."""
    key = (index.serial, index.generation, flt)
    found = cache.counts.get(key)
    if found is not None:
        return found
    sessions = index.sessions
    if flt.by_request or flt.q:
        found = sum(1 for _ in _ordered_sessions(index, flt, cache))
    elif flt.since is None and flt.until is None:
        found = len(sessions) - sum(sessions.replay)
    else:
        found = sum(1 for s in range(len(sessions)) if not sessions.replay[s] and _time_ok(index, s, flt))
    if len(cache.counts) > 64:
        cache.counts.clear()
    cache.counts[key] = found
    return found


def _search(index: Index, q: str) -> set[int]:
    """Sessions of the request with this id, or whose trace id starts with `q`."""
    q = q.strip()
    found: set[int] = set()
    request = find_request(index, q)
    if request is not None:
        found.add(index.sess[request])
    exact = index.sessions.number.get(q)
    if exact is not None:
        found.add(exact)
    if not found:
        found = {s for s, trace_id in enumerate(index.sessions.ids) if trace_id.startswith(q)}
    return found


def session_row(index: Index, s: int, pricing: Mapping[str, Price]) -> dict[str, Any]:
    sessions = index.sessions
    models: dict[int, None] = {}
    channels: dict[int, None] = {}
    total: float | None = None
    unpriced = False
    for i in index.session_records(s):
        if index.flags[i] & USAGE:
            models[index.model[i]] = None
            price = pricing.get(index.models.names[index.model[i]])
            spent = cost(price, index.tin[i], index.tout[i], index.tcr[i], index.tcw[i])
            if spent is None:
                unpriced = unpriced or bool(index.tin[i] or index.tout[i])
            else:
                total = (total or 0.0) + spent
        if index.channel[i]:
            channels[index.channel[i]] = None
    return {
        "trace_id": sessions.ids[s],
        "client": index.clients.names[sessions.client[s]] or None,
        "key": index.keys.names[sessions.key[s]] or None,
        "first": iso(sessions.first[s]),
        "last": iso(sessions.last[s]),
        "requests": sessions.requests[s],
        "errors": sessions.errors[s],
        "tokens": {
            "input": sessions.tin[s],
            "output": sessions.tout[s],
            "cache_read": sessions.tcr[s],
            "cache_write": sessions.tcw[s],
        },
        "cost_usd": round(total, 6) if total is not None else None,
        "unpriced": unpriced,
        "models": [index.models.names[m] for m in models if m],
        "channels": [index.channels.names[c] for c in channels],
    }


# ---------------------------------------------------------------------------------------------
# A session's timeline, a request's detail
# ---------------------------------------------------------------------------------------------


def _number(value: object) -> int:
    """A token count as the index counts it: 0 unless a number in 1 … MAX_TOKENS (never infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if 0 < value <= MAX_TOKENS else 0


def record_cost(record: Mapping[str, Any], pricing: Mapping[str, Price]) -> float | None:
    """USD of one exchange at the live prices (usage-counting model calls only)."""
    usage: Mapping[str, Any] | None = record.get("usage")
    if record.get("kind") not in MODEL_CALLS or not isinstance(usage, dict):
        return None
    price = pricing.get(str(record.get("resolved_model") or record.get("requested_model") or ""))
    spent = cost(price, *(_number(usage.get(n)) for n in TOKEN_NAMES[:4]))
    return round(spent, 6) if spent is not None else None


def summary(record: TraceRecord, pricing: Mapping[str, Price]) -> dict[str, Any]:
    """A record without its bodies, with what the timeline shows besides."""
    out = {k: v for k, v in record.items() if k not in BODIES}
    out["has_request_body"] = record.get("request_body") is not None
    out["has_response_body"] = record.get("response_body") is not None
    out["cost_usd"] = record_cost(record, pricing)
    return out


def session_detail(
    index: Index, trace_id: str, pricing: Mapping[str, Price], *, offset: int = 0, limit: int = 500
) -> dict[str, Any] | None:
    """The session's summary and its requests in order (a page of them), bodies left out."""
    s = index.sessions.number.get(trace_id)
    if s is None:
        return None
    positions = list(index.session_records(s))
    page = positions[offset : offset + limit]
    start = index.sessions.first[s]
    requests = []
    unreadable = 0
    for i in page:
        head = index.read_head(i)
        if head is None:
            unreadable += 1
            continue
        record, has_request_body, has_response_body = head
        item = summary(record, pricing)
        item["has_request_body"], item["has_response_body"] = has_request_body, has_response_body
        item["offset_s"] = round(index.t[i] - start, 3)
        item["replays"] = len(index.replays.get(index.rid[i], ()))
        requests.append(item)
    return {
        "session": session_row(index, s, pricing),
        "requests": requests,
        "offset": offset,
        "total": len(positions),
        "unreadable": unreadable,
    }


def find_request(index: Index, request_id: str) -> int | None:
    """The record with this request id: its hash found by a byte search over the hash column (a few
    milliseconds for a million records), confirmed by reading the line."""
    needle = array("q", [request_hash(request_id)]).tobytes()
    width = len(needle)
    data = index.rid.tobytes()
    position = data.find(needle)
    while position >= 0:
        if position % width == 0:
            record = index.read(position // width)
            if record is not None and record.get("request_id") == request_id:
                return position // width
        position = data.find(needle, position + 1)
    return None


def replayable(record: TraceRecord) -> str | None:
    """Why this record cannot be replayed, or None when it can."""
    if record.get("replay_of"):
        return "this is itself a replay"
    if record.get("kind") not in MODEL_CALLS:
        return f"only model calls can be replayed, not {record.get('kind')}"
    body = record.get("request_body")
    if body is None:
        return "the request body was not recorded (replays need server.trace.bodies: all)"
    if not isinstance(body, dict) or body.get("truncated") is True:
        return "the request body was recorded truncated (raise server.trace.max_body_bytes)"
    return None


def request_detail(index: Index, request_id: str, pricing: Mapping[str, Price]) -> dict[str, Any] | None:
    """One record whole (bodies included, as recorded: redacted), and its replays."""
    i = find_request(index, request_id)
    if i is None:
        return None
    record = index.read(i)
    if record is None:
        return None
    replays = [r for r in (index.read(j) for j in index.replays.get(index.rid[i], ())) if r is not None]
    return {
        "request": {**record, "cost_usd": record_cost(record, pricing)},
        "replayable": replayable(record) is None,
        "not_replayable_because": replayable(record),
        "replays": [summary(r, pricing) for r in replays],
    }


# ---------------------------------------------------------------------------------------------
# Usage and latency over time
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A time range cut into equal steps, read from the rollup level whose buckets fit the step."""

    since: float
    until: float
    step: int
    level: int  # FINE_S or COARSE_S

    @classmethod
    def of(cls, since: float, until: float, fine_from: float = float("-inf")) -> Window:
        """At most MAX_POINTS steps (whole weeks each beyond STEPS); hourly or longer before `fine_from`
        (no five-minute rollups there). Times are held to 1970 … 9000: a hand-edited record from year 1
        or 9999 must not make a window of millions of steps."""
        since, until = (min(max(t, 0.0), LATEST) for t in (since, until))
        span = max(until - since, FINE_S)
        steps = STEPS if since >= fine_from else tuple(s for s in STEPS if s % COARSE_S == 0)
        step = next((s for s in steps if span / s <= MAX_POINTS), None)
        if step is None:
            step = steps[-1] * math.ceil(span / MAX_POINTS / steps[-1])
        return cls(since - since % step, until, step, FINE_S if step % COARSE_S else COARSE_S)

    @property
    def points(self) -> int:
        return max(1, int((self.until - self.since) // self.step) + 1)

    def buckets(self, table: Mapping[int, object]) -> Iterable[int]:
        """The rollup buckets inside the window, in order; only those `table` holds when it holds fewer."""
        inside = range(int(self.since // self.level), int(self.until // self.level) + 1)
        return inside if len(inside) <= len(table) else sorted(b for b in table if b in inside)

    def point(self, bucket: int) -> int:
        return min(self.points - 1, int((bucket * self.level - self.since) // self.step))

    def labels(self) -> list[str]:
        return [iso(self.since + k * self.step) for k in range(self.points)]


def level_of(index: Index, window: Window) -> Level:
    return index.rollups.fine if window.level == FINE_S else index.rollups.coarse


def data_span(index: Index) -> tuple[float, float] | None:
    coarse = index.rollups.coarse
    buckets = coarse.usage.keys() | coarse.attempts.keys()
    if not buckets:
        return None
    return min(buckets) * COARSE_S, (max(buckets) + 1) * COARSE_S


_DIMENSION: Final = {"key": 0, "model": 1, "channel": 2, "profile": 3}


def _names(index: Index, by: str) -> tuple[int, list[str]]:
    position = _DIMENSION[by]
    return position, (index.keys, index.models, index.channels, index.profiles)[position].names


def usage(index: Index, window: Window, by: str, pricing: Mapping[str, Price]) -> dict[str, Any]:
    """Tokens, requests and cost per step, one series per group (the biggest MAX_SERIES, the rest as other)."""
    points = window.points
    level = level_of(index, window)
    position, names = _names(index, by)
    model_names = index.models.names
    groups: dict[str, dict[str, list[float]]] = {}
    totals: dict[str, list[int]] = {}
    group_cost: dict[str, float | None] = {}
    for bucket in window.buckets(level.usage):
        k = window.point(bucket)
        for packed, values in level.usage_rows(bucket):
            dims = unpack_dims(packed)
            name = names[dims[position]] or "-"
            series = groups.get(name)
            if series is None:
                series = groups[name] = _empty_series(points)
                totals[name] = [0] * len(USAGE_FIELDS)
            total = totals[name]
            for field_no, field_name in enumerate(USAGE_FIELDS):
                series[field_name][k] += values[field_no]
                total[field_no] += values[field_no]
            spent = cost(pricing.get(model_names[dims[1]]), values[2], values[3], values[4], values[5])
            if spent is not None:
                series["cost_usd"][k] += spent
                group_cost[name] = (group_cost.get(name) or 0.0) + spent
            else:
                group_cost.setdefault(name, None)
    ranked = sorted(totals, key=lambda n: totals[n][2] + totals[n][3] + totals[n][4], reverse=True)
    shown, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]
    series_out = [{"name": n, **groups[n]} for n in shown]
    if rest:
        other = _empty_series(points)
        for name in rest:
            for field_name, column in groups[name].items():
                other[field_name] = [a + b for a, b in zip(other[field_name], column, strict=True)]
        series_out.append({"name": OTHER, **other})
    overall = [sum(column) for column in zip(*totals.values(), strict=True)] if totals else [0] * len(USAGE_FIELDS)
    return {
        "by": by,
        "since": iso(window.since),
        "until": iso(window.until),
        "step_s": window.step,
        "buckets": window.labels(),
        "series": series_out,
        "cache_read_share": [_share(series_out, k) for k in range(points)],
        "groups": [_total_row(name, totals[name], group_cost.get(name)) for name in ranked],
        "total": _total_row("TOTAL", overall, _sum_costs(group_cost.values())),
    }


def _empty_series(points: int) -> dict[str, list[float]]:
    return {name: [0] * points for name in (*USAGE_FIELDS, "cost_usd")}


def _share(series: list[dict[str, Any]], k: int) -> float | None:
    read = sum(s["cache_read"][k] for s in series)
    prompt = read + sum(s["input"][k] + s["cache_write"][k] for s in series)
    return round(read / prompt, 4) if prompt else None


def _sum_costs(costs: Iterable[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return sum(known) if known else None


def _total_row(name: str, values: list[int], spent: float | None) -> dict[str, Any]:
    cell = dict(zip(USAGE_FIELDS, values, strict=True))
    prompt = cell["input"] + cell["cache_read"] + cell["cache_write"]
    return {
        "name": name,
        "requests": cell["requests"],
        "errors": cell["errors"],
        "tokens": {n: cell[n] for n in TOKEN_NAMES},
        "cost_usd": round(spent, 6) if spent is not None else None,
        "cache_read_share": round(cell["cache_read"] / prompt, 4) if prompt else None,
    }


def percentile(hist: array[int] | list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    threshold = q * total
    running = 0
    for k in range(LAT_BINS):
        running += hist[k]
        if running >= threshold:
            return round(bin_value(k), 1)
    return round(bin_value(LAT_BINS - 1), 1)


def _latency_name(index: Index, by: str, channel: int, model: int) -> str:
    if by == "channel":
        return index.channels.names[channel] or "-"
    if by == "model":
        return index.models.names[model] or "-"
    return f"{index.channels.names[channel] or '-'} · {index.models.names[model] or '-'}"


def latency(index: Index, window: Window, by: str) -> dict[str, Any]:
    """p50/p95/p99 of the whole exchange and of the time to first byte, per step and per group."""
    points = window.points
    level = level_of(index, window)
    per_point: dict[str, list[list[int]]] = {}  # name -> per step, a histogram pair (2 x LAT_BINS)
    for bucket in window.buckets(level.latency):
        cells = level.latency.get(bucket)
        if not cells:
            continue
        k = window.point(bucket)
        for channel_model, hist in cells.items():
            name = _latency_name(index, by, channel_model >> 16, channel_model & 0xFFFF)
            steps = per_point.get(name)
            if steps is None:
                steps = per_point[name] = [[0] * (2 * LAT_BINS) for _ in range(points)]
            _add_hist(steps[k], hist)
    series = []
    table = []
    for name in sorted(per_point, key=lambda n: -sum(sum(h[:LAT_BINS]) for h in per_point[n])):
        steps = per_point[name]
        whole = [0] * (2 * LAT_BINS)
        for step_hist in steps:
            _add_hist(whole, step_hist)
        series.append(
            {
                "name": name,
                **{f"p{q}": [percentile(h[:LAT_BINS], q / 100) for h in steps] for q in (50, 95, 99)},
                **{f"ttfb_p{q}": [percentile(h[LAT_BINS:], q / 100) for h in steps] for q in (50, 95, 99)},
            }
        )
        table.append(
            {
                "name": name,
                "count": sum(whole[:LAT_BINS]),
                **{f"p{q}": percentile(whole[:LAT_BINS], q / 100) for q in (50, 95, 99)},
                **{f"ttfb_p{q}": percentile(whole[LAT_BINS:], q / 100) for q in (50, 95, 99)},
            }
        )
    return {
        "by": by,
        "since": iso(window.since),
        "until": iso(window.until),
        "step_s": window.step,
        "buckets": window.labels(),
        "series": series[:MAX_SERIES],
        "table": table,
    }


def _add_hist(into: list[int], hist: array[int] | list[int]) -> None:
    for k, count in enumerate(hist):
        if count:
            into[k] += count


# ---------------------------------------------------------------------------------------------
# Channels and filter facets
# ---------------------------------------------------------------------------------------------


def channel_stats(index: Index, now: float) -> dict[str, dict[str, Any]]:
    """Per channel name: attempts and failures (last hour, last day, all), model calls, latency."""
    out: dict[str, dict[str, Any]] = {}
    rollups = index.rollups
    windows = {"1h": (rollups.fine, now - 3600), "24h": (rollups.coarse, now - 86400), "all": (rollups.coarse, None)}

    def entry(channel: int) -> dict[str, Any]:
        name = index.channels.names[channel]
        if name not in out:
            out[name] = {
                "attempts": {w: {"tries": 0, "failed": 0} for w in windows},
                "requests": {w: {"count": 0, "errors": 0} for w in windows},
                "latency_ms": {"p50": None, "p95": None},
                "last_seen": iso(rollups.last_seen[channel]) if channel in rollups.last_seen else None,
            }
        return out[name]

    for window, (level, since) in windows.items():
        for bucket, cells in level.attempts.items():
            if since is not None and (bucket + 1) * level.seconds <= since:
                continue
            for channel, (tries, failed) in cells.items():
                counts = entry(channel)["attempts"][window]
                counts["tries"] += tries
                counts["failed"] += failed
        for bucket in level.usage:
            if since is not None and (bucket + 1) * level.seconds <= since:
                continue
            for packed, values in level.usage_rows(bucket):
                channel = unpack_dims(packed)[2]
                if channel:
                    counts = entry(channel)["requests"][window]
                    counts["count"] += values[0]
                    counts["errors"] += values[1]
    day: dict[int, list[int]] = {}
    for bucket, latency_cells in rollups.coarse.latency.items():
        if (bucket + 1) * COARSE_S > now - 86400:
            for channel_model, hist in latency_cells.items():
                _add_hist(day.setdefault(channel_model >> 16, [0] * (2 * LAT_BINS)), hist)
    for channel, merged in day.items():
        entry(channel)["latency_ms"] = {
            "p50": percentile(merged[:LAT_BINS], 0.5),
            "p95": percentile(merged[:LAT_BINS], 0.95),
        }
    out.pop("", None)
    return out


def facets(index: Index) -> dict[str, list[str]]:
    """Every key, model, channel and profile the index has seen."""
    return {
        "keys": sorted(n for n in index.keys.names if n),
        "models": sorted(n for n in index.models.names if n),
        "channels": sorted(n for n in index.channels.names if n),
        "profiles": sorted(n for n in index.profiles.names if n),
    }


def index_status(index: Index) -> dict[str, Any]:
    return {
        "records": len(index),
        "sessions": len(index.sessions) - sum(index.sessions.replay),
        "replay_runs": sum(index.sessions.replay),
        "damaged_lines": index.damaged,
        "skipped_lines": index.skipped,
        "files": [str(ref.path) for ref in index.files],
    }
