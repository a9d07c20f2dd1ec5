"""OpenTelemetry export: every finished exchange as OTLP/HTTP (protobuf) spans, off the event loop.

Needs the `otel` extra (`pip install 'axonhub[otel]'`: the official opentelemetry-sdk and
opentelemetry-exporter-otlp-proto-http). Configured by `server.otlp` (endpoint, headers with
`${ENV}` references, service name).

Shape, after the OpenTelemetry GenAI semantic conventions:

* One trace per AxonHub trace id, so a Claude Code session is one trace in Jaeger, Tempo, Langfuse
  or Phoenix: a UUID trace id (Claude Code's session id) is the OTel trace id itself, any other id
  is hashed to one.
* One SERVER span per exchange, `chat {requested model}`, from the request's arrival to its last
  byte: `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
  `gen_ai.response.model`, `gen_ai.usage.*`, `gen_ai.response.finish_reasons`,
  `gen_ai.conversation.id`, `error.type`, and AxonHub's own `axonhub.*` (key, profile, channel…).
* One CLIENT child span per upstream attempt, `chat {upstream model}`, with the channel's provider,
  address and the status it answered; a failed attempt (failover) is an error span.

`OtlpExporter.submit(record)` is an ON_EXCHANGE_DONE callback: it only puts the record in a bounded
queue and never blocks. A dedicated thread builds the spans and exports them in batches (at most
`BATCH` spans, at least every `DELAY_S` seconds). A slow or dead collector slows only that thread:
records beyond the queue's bound, and batches the collector refused, are counted as dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, cast
from urllib.parse import urlsplit

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from axonhub import __version__
from axonhub.config import OtlpConfig
from axonhub.trace_record import MODEL_CALLS, TraceRecord

log = structlog.get_logger("axonhub.otlp")

BATCH: Final = 256
DELAY_S: Final = 1.0
_STOP: Final = object()
# channel type -> gen_ai.provider.name
PROVIDERS: Final[Mapping[str, str]] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai_responses": "openai",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
    "moonshot": "moonshot",
    "gemini": "gcp.gemini",
}

# channel name -> (channel type, base URL), read from the live config
ChannelInfo = Callable[[str], tuple[str, str] | None]


def otel_trace_id(trace_id: str) -> int:
    """The 128-bit OTel trace id of an AxonHub trace id: the UUID itself, else a hash of the id."""
    with contextlib.suppress(ValueError):
        value = uuid.UUID(trace_id).int
        if value:
            return value
    return int.from_bytes(hashlib.sha256(trace_id.encode()).digest()[:16], "big") or 1


def traces_url(endpoint: str) -> str:
    """`http://collector:4318` → `http://collector:4318/v1/traces`; a full signal URL is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class _ChosenIds(IdGenerator):
    """Trace ids chosen per exchange (one trace per AxonHub trace id); span ids random."""

    def __init__(self) -> None:
        self.next_trace_id = 0
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self.next_trace_id or self._random.generate_trace_id()


class _Collect(SpanProcessor):
    """Keeps ended spans for the writer thread's next batch."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _ms_ns(ms: object) -> int:
    return int(ms * 1_000_000) if isinstance(ms, int | float) and ms >= 0 else 0


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None and v != "" and v != []}


def exchange_attributes(record: TraceRecord, channel_type: str | None) -> dict[str, Any]:
    usage: Mapping[str, Any] = record.get("usage") or {}
    error: Mapping[str, Any] = record.get("error") or {}
    timings: Mapping[str, Any] = record.get("timings") or {}

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) else 0

    provider = PROVIDERS.get(channel_type or "")
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the older name, still read by some backends
        "gen_ai.request.model": record.get("requested_model"),
        "gen_ai.response.model": record.get("upstream_model"),
        "gen_ai.conversation.id": record.get("trace_id"),
        "gen_ai.response.finish_reasons": [record["stop_reason"]] if record.get("stop_reason") else None,
        "error.type": error.get("type"),
        "http.response.status_code": record.get("status"),
        "axonhub.request_id": record.get("request_id"),
        "axonhub.trace_id": record.get("trace_id"),
        "axonhub.trace_source": record.get("trace_source"),
        "axonhub.kind": record.get("kind"),
        "axonhub.key": record.get("key"),
        "axonhub.project": record.get("project"),
        "axonhub.client_format": record.get("client_format"),
        "axonhub.profile": record.get("profile"),
        "axonhub.resolved_model": record.get("resolved_model"),
        "axonhub.channel": record.get("channel"),
        "axonhub.stream": record.get("stream"),
        "axonhub.ttfb_ms": timings.get("ttfb_ms"),
        "axonhub.overhead_ms": timings.get("overhead_ms"),
    }
    if record.get("usage") is not None:
        attributes.update(
            {
                # input counts every prompt token, cached or not, as the conventions ask
                "gen_ai.usage.input_tokens": count("input") + count("cache_read") + count("cache_write"),
                "gen_ai.usage.output_tokens": count("output"),
                "gen_ai.usage.cache_read.input_tokens": count("cache_read"),
                "gen_ai.usage.cache_creation.input_tokens": count("cache_write"),
                "gen_ai.usage.reasoning.output_tokens": count("reasoning"),
            }
        )
    return _clean(attributes)


def attempt_attributes(attempt: Mapping[str, Any], info: tuple[str, str] | None) -> dict[str, Any]:
    channel_type, base_url = info or (None, "")
    address = urlsplit(base_url) if base_url else None
    status = attempt.get("status")
    return _clean(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDERS.get(channel_type or ""),
            "gen_ai.request.model": attempt.get("upstream_model"),
            "server.address": address.hostname if address else None,
            "server.port": address.port or (443 if address.scheme == "https" else 80) if address else None,
            "http.response.status_code": status,
            "error.type": (str(status) if status else "connection") if attempt.get("error") else None,
            "axonhub.channel": attempt.get("channel"),
        }
    )


class SpanBuilder:
    """Turns one trace record into its spans (exchange span + attempt spans) on a tracer it owns."""

    def __init__(self, service_name: str, channel_info: ChannelInfo) -> None:
        self.channel_info = channel_info
        self.collected = _Collect()
        self._ids = _ChosenIds()
        resource = Resource.create(
            {
                "service.name": service_name,
                "service.version": __version__,
                "service.instance.id": f"{socket.gethostname()}/{os.getpid()}",
            }
        )
        self.provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, id_generator=self._ids)
        self.provider.add_span_processor(self.collected)
        self.tracer = self.provider.get_tracer("axonhub", __version__)

    def build(self, record: TraceRecord) -> None:
        try:
            start = datetime.fromisoformat(str(record.get("time")))
        except ValueError:
            return
        timings = record.get("timings") or {}
        start_ns = _ns(start)
        end_ns = start_ns + _ms_ns(timings.get("total_ms"))
        channel = record.get("channel")
        info = self.channel_info(channel) if isinstance(channel, str) else None
        self._ids.next_trace_id = otel_trace_id(str(record.get("trace_id") or record.get("request_id")))
        name = f"chat {record.get('requested_model') or ''}".rstrip()
        span = self.tracer.start_span(
            name,
            context=otel_context.Context(),
            kind=SpanKind.SERVER,
            attributes=exchange_attributes(record, info[0] if info else None),
            start_time=start_ns,
        )
        self._ids.next_trace_id = 0
        self._attempts(span, record, start_ns, end_ns)
        error = record.get("error")
        status = record.get("status")
        if error or (isinstance(status, int) and status >= 400):
            span.set_status(Status(StatusCode.ERROR, error["message"] if error else f"HTTP {status}"))
        span.end(end_time=end_ns)

    def _attempts(self, parent: trace.Span, record: TraceRecord, start_ns: int, end_ns: int) -> None:
        attempts = [a for a in record.get("attempts") or [] if isinstance(a, Mapping)]
        parent_context = trace.set_span_in_context(parent, otel_context.Context())
        upstream_ns = _ms_ns((record.get("timings") or {}).get("upstream_ms"))
        first_ns = start_ns + _ms_ns(attempts[0].get("started_ms")) if attempts else start_ns
        for i, attempt in enumerate(attempts):
            began = start_ns + _ms_ns(attempt.get("started_ms"))
            ended = began + _ms_ns(attempt.get("latency_ms"))
            answered = i == len(attempts) - 1 and not attempt.get("error") and record.get("channel")
            if answered:  # the attempt that answered lasts until the upstream's last byte
                ended = max(ended, min(first_ns + upstream_ns, end_ns))
            info = self.channel_info(str(attempt.get("channel")))
            child = self.tracer.start_span(
                f"chat {attempt.get('upstream_model') or ''}".rstrip(),
                context=parent_context,
                kind=SpanKind.CLIENT,
                attributes=attempt_attributes(attempt, info),
                start_time=began,
            )
            if answered:
                child.set_attributes(_usage_only(exchange_attributes(record, info[0] if info else None)))
            if attempt.get("error"):
                child.set_status(Status(StatusCode.ERROR, str(attempt["error"])))
            child.end(end_time=max(ended, began))

    def take(self) -> list[ReadableSpan]:
        spans, self.collected.spans = self.collected.spans, []
        return spans


def _span_count(record: TraceRecord) -> int:
    """The spans a record becomes: the exchange and one per attempt."""
    attempts = record.get("attempts")
    return 1 + (len(attempts) if isinstance(attempts, list) else 0)


def _usage_only(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in attributes.items() if k.startswith("gen_ai.usage.") or k == "gen_ai.response.finish_reasons"
    }


class OtlpExporter:
    """ON_EXCHANGE_DONE callback + writer thread: records in, OTLP/HTTP batches out."""

    def __init__(
        self,
        config: OtlpConfig,
        channel_info: ChannelInfo,
        *,
        exporter: Any = None,
        delay: float = DELAY_S,
    ) -> None:
        self.config = config
        self.delay = delay
        self.builder = SpanBuilder(config.service_name, channel_info)
        self.exporter = exporter or OTLPSpanExporter(
            endpoint=traces_url(config.endpoint), headers=dict(config.headers), timeout=config.timeout
        )
        self._queue: queue.Queue[object] = queue.Queue(maxsize=config.max_queue)
        self._thread = threading.Thread(target=self._run, name="axonhub-otlp", daemon=True)
        self._dropped_on_loop = 0  # each counter has one writer
        self._dropped_in_thread = 0
        self.exported = 0
        self._closed = False
        self._failing = False

    @property
    def dropped(self) -> int:
        """Spans (or records, before they became spans) that never reached the collector."""
        return self._dropped_on_loop + self._dropped_in_thread

    def start(self) -> None:
        self._thread.start()

    def submit(self, record: TraceRecord) -> None:
        """Queue a finished exchange; never blocks, never raises."""
        if record.get("kind") not in MODEL_CALLS:  # listings, probes and token counts are not exported
            return
        if self._closed:
            self._dropped_on_loop += _span_count(record)
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped_on_loop += _span_count(record)

    def close(self, timeout: float) -> None:
        """Export what is queued (waiting at most `timeout` seconds), then stop. Blocking: run off the loop."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._queue.put(_STOP, timeout=0.05)
                break
            except queue.Full:
                continue
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        self.exporter.shutdown()

    def _run(self) -> None:
        next_flush = time.monotonic() + self.delay
        while True:
            try:
                item = self._queue.get(timeout=max(next_flush - time.monotonic(), 0.0))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                self._build(item)
            if len(self.builder.collected.spans) >= BATCH or time.monotonic() >= next_flush:
                self._export(self.builder.take())
                next_flush = time.monotonic() + self.delay
        self._export(self.builder.take())

    def _build(self, item: object) -> None:
        assert isinstance(item, Mapping)
        record = cast(TraceRecord, item)
        try:
            self.builder.build(record)
        except Exception as exc:  # a record we cannot turn into spans must not stop the thread
            self._dropped_in_thread += _span_count(record)
            log.error("exchange not exportable as spans", error=repr(exc), request_id=record.get("request_id"))

    def _export(self, spans: Sequence[ReadableSpan]) -> None:
        if not spans:
            return
        try:
            result = self.exporter.export(spans)
        except Exception as exc:
            log.error("OTLP export failed", error=repr(exc))
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
            if self._failing:
                log.warning("OTLP export recovered", endpoint=self.config.endpoint)
            self._failing = False
            return
        self._dropped_in_thread += len(spans)
        if not self._failing:
            log.error("OTLP collector refused or unreachable; spans dropped", endpoint=self.config.endpoint)
        self._failing = True
