"""Aggregation of trace records for `axonhub traces` and `axonhub usage`: periods, totals, cost.

Pure functions over the records `trace_reader.iter_records` yields; no IO.

Only what an upstream reported counts as usage and cost. count_tokens exchanges (Claude Code's
`/context` makes a dozen at a time) are estimates: they are counted apart (`token_counts`), never
as requests, tokens or cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from axonhub.trace_reader import is_error
from axonhub.trace_record import TraceRecord

if TYPE_CHECKING:
    from axonhub.config import Price

_SINCE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TOKEN_FIELDS: Final = ("input", "output", "cache_read", "cache_write", "reasoning")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`30m`, `2h`, `7d`, `1w` ago, or an ISO date/time (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    match = _SINCE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is neither a duration like 30m, 2h, 7d nor an ISO date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_time(record: TraceRecord) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(record.get("time")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_count(record: TraceRecord) -> bool:
    """A count_tokens exchange: an estimate for the client, never usage."""
    return record.get("kind") == "count_tokens"


def usage_of(record: TraceRecord) -> dict[str, int]:
    """The tokens an upstream reported for this exchange (none for count_tokens)."""
    usage = record.get("usage")
    return dict.fromkeys(TOKEN_FIELDS, 0) if is_count(record) else usage_counts(usage)


def usage_counts(usage: object) -> dict[str, int]:
    """The token buckets of a usage record (0 for what it lacks or is not a usage record)."""
    if not isinstance(usage, Mapping):
        return dict.fromkeys(TOKEN_FIELDS, 0)
    return {name: _count(usage.get(name)) for name in TOKEN_FIELDS}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def since_filter(records: Iterable[TraceRecord], since: datetime | None) -> Iterator[TraceRecord]:
    for record in records:
        moment = record_time(record)
        if since is None or (moment is not None and moment >= since):
            yield record


def without_replays(records: Iterable[TraceRecord]) -> Iterator[TraceRecord]:
    """Client traffic only: admin replays (`replay_of`) are never usage and never a session of their own."""
    return (record for record in records if not record.get("replay_of"))


def price_for(record: TraceRecord, pricing: Mapping[str, Price]) -> Price | None:
    """The price of the resolved model, else of the requested one."""
    for name in (record.get("resolved_model"), record.get("requested_model")):
        if isinstance(name, str) and name in pricing:
            return pricing[name]
    return None


def cost_of(usage: Mapping[str, int], price: Price) -> float:
    """USD for `usage` at `price` (USD per million tokens)."""
    return (
        usage["input"] * price.input
        + usage["output"] * price.output
        + usage["cache_read"] * price.cache_read
        + usage["cache_write"] * price.cache_write
    ) / 1_000_000


@dataclass(slots=True)
class Totals:
    """Requests, errors, tokens and (where priced) cost of a group of records.

    `requests` and `errors` count model calls; count_tokens exchanges only add to `token_counts`.
    """

    name: str
    first: str = ""
    last: str = ""
    requests: int = 0
    errors: int = 0
    token_counts: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_FIELDS, 0))
    cost: float | None = None
    unpriced_requests: int = 0

    def add(self, record: TraceRecord, price: Price | None = None) -> None:
        moment = str(record.get("time") or "")
        self.first = min(self.first, moment) if self.first else moment
        self.last = max(self.last, moment)
        if is_count(record):
            self.token_counts += 1
            return
        self.requests += 1
        self.errors += is_error(record)
        usage = usage_of(record)
        for name, value in usage.items():
            self.tokens[name] += value
        if price is None:
            self.unpriced_requests += any(usage.values())
        else:
            self.cost = (self.cost or 0.0) + cost_of(usage, price)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "first": self.first,
            "last": self.last,
            "requests": self.requests,
            "errors": self.errors,
            "token_counts": self.token_counts,
            "tokens": dict(self.tokens),
            "cost_usd": round(self.cost, 6) if self.cost is not None else None,
            "unpriced_requests": self.unpriced_requests,
        }


GROUP_FIELDS: Final = {
    "key": "key",
    "model": "resolved_model",
    "channel": "channel",
    "profile": "profile",
    "trace": "trace_id",
}


def group_totals(records: Iterable[TraceRecord], by: str, pricing: Mapping[str, Price] | None = None) -> list[Totals]:
    """Totals per value of `by` (`key`, `model`, `channel`, `profile`, `trace`), first seen first."""
    field_name = GROUP_FIELDS[by]
    groups: dict[str, Totals] = {}
    for record in records:
        value = record.get(field_name)
        if value is None and by == "model":
            value = record.get("requested_model")
        name = str(value) if value is not None else "-"
        totals = groups.setdefault(name, Totals(name))
        totals.add(record, price_for(record, pricing) if pricing is not None else None)
    return list(groups.values())


def records_of_trace(records: Iterable[TraceRecord], trace_id_prefix: str) -> tuple[str, list[TraceRecord]]:
    """The records of the one trace whose id starts with the prefix; raises LookupError otherwise."""
    matches: dict[str, list[TraceRecord]] = {}
    for record in records:
        trace_id = str(record.get("trace_id") or "")
        if trace_id.startswith(trace_id_prefix):
            matches.setdefault(trace_id, []).append(record)
    if not matches:
        raise LookupError(f"no trace with an id starting with '{trace_id_prefix}'")
    if len(matches) > 1:
        shown = ", ".join(sorted(matches)[:5])
        raise LookupError(f"'{trace_id_prefix}' matches {len(matches)} traces ({shown}…); give more of the id")
    trace_id, found = next(iter(matches.items()))
    return trace_id, found
