"""The trace record, typed: one JSON object per exchange, as the trace log holds it and readers get it.

`Exchange.record()` builds it, every ON_EXCHANGE_DONE callback (the trace writer, metrics, limits,
the dashboard, the span exporter) receives it, and `trace_reader` hands it back from the log
(upgrading older versions), so every module that reads a field reads it by a name mypy checks.
TypedDicts, not classes: the record is a wire payload, written and read as JSON without a copy.

Version 2 (`rule` is 1-based, `rule_condition`, `counted_tokens`); version 1 records are upgraded
when read (`trace_reader.upgrade`).
"""

from __future__ import annotations

from typing import Any, Final, NotRequired, TypedDict

# The `kind`s of exchanges that are model calls (the endpoints of every format that generate, as the
# format registry names them; a test keeps the two the same): usage, spans, the status line and the
# dashboard count these, never token counts, listings or probes. A tuple: a hand-edited kind that is
# a list must not raise in `kind in MODEL_CALLS`.
MODEL_CALLS: Final = ("messages", "chat_completions", "responses", "generate_content")


class UsageRecord(TypedDict):
    """Tokens the upstream reported; `input` is the uncached input, as Anthropic counts it."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int


class AttemptRecord(TypedDict):
    channel: str
    upstream_model: str
    status: int | None
    latency_ms: float
    started_ms: float  # since the request arrived
    queued_ms: float  # waiting for a channel slot
    error: str | None


class Timings(TypedDict):
    ttfb_ms: float | None
    upstream_ms: float
    total_ms: float
    overhead_ms: float  # total_ms - upstream_ms


class ErrorRecord(TypedDict):
    type: str | None
    message: str  # with the operator hint
    detail: NotRequired[str]  # what clients are never shown


class LimitRecord(TypedDict):
    """An AxonHub limit that refused the request."""

    scope: str
    subject: str
    name: str
    limit: float
    used: float
    reset_at: float | None


class TraceRecord(TypedDict):
    v: int
    time: str  # request start, UTC ISO 8601 with milliseconds
    request_id: str
    trace_id: str
    trace_source: str  # claude_code_header | claude_code_metadata | codex_session | x_trace_id | request | replay
    kind: str  # messages | count_tokens | chat_completions | responses | generate_content | models | …
    key: str | None
    project: str | None
    client_format: str
    method: str
    path: str
    user_agent: str
    requested_model: str | None
    profile: str | None
    rule: int | None  # 1-based
    rule_condition: str | None
    resolved_model: str | None
    channel: str | None
    upstream_model: str | None
    upstream_id: str | None
    attempts: list[AttemptRecord]
    stream: bool
    status: int
    stop_reason: str | None
    usage: UsageRecord | None
    counted_tokens: NotRequired[int | None]  # count_tokens only: an estimate or a count, never usage
    timings: Timings
    error: ErrorRecord | None
    notes: NotRequired[list[str]]  # what the gateway left out of the request, and why
    limit: LimitRecord | None
    replay_of: NotRequired[str]  # an admin replay of this request id
    request_body: NotRequired[Any]  # per `trace.bodies`, redacted and capped
    response_body: NotRequired[Any]
