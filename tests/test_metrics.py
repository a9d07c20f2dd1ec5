"""Prometheus metrics: what one trace record counts, bounded labels, a registry per app, GET /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from axonhub.config import TraceConfig
from axonhub.metrics import CONTENT_TYPE, METRICS, Metrics, metrics_handler
from axonhub.trace import TraceWriter
from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "kind": "messages",
        "channel": "deepseek",
        "requested_model": "claude-sonnet-5",
        "resolved_model": "deepseek-chat",
        "status": 200,
        "usage": {"input": 100, "output": 20, "cache_read": 300, "cache_write": 0, "reasoning": 5},
        "timings": {"ttfb_ms": 150.0, "upstream_ms": 1900.0, "total_ms": 2000.0, "overhead_ms": 3.0},
        "error": None,
    }
    return base | overrides


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of one sample name, e.g. `axonhub_requests_total`."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def labels(**kv: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kv.items()))


def test_a_successful_exchange_counts_a_request_its_tokens_and_its_timings() -> None:
    metrics = Metrics()
    metrics.observe(record())
    metrics.observe(record())
    where = {"channel": "deepseek", "model": "deepseek-chat"}
    assert samples(metrics, "axonhub_requests_total") == {labels(kind="messages", status="200", **where): 2.0}
    assert samples(metrics, "axonhub_errors_total") == {}
    assert samples(metrics, "axonhub_tokens_total") == {
        labels(type="input", **where): 200.0,
        labels(type="output", **where): 40.0,
        labels(type="cache_read", **where): 600.0,
        labels(type="reasoning", **where): 10.0,
    }
    assert samples(metrics, "axonhub_request_duration_seconds_count") == {labels(status_class="2xx", **where): 2.0}
    assert samples(metrics, "axonhub_request_duration_seconds_sum") == {labels(status_class="2xx", **where): 4.0}
    assert samples(metrics, "axonhub_time_to_first_byte_seconds_sum") == {labels(**where): 0.3}
    assert samples(metrics, "axonhub_gateway_overhead_seconds_count") == {(): 2.0}


def test_a_failed_exchange_counts_an_error_by_type_and_no_tokens() -> None:
    metrics = Metrics()
    metrics.observe(
        record(
            status=529,
            usage=None,
            channel=None,
            resolved_model=None,
            timings={"ttfb_ms": None, "upstream_ms": 0, "total_ms": 12.0, "overhead_ms": 12.0},
            error={"type": "overloaded_error", "message": "all channels overloaded"},
        )
    )
    metrics.observe(record(kind="count_tokens", status=400, error=None))
    assert samples(metrics, "axonhub_requests_total") == {
        labels(kind="messages", channel="none", model="claude-sonnet-5", status="529"): 1.0,
        labels(kind="count_tokens", channel="deepseek", model="deepseek-chat", status="400"): 1.0,
    }
    assert samples(metrics, "axonhub_errors_total") == {
        labels(kind="messages", channel="none", model="claude-sonnet-5", error_type="overloaded_error"): 1.0,
        labels(kind="count_tokens", channel="deepseek", model="deepseek-chat", error_type="400"): 1.0,
    }
    assert samples(metrics, "axonhub_time_to_first_byte_seconds_count") == {
        labels(channel="deepseek", model="deepseek-chat"): 1.0
    }


def test_label_values_are_bounded() -> None:
    metrics = Metrics(max_values=2)
    for model in ("m1", "m2", "m3", "m4"):
        metrics.observe(record(resolved_model=model, usage=None))
    metrics.observe(record(kind="something-new", status=999, usage=None))
    assert samples(metrics, "axonhub_requests_total") == {
        labels(kind="messages", channel="deepseek", model="m1", status="200"): 1.0,
        labels(kind="messages", channel="deepseek", model="m2", status="200"): 1.0,
        labels(kind="messages", channel="deepseek", model="other", status="200"): 2.0,
        labels(kind="other", channel="deepseek", model="other", status="other"): 1.0,
    }


def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe(record())
    assert sum(samples(first, "axonhub_requests_total").values()) == 1.0
    assert samples(second, "axonhub_requests_total") == {}


def test_the_inflight_gauge_follows_streams() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.stream_started()
    metrics.stream_finished()
    assert samples(metrics, "axonhub_inflight_streams") == {(): 2.0}


async def test_the_trace_writer_counts_are_exposed(tmp_path: Path) -> None:
    writer = TraceWriter(TraceConfig(path=tmp_path / "trace.jsonl"))
    await writer.start()
    writer.write({"v": 1})
    await writer.close()
    writer.write({"v": 1})  # after close: dropped
    metrics = Metrics()
    metrics.watch_trace_writer(writer)
    assert samples(metrics, "axonhub_trace_records_total") == {(): 1.0}
    assert samples(metrics, "axonhub_trace_dropped_records_total") == {(): 1.0}


async def test_get_metrics_serves_the_text_format(aiohttp_client: Any) -> None:
    app = web.Application()
    app[METRICS] = Metrics()
    app.router.add_get("/metrics", metrics_handler(app[METRICS]))
    app[METRICS].observe(record())
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE
    text = await response.text()
    assert 'axonhub_requests_total{channel="deepseek",kind="messages",model="deepseek-chat",status="200"} 1.0' in text


async def test_requests_to_unknown_routes_are_counted_by_status_never_by_path(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))
    async with aiohttp.ClientSession() as session:
        for n in range(30):
            async with session.get(f"{gateway.url}/scan/{n}/wp-login.php", headers={"x-api-key": SECRET}) as r:
                assert r.status == 404
        for path in ("/v1/messages", "/v1/chat/completions"):
            async with session.get(gateway.url + path, headers={"x-api-key": SECRET}) as r:
                assert r.status in (404, 405)  # a GET on a POST route
        async with session.get(gateway.url + "/metrics") as r:
            text = await r.text()
    found = {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "axonhub_requests_total"
    }
    unrouted = {key: value for key, value in found.items() if ("kind", "unrouted") in key}
    assert sum(unrouted.values()) == 32
    assert {dict(key)["status"] for key in unrouted} <= {"404", "405"}
    assert all(dict(key)["channel"] == dict(key)["model"] == "none" for key in unrouted)
    assert "wp-login" not in text and "/scan/" not in text


async def test_requests_refused_for_their_key_are_counted_by_status(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"authorization": "Bearer ah-wrong"}):
            async with session.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as r:
                assert r.status == 401
        for path in ("/health", "/metrics", "/metrics"):  # the last scrape sees the others
            async with session.get(gateway.url + path) as r:
                assert r.status == 200
                text = await r.text()
    assert 'axonhub_requests_total{channel="none",kind="refused",model="none",status="401"} 2.0' in text
    assert 'status="200"' not in text  # /health and /metrics are not exchanges
    assert upstream.requests == []


def test_labels_stay_the_same_however_many_models_clients_invent() -> None:
    """The labels of a (kind, channel, model, status) are remembered, a bounded number of them: once
    forgotten they come back the same (a model seen first keeps its own label, a newcomer is `other`)."""
    metrics = Metrics(max_values=2)
    invented = [f"m{n}" for n in range(5000)]  # more than the gateway remembers
    for model in [*invented, "m0", "m1", "m4999"]:
        metrics.observe(record(requested_model=model, resolved_model=None, usage=None))
    assert samples(metrics, "axonhub_requests_total") == {
        labels(kind="messages", channel="deepseek", model="m0", status="200"): 2.0,
        labels(kind="messages", channel="deepseek", model="m1", status="200"): 2.0,
        labels(kind="messages", channel="deepseek", model="other", status="200"): 4999.0,
    }
    assert samples(metrics, "axonhub_request_duration_seconds_count") == {
        labels(channel="deepseek", model="m0", status_class="2xx"): 2.0,
        labels(channel="deepseek", model="m1", status_class="2xx"): 2.0,
        labels(channel="deepseek", model="other", status_class="2xx"): 4999.0,
    }
