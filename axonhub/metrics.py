"""Prometheus metrics for `GET /metrics`, fed with the same record the trace log gets.

One `Metrics` per app, each with its own `CollectorRegistry` (no process-global state, so two
apps in one test process never share counts). Label values are bounded: at most `MAX_VALUES`
distinct models, channels and error types each; later newcomers are counted under `other`.

Under `serve --workers N` every worker counts into prometheus_client's multiprocess files (the
supervisor sets `PROMETHEUS_MULTIPROC_DIR`), and `/metrics` on any worker answers the sum over all
of them. Counts kept elsewhere (the trace writer's, the OTLP exporter's) are followed: copied into
counters at every scrape, and every second in a worker.

    axonhub_requests_total{kind, channel, model, status}   kind "unrouted": no route (404, 405), by status only;
                                                           kind "refused": a key refused (401, 403)
    axonhub_errors_total{kind, channel, model, error_type}
    axonhub_tokens_total{channel, model, type}          type: input|output|cache_read|cache_write|reasoning
    axonhub_request_duration_seconds{channel, model, status_class}    histogram, whole exchange
    axonhub_time_to_first_byte_seconds{channel, model}                histogram
    axonhub_gateway_overhead_seconds                                  histogram, total minus upstream time
    axonhub_inflight_streams                                          gauge
    axonhub_trace_records_total / axonhub_trace_dropped_records_total (when a trace writer is watched)
    axonhub_limit_*, axonhub_state_*, axonhub_channel_*       limits (axonhub/limits/limiter.py)
    axonhub_otlp_spans_exported_total / axonhub_otlp_spans_dropped_total    (when OTLP export is on)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from axonhub.formats.registry import FORMATS
from axonhub.trace import TraceWriter
from axonhub.trace_record import TraceRecord

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
MAX_VALUES: Final = 100
OTHER: Final = "other"
NONE: Final = "none"
# Every kind an exchange can have: each format's endpoints, the model lists and Claude Code's probes.
KINDS: Final = frozenset({"models", "probe"} | {e.kind for fmt in FORMATS.values() for e in fmt.endpoints})
UNROUTED: Final = "unrouted"
REFUSED: Final = "refused"
TOKEN_TYPES: Final = ("input", "output", "cache_read", "cache_write", "reasoning")

DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFB_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
OVERHEAD_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class BoundedLabel:
    """Maps label values to themselves until `limit` distinct ones were seen, then to `other`."""

    def __init__(self, limit: int = MAX_VALUES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        if value is None or value == "":
            return NONE
        text = str(value)[:100]
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) < self.limit:
                self._seen.add(text)
                return text
        return OTHER


def status_label(status: object) -> str:
    return str(status) if isinstance(status, int) and 100 <= status <= 599 else OTHER


def status_class(status: object) -> str:
    return f"{status // 100}xx" if isinstance(status, int) and 100 <= status <= 599 else OTHER


def seconds(timings: Mapping[str, Any], name: str) -> float | None:
    value = timings.get(name)
    return value / 1000 if isinstance(value, int | float) and value >= 0 else None


def multiprocess_dir() -> str | None:
    """The directory worker processes count into, when running under `serve --workers`."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass(slots=True)
class _Series:
    """What one (kind, channel, model, status) of finished exchanges counts into: its bounded labels,
    found once, and its metrics' children, each looked up when first needed (a child made is a sample
    shown, also at zero)."""

    kind: str
    where: tuple[str, str]  # (channel, model)
    status: str
    requests: Any = None
    duration: Any = None
    ttfb: Any = None
    tokens: dict[str, Any] = field(default_factory=dict)


# Raw (kind, channel, model, status) values remembered with their series; a label value, once given,
# never changes (`BoundedLabel`), so forgetting them all when full only costs the next lookups.
_SERIES_KEPT: Final = 4096


@dataclass(slots=True)
class _Followed:
    counter: Counter
    read: Callable[[], float]
    seen: float = 0.0


class Metrics:
    """The app's metrics: `observe(record)` per finished exchange, the in-flight stream gauge."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self.registry = CollectorRegistry()
        # (metric, label values) -> its child: `labels()` validates and locks on every call, and the
        # label values here are bounded, so each child is looked up once
        self._children: dict[tuple[Any, ...], Any] = {}
        self._series: dict[tuple[Any, Any, Any, Any], _Series] = {}
        self._model, self._channel, self._error = (BoundedLabel(max_values) for _ in range(3))
        r = self.registry
        self.requests = Counter(
            "axonhub_requests", "Exchanges served.", ["kind", "channel", "model", "status"], registry=r
        )
        self.errors = Counter(
            "axonhub_errors", "Failed exchanges.", ["kind", "channel", "model", "error_type"], registry=r
        )
        self.tokens = Counter("axonhub_tokens", "Tokens by type.", ["channel", "model", "type"], registry=r)
        self.duration = Histogram(
            "axonhub_request_duration_seconds",
            "Whole exchange, first request byte to last response byte.",
            ["channel", "model", "status_class"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "axonhub_time_to_first_byte_seconds",
            "Time to the first response byte sent to the client.",
            ["channel", "model"],
            buckets=TTFB_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "axonhub_gateway_overhead_seconds",
            "Time spent in the gateway: total minus upstream time.",
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            "axonhub_inflight_streams",
            "Streaming responses being relayed now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._followed: list[_Followed] = []

    def observe(self, record: TraceRecord) -> None:
        """Count one finished exchange from its trace record (`trace.py` documents the shape)."""
        kind, status = record.get("kind"), record.get("status")
        raw = (kind, record.get("channel"), record.get("resolved_model") or record.get("requested_model"), status)
        series = self._series.get(raw)
        if series is None:
            series = self._new_series(raw)
        if series.requests is None:
            series.requests = self._child(self.requests, series.kind, *series.where, series.status)
        series.requests.inc()
        error = record.get("error")
        if error or (isinstance(status, int) and status >= 400):
            error_type = error.get("type") if isinstance(error, Mapping) else None
            error_label = self._error(error_type or status_label(status))
            self._child(self.errors, series.kind, *series.where, error_label).inc()
        usage = record.get("usage")
        if isinstance(usage, Mapping):
            for token_type in TOKEN_TYPES:
                count = usage.get(token_type)
                if isinstance(count, int) and count > 0:
                    tokens = series.tokens.get(token_type)
                    if tokens is None:
                        tokens = series.tokens[token_type] = self._child(self.tokens, *series.where, token_type)
                    tokens.inc(count)
        timings = record.get("timings") or {}
        total = seconds(timings, "total_ms")
        if total is not None:
            if series.duration is None:
                series.duration = self._child(self.duration, *series.where, status_class(status))
            series.duration.observe(total)
        ttfb = seconds(timings, "ttfb_ms")
        if ttfb is not None:
            if series.ttfb is None:
                series.ttfb = self._child(self.ttfb, *series.where)
            series.ttfb.observe(ttfb)
        overhead = seconds(timings, "overhead_ms")
        if overhead is not None:
            self.overhead.observe(overhead)

    def _new_series(self, raw: tuple[Any, Any, Any, Any]) -> _Series:
        """The labels of one (kind, channel, model, status), remembered for the next exchange."""
        kind, channel, model, status = raw
        series = _Series(
            kind if kind in KINDS else OTHER, (self._channel(channel), self._model(model)), status_label(status)
        )
        if len(self._series) >= _SERIES_KEPT:  # raw models are the clients' to choose: start over
            self._series.clear()
        self._series[raw] = series
        return series

    def observe_unrouted(self, status: int) -> None:
        """Count a request that matched no route (404, 405); never labelled with its path."""
        self.requests.labels(UNROUTED, NONE, NONE, status_label(status)).inc()

    def observe_refused(self, status: int) -> None:
        """Count a request whose key was refused (401, 403) before it reached a route's handler."""
        self.requests.labels(REFUSED, NONE, NONE, status_label(status)).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, made once per distinct label values (bounded by `BoundedLabel`)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def stream_started(self) -> None:
        self.inflight.inc()

    def stream_finished(self) -> None:
        self.inflight.dec()

    def watch_trace_writer(self, writer: TraceWriter) -> None:
        """Expose the writer's written and dropped record counts."""
        self.follow("axonhub_trace_records", "Trace records appended to the trace log.", lambda: writer.written)
        self.follow(
            "axonhub_trace_dropped_records",
            "Trace records lost (unwritable path, full disk, full queue).",
            lambda: writer.dropped,
        )

    def follow(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A counter that follows `read()`, an ever-growing count kept outside the registry."""
        self._followed.append(_Followed(Counter(name, documentation, registry=self.registry), read))

    def sync(self) -> None:
        """Copy the followed counts into their counters."""
        for followed in self._followed:
            value = followed.read()
            if value > followed.seen:
                followed.counter.inc(value - followed.seen)
                followed.seen = value

    def render(self) -> bytes:
        """The Prometheus text exposition: this app's metrics, or every worker's under `serve --workers`."""
        self.sync()
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)  # type: ignore[no-any-return]
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)  # type: ignore[no-any-return]


METRICS = web.AppKey("metrics", Metrics)


def metrics_handler(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `GET /metrics` handler for `metrics`."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    return handle
