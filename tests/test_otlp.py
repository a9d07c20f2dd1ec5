"""OTLP export from trace records: spans after the GenAI conventions, one trace per AxonHub trace id,
attempts as children, batched off the loop, a dead collector counted as dropped spans."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from axonhub.config import OtlpConfig
from axonhub.otlp import OtlpExporter, otel_trace_id, traces_url
from axonhub.trace_record import MODEL_CALLS
from tests.fakes.otlp_receiver import OtlpReceiver

SESSION = "4f1c2b6e-8a1d-4c3b-9f00-1234567890ab"
CHANNELS = {"primary": ("anthropic", "https://api.anthropic.com"), "backup": ("deepseek", "http://127.0.0.1:9999")}


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "time": "2026-05-01T12:00:00.000+00:00",
        "request_id": "req_1",
        "trace_id": SESSION,
        "trace_source": "claude_code_header",
        "kind": "messages",
        "key": "alice",
        "project": "demo",
        "client_format": "anthropic",
        "requested_model": "claude-sonnet-4-5",
        "profile": "deepseek",
        "resolved_model": "deepseek-chat",
        "channel": "backup",
        "upstream_model": "deepseek-chat",
        "attempts": [
            {
                "channel": "primary",
                "upstream_model": "claude-sonnet-4-5",
                "status": 529,
                "latency_ms": 40.0,
                "started_ms": 2.0,
                "error": "[primary] overloaded",
            },
            {
                "channel": "backup",
                "upstream_model": "deepseek-chat",
                "status": 200,
                "latency_ms": 100.0,
                "started_ms": 45.0,
                "error": None,
            },
        ],
        "stream": True,
        "status": 200,
        "stop_reason": "end_turn",
        "usage": {"input": 10, "output": 20, "cache_read": 300, "cache_write": 5, "reasoning": 0},
        "timings": {"ttfb_ms": 150.0, "upstream_ms": 900.0, "total_ms": 1000.0, "overhead_ms": 100.0},
        "error": None,
    }
    return base | overrides


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    fake = OtlpReceiver()
    await fake.start()
    yield fake
    await fake.close()


def exporter_for(url: str, **config: Any) -> OtlpExporter:
    exporter = OtlpExporter(
        OtlpConfig(endpoint=url, headers={"Authorization": "Bearer tok"}, service_name="gw-test", timeout=2, **config),
        CHANNELS.get,
        delay=0.05,
    )
    exporter.start()
    return exporter


async def close(exporter: OtlpExporter) -> None:
    await asyncio.get_running_loop().run_in_executor(None, exporter.close, 5.0)


def test_trace_ids_uuid_sessions_keep_their_id_others_are_hashed() -> None:
    assert f"{otel_trace_id(SESSION):032x}" == SESSION.replace("-", "")
    assert otel_trace_id("req_abc") == otel_trace_id("req_abc") != otel_trace_id("req_abd")
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


async def test_an_exchange_with_failover_is_one_server_span_with_an_attempt_span_each(receiver: OtlpReceiver) -> None:
    exporter = exporter_for(receiver.url)
    exporter.submit(record())
    exporter.submit(record(kind="models"))  # not a model call: not exported
    await close(exporter)
    exchange = next(s for s in receiver.spans if s.kind == "SPAN_KIND_SERVER")
    primary, backup = sorted((s for s in receiver.spans if s.kind == "SPAN_KIND_CLIENT"), key=lambda s: s.start_ns)
    assert len(receiver.spans) == 3
    assert {s.trace_id for s in receiver.spans} == {SESSION.replace("-", "")}
    assert primary.parent_span_id == backup.parent_span_id == exchange.span_id
    assert exchange.parent_span_id == ""
    assert exchange.name == "chat claude-sonnet-4-5"
    assert exchange.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "deepseek",
        "gen_ai.system": "deepseek",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "deepseek-chat",
        "gen_ai.conversation.id": SESSION,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": 315,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 300,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "http.response.status_code": 200,
        "axonhub.request_id": "req_1",
        "axonhub.trace_id": SESSION,
        "axonhub.trace_source": "claude_code_header",
        "axonhub.kind": "messages",
        "axonhub.key": "alice",
        "axonhub.project": "demo",
        "axonhub.client_format": "anthropic",
        "axonhub.profile": "deepseek",
        "axonhub.resolved_model": "deepseek-chat",
        "axonhub.channel": "backup",
        "axonhub.stream": True,
        "axonhub.ttfb_ms": 150.0,
        "axonhub.overhead_ms": 100.0,
    }
    assert exchange.status == {}
    assert primary.name == "chat claude-sonnet-4-5"
    assert primary.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "server.address": "api.anthropic.com",
        "server.port": 443,
        "http.response.status_code": 529,
        "error.type": "529",
        "axonhub.channel": "primary",
    }
    assert primary.status == {"code": "STATUS_CODE_ERROR", "message": "[primary] overloaded"}
    assert backup.attributes["server.port"] == 9999
    assert backup.attributes["gen_ai.usage.output_tokens"] == 20
    start = exchange.start_ns
    assert (primary.start_ns - start, primary.end_ns - start) == (2_000_000, 42_000_000)
    # the attempt that answered lasts until the upstream's last byte: first attempt + upstream_ms
    assert (backup.start_ns - start, backup.end_ns - start) == (45_000_000, 902_000_000)
    assert exchange.end_ns - start == 1_000_000_000
    assert exchange.resource["service.name"] == "gw-test"
    assert receiver.headers[0]["Authorization"] == "Bearer tok"
    assert receiver.headers[0]["Content-Type"] == "application/x-protobuf"
    assert (exporter.exported, exporter.dropped) == (3, 0)


async def test_a_failed_exchange_is_an_error_span_with_its_error_type(receiver: OtlpReceiver) -> None:
    exporter = exporter_for(receiver.url)
    exporter.submit(
        record(
            status=429,
            usage=None,
            channel=None,
            upstream_model=None,
            attempts=[],
            stop_reason=None,
            error={"type": "rate_limit", "message": "rate limit: key 'alice' reached its limit"},
        )
    )
    await close(exporter)
    (span,) = receiver.spans
    assert span.status == {"code": "STATUS_CODE_ERROR", "message": "rate limit: key 'alice' reached its limit"}
    assert span.attributes["error.type"] == "rate_limit"
    assert "gen_ai.usage.input_tokens" not in span.attributes


async def test_a_dead_collector_never_blocks_the_caller_and_its_spans_are_counted_as_dropped() -> None:
    exporter = exporter_for("http://127.0.0.1:9", max_queue=10)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for i in range(100):
        exporter.submit(record(request_id=f"req_{i}"))
    assert loop.time() - began < 0.05  # submit only queues
    await close(exporter)
    assert exporter.exported == 0
    assert exporter.dropped >= 90 * 3  # the queue held 10 exchanges; the rest (3 spans each) were dropped at once


async def test_every_formats_model_calls_are_exported_and_token_counts_are_not(receiver: OtlpReceiver) -> None:
    exporter = exporter_for(receiver.url)
    for n, kind in enumerate((*MODEL_CALLS, "count_tokens", "models")):
        exporter.submit(record(kind=kind, request_id=f"req_{n}", attempts=[]))
    await close(exporter)
    assert sorted(s.attributes["axonhub.kind"] for s in receiver.spans) == sorted(MODEL_CALLS)
