"""The per-request record: what the pipeline learns about one exchange, turned into a trace line.

An `Exchange` is created by the context middleware when a request arrives, filled in by the auth
middleware and the pipeline as they go, and written to the trace log when the response is done,
also when the handler failed or the client went away.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from axonhub import ir
from axonhub.config import Config, Key
from axonhub.errors import GatewayError, RateLimited
from axonhub.formats.spec import WireFormat
from axonhub.ids import request_id
from axonhub.trace_record import AttemptRecord, ErrorRecord, LimitRecord, TraceRecord, UsageRecord

# 2: `rule` is 1-based (it was 0-based in 1), `rule_condition` added, count_tokens exchanges carry
# their count in `counted_tokens` and never in `usage`. Readers upgrade version-1 records
# (`trace_reader.upgrade`).
TRACE_VERSION = 2


def usage_record(usage: ir.Usage) -> UsageRecord:
    """The trace's usage buckets: `input` is the uncached input, as Anthropic counts it."""
    return {
        "input": usage.input_uncached,
        "output": usage.output,
        "cache_read": usage.cache_read,
        "cache_write": usage.cache_write,
        "reasoning": usage.reasoning_output,
    }


def new_request_id() -> str:
    return request_id()


def utc_millis(moment: float) -> str:
    """`datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")` (microseconds rounded
    half to even, then cut to milliseconds, as `datetime` does), with the date and time of day made
    once per second: one per record otherwise costs more than the rest of its timings."""
    fraction, whole = math.modf(moment)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:  # before 1970
        whole, micros = whole - 1, micros + 1_000_000
    return f"{_second(int(whole))}.{micros // 1000:03d}+00:00"


@functools.lru_cache(maxsize=8)
def _second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).replace(tzinfo=None).isoformat()


@dataclass(slots=True)
class Attempt:
    channel: str
    upstream_model: str
    status: int | None = None
    latency_ms: float = 0.0
    error: str | None = None
    started_ms: float = 0.0  # since the exchange began
    queued_ms: float = 0.0  # of latency_ms, waiting for a slot of the channel (limits.max_concurrent)

    def as_dict(self) -> AttemptRecord:
        return {
            "channel": self.channel,
            "upstream_model": self.upstream_model,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "started_ms": round(self.started_ms, 2),
            "queued_ms": round(self.queued_ms, 2),
            "error": self.error,
        }


@dataclass(slots=True)
class Exchange:
    """Mutable while the request is served; `record()` freezes it into the trace line."""

    request_id: str
    config: Config
    method: str
    path: str
    client_format: WireFormat
    user_agent: str = ""
    started: float = field(default_factory=time.perf_counter)
    wall_time: float = field(default_factory=time.time)
    kind: str | None = None  # None: not traced (probes, health, metrics)
    key: Key | None = None
    trace_id: str = ""
    trace_source: str = "request"
    requested_model: str | None = None
    profile: str | None = None
    rule: int | None = None  # 1-based
    rule_condition: str | None = None  # the `when:` of the rule as this request met it
    resolved_model: str | None = None
    channel: str | None = None
    upstream_model: str | None = None
    upstream_id: str | None = None  # the upstream's own message/completion id (clients get a fresh one)
    attempts: list[Attempt] = field(default_factory=list)
    stream: bool = False
    status: int = 0
    stop_reason: str | None = None
    usage: ir.Usage | None = None  # what the upstream reported; never a count_tokens estimate
    counted_tokens: int | None = None  # count_tokens: the count given to the client
    first_byte_at: float | None = None
    upstream_started: float | None = None
    upstream_finished: float | None = None
    error: GatewayError | None = None
    error_type: str | None = None
    request_body: Any = None
    response_body: Any = None
    notes: list[str] = field(default_factory=list)  # what the gateway left out of the request, and why
    replay_of: str | None = None  # an admin replay of this request id: traced apart, never counted as usage
    replay_trace: str | None = None  # the replay run's own trace id

    def id_headers(self) -> dict[str, str]:
        """The gateway's request id, as Anthropic's (`request-id`) and OpenAI's SDKs (`x-request-id`) read it."""
        return {"request-id": self.request_id, "x-request-id": self.request_id}

    def mark_first_byte(self) -> None:
        if self.first_byte_at is None:
            self.first_byte_at = time.perf_counter()

    def fail(self, err: GatewayError, error_type: str | None = None) -> None:
        self.error = err
        self.error_type = error_type or err.kind.value

    def record(self) -> TraceRecord:
        now = time.perf_counter()
        total = (now - self.started) * 1000
        upstream = 0.0
        if self.upstream_started is not None:
            upstream = ((self.upstream_finished or now) - self.upstream_started) * 1000
        ttfb = (self.first_byte_at - self.started) * 1000 if self.first_byte_at else None
        record: TraceRecord = {
            "v": TRACE_VERSION,
            "time": utc_millis(self.wall_time),
            "request_id": self.request_id,
            "trace_id": self.replay_trace or self.trace_id or self.request_id,
            "trace_source": "replay" if self.replay_of else self.trace_source,
            "kind": self.kind or "",
            "key": self.key.name if self.key else None,
            "project": self.key.project if self.key else None,
            "client_format": self.client_format,
            "method": self.method,
            "path": self.path,
            "user_agent": self.user_agent,
            "requested_model": self.requested_model,
            "profile": self.profile,
            "rule": self.rule,
            "rule_condition": self.rule_condition,
            "resolved_model": self.resolved_model,
            "channel": self.channel,
            "upstream_model": self.upstream_model,
            "upstream_id": self.upstream_id,
            "attempts": [a.as_dict() for a in self.attempts],
            "stream": self.stream,
            "status": self.status,
            "stop_reason": self.stop_reason,
            # count_tokens is an estimate, never billed usage: its count is kept apart
            "usage": usage_record(self.usage) if self.usage and self.kind != "count_tokens" else None,
            "timings": {
                "ttfb_ms": round(ttfb, 2) if ttfb is not None else None,
                "upstream_ms": round(upstream, 2),
                "total_ms": round(total, 2),
                "overhead_ms": round(max(total - upstream, 0.0), 2),
            },
            "error": self._error(),
            "limit": cast("LimitRecord", self.error.limit) if isinstance(self.error, RateLimited) else None,
        }
        if self.kind == "count_tokens":
            record["counted_tokens"] = self.counted_tokens
        if self.notes:
            record["notes"] = list(self.notes)
        if self.replay_of:
            record["replay_of"] = self.replay_of
        # The bodies the pipeline kept (per `trace.bodies`); the trace writer redacts and caps them.
        if self.request_body is not None:
            record["request_body"] = self.request_body
        if self.response_body is not None:
            record["response_body"] = self.response_body
        return record

    def _error(self) -> ErrorRecord | None:
        """The error as the operator needs it: the message with its hint, and the detail clients never see."""
        if self.error is None:
            return None
        error: ErrorRecord = {"type": self.error_type, "message": self.error.client_message(True)}
        if self.error.detail:
            error["detail"] = self.error.detail
        return error
