"""The dashboard's data APIs through a running gateway: shapes, paging, errors, live events, reloads."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from axonhub.config import hash_secret
from axonhub.dashboard.app import DASHBOARD
from axonhub.dashboard.index import Indexer
from axonhub.trace import iter_records
from tests.conftest import SECRET, base_config
from tests.dashboard.harness import PRICING, Dash, start_dash, wait_for
from tests.dashboard.records import line, record, rotated_log, write_log
from tests.dashboard.test_index_handover import snapshot
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply


async def test_status_counts_records_sessions_and_damaged_lines(dash: Dash):
    status, body = await dash.get("/dashboard/api/status")
    assert status == 200
    index = body["index"]
    assert (index["records"], index["sessions"], index["damaged_lines"], index["state"]) == (9, 6, 2, "ready")
    assert [Path(f).name for f in index["files"]] == ["trace.jsonl.2", "trace.jsonl.1", "trace.jsonl"]


async def test_sessions_page_and_its_cursor_through_the_server(dash: Dash):
    status, first = await dash.get("/dashboard/api/sessions?limit=4")
    assert status == 200
    assert [s["trace_id"] for s in first["sessions"]] == ["s-single-3", "s-single-2", "s-single-1", "s-single-0"]
    assert first["total"] == 6
    _, second = await dash.get(f"/dashboard/api/sessions?limit=4&cursor={first['next']}")
    assert ([s["trace_id"] for s in second["sessions"]], second["next"]) == (["s-beta", "s-alpha"], None)
    _, bob = await dash.get("/dashboard/api/sessions?key=bob&since=2026-05-01T10:00:00Z")
    assert [s["trace_id"] for s in bob["sessions"]] == ["s-beta"]
    assert bob["sessions"][0]["cost_usd"] == round((1500 * 15 + 150 * 75 + 3000 * 1.5 + 2000 * 18.75) / 1e6, 6)


async def test_bad_parameters_are_a_400_naming_them(dash: Dash):
    cases = {
        "/dashboard/api/sessions?limit=ten": "limit: an integer expected",
        "/dashboard/api/sessions?since=yesterday": "since: 'yesterday' is neither a duration like 30m, 2h, 7d nor an ISO date",
        "/dashboard/api/usage?range=forever": "range: one of 1h, 6h, 24h, 7d, 30d, all",
        "/dashboard/api/usage?by=colour": "by: one of model, channel, key, profile",
        "/dashboard/api/charts/usage.svg?metric=joy": "metric: one of tokens, cost, requests, cache",
        "/dashboard/api/usage?since=2026-05-02&until=2026-05-01": "until: earlier than since",
    }
    for path, message in cases.items():
        assert await dash.get(path) == (400, {"error": message})


async def test_hand_edited_records_neither_stop_the_index_nor_hang_the_charts(
    start_gateway, upstream: FakeUpstream, tmp_path: Path
):
    """Lines that parse but hold what no writer writes: a list for a kind, infinite or absurd token
    counts, a time in year 1 or 9999. Each used to stop the index (rebuilt every 5 s, never ready),
    fail a timeline with a 500, or make `range=all` a window of millions of steps."""
    infinite = line(record(3, "s-infinite")).replace(b'"input":1000', b'"input":Infinity')
    assert b"Infinity" in infinite
    log = write_log(
        tmp_path / "trace.jsonl",
        [
            record(0, "s-good"),
            record(1, "s-odd", kind=["messages"]),
            record(2, "s-huge", usage={"input": 10**20, "output": 1e400, "cache_read": True}),
            record(4, "s-ancient", time="0001-01-01T00:00:00+00:00"),
            record(5, "s-future", time="9999-12-31T00:00:00+00:00"),
        ],
        damaged=(infinite,),
    )
    dash = await start_dash(start_gateway, tmp_path, base_config(upstream.url, log, pricing=PRICING))
    _, status = await dash.get("/dashboard/api/status")
    # A kind that is a list is a damaged line (every trace reader skips it); the others are indexed.
    assert (status["index"]["records"], status["index"]["damaged_lines"], status["index"]["error"]) == (5, 1, None)
    assert (await dash.get("/dashboard/api/sessions/s-odd"))[0] == 404
    for trace_id in ("s-huge", "s-infinite"):
        code, body = await dash.get(f"/dashboard/api/sessions/{trace_id}")
        assert code == 200, body
        assert body["session"]["tokens"]["input"] == 0  # counts that are not counts
    quick = aiohttp.ClientTimeout(total=10)
    for path in ("usage?range=all", "latency?range=all", "usage?since=0001-01-01T00:00:00Z"):
        code, body = await dash.get(f"/dashboard/api/{path}", timeout=quick)
        assert code == 200, body
        assert len(body["buckets"]) <= 97
    _, usage = await dash.get("/dashboard/api/usage?range=all")
    assert usage["since"].startswith("1970-01-01") and usage["total"]["tokens"]["input"] == 1000  # s-good


async def test_a_session_and_a_request_and_what_is_not_there(dash: Dash):
    status, body = await dash.get("/dashboard/api/sessions/s-alpha")
    assert status == 200
    assert [(r["request_id"], r["kind"], r["status"]) for r in body["requests"]] == [
        ("req_0000", "messages", 200),
        ("req_0060", "count_tokens", 200),
        ("req_0120", "messages", 529),
    ]
    status, body = await dash.get("/dashboard/api/requests/req_0120")
    assert status == 200
    assert body["request"]["error"] == {"type": "overloaded_error", "message": "upstream overloaded"}
    assert (body["replayable"], body["replays"]) == (False, [])
    assert await dash.get("/dashboard/api/sessions/s-nothing") == (404, {"error": "no session 's-nothing'"})
    assert await dash.get("/dashboard/api/requests/req_nothing") == (404, {"error": "no request 'req_nothing'"})


async def test_usage_latency_and_charts_over_all_time(dash: Dash):
    _, usage = await dash.get("/dashboard/api/usage?range=all&by=channel")
    assert {g["name"]: g["requests"] for g in usage["groups"]} == {"deepseek": 6, "anthropic": 2}
    _, latency = await dash.get("/dashboard/api/latency?range=all&by=model")
    assert {row["name"]: row["count"] for row in latency["table"]} == {"deepseek-chat": 5, "claude-opus-4-8": 2}
    status, svg = await dash.get("/dashboard/api/charts/usage.svg?range=all&metric=tokens")
    assert status == 200 and svg.count('<rect class="col') == 3 and "deepseek-chat" in svg
    _, svg = await dash.get("/dashboard/api/charts/latency.svg?range=all&metric=p95&by=channel")
    assert svg.count('<path class="line') == 2
    _, svg = await dash.get("/dashboard/api/charts/usage.svg?range=1h")
    assert 'data-points="0"' in svg and "no data in this period" in svg


async def test_channels_join_the_live_config_with_what_the_trace_saw(dash: Dash):
    _, body = await dash.get("/dashboard/api/channels")
    rows = {row["name"]: row for row in body["channels"]}
    assert list(rows) == ["fake-anthropic", "anthropic", "deepseek"]
    assert {
        k: rows["fake-anthropic"][k] for k in ("configured", "available", "failures_in_a_row", "cooling_down_s")
    } == {
        "configured": True,
        "available": True,
        "failures_in_a_row": 0,
        "cooling_down_s": 0.0,
    }
    assert rows["deepseek"]["configured"] is False
    assert rows["deepseek"]["attempts"]["all"] == {"tries": 7, "failed": 1}


async def read_events(response: aiohttp.ClientResponse, wanted: str, predicate: Any = None) -> dict[str, Any]:
    """Read SSE frames until an event named `wanted` (whose data passes `predicate`) arrives."""
    event = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == wanted:
            data = json.loads(line[6:])
            if predicate is None or predicate(data):
                return data
    raise AssertionError("the event stream ended")


async def test_a_request_through_the_gateway_reaches_an_open_page_live(dash: Dash, upstream: FakeUpstream):
    upstream.default = Reply.json(wire.message())
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.url + "/dashboard/api/events", headers=dash.admin) as events,
    ):
        assert events.headers["Content-Type"] == "text/event-stream"
        assert (await asyncio.wait_for(read_events(events, "hello"), 5))["state"] == "ready"
        async with http.post(
            dash.url + "/v1/messages",
            json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": SECRET, "X-Trace-Id": "live-session-1"},
        ) as response:
            assert response.status == 200
            request_id = response.headers["request-id"]
        event = await asyncio.wait_for(read_events(events, "record"), 10)
    assert event == {
        "time": event["time"],
        "request_id": request_id,
        "trace_id": "live-session-1",
        "kind": "messages",
        "key": "alice",
        "requested_model": "claude-sonnet-4-5",
        "resolved_model": "claude-sonnet-4-5",
        "channel": "fake-anthropic",
        "profile": "passthrough",
        "status": 200,
        "stop_reason": "end_turn",
        "replay_of": None,
        "usage": {"input": 12, "output": 7, "cache_read": 0, "cache_write": 0, "reasoning": 0},
        "total_ms": event["total_ms"],
        "error": False,
    }
    _, page = await dash.get("/dashboard/api/sessions?limit=1")
    assert page["sessions"][0]["trace_id"] == "live-session-1"


async def test_dashboard_requests_are_never_traced(dash: Dash):
    for _ in range(3):
        await dash.get("/dashboard/api/sessions")
    await dash.get("/dashboard/api/sessions", headers={})
    records = list(iter_records(Path(dash.config["server"]["trace"]["path"])))
    assert len(records) == 9


async def test_the_page_follows_a_config_reload(start_gateway, upstream: FakeUpstream, tmp_path: Path):
    config = base_config(upstream.url, rotated_log(tmp_path), pricing=PRICING)
    dash = await start_dash(start_gateway, tmp_path, config, watch=True)
    _, before = await dash.get("/dashboard/api/facets")
    assert "dave" not in before["keys"]
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.url + "/dashboard/api/events", headers=dash.admin) as events,
    ):
        await asyncio.wait_for(read_events(events, "hello"), 5)
        dash.rewrite(
            keys=[*config["keys"], {"name": "dave", "secret_hash": hash_secret("ah-dave-" + "x" * 40)}],
            channels=[
                *config["channels"],
                {"name": "spare", "type": "anthropic", "base_url": upstream.url, "models": ["claude-spare"]},
            ],
        )
        changed = await asyncio.wait_for(read_events(events, "config"), 10)
    assert changed["config"] != dash.gateway.config.digest

    async def reloaded() -> bool:
        _, facets = await dash.get("/dashboard/api/facets")
        return "dave" in facets["keys"]

    await wait_for(reloaded)
    _, channels = await dash.get("/dashboard/api/channels")
    assert [row["name"] for row in channels["channels"] if row["configured"]] == ["fake-anthropic", "spare"]


async def test_the_gateways_own_records_reach_the_index_from_the_trace_writer_once(dash: Dash, upstream: FakeUpstream):
    upstream.default = Reply.json(wire.message())
    indexer = dash.gateway.server.app[DASHBOARD].indexer
    before = len(indexer.current)
    async with aiohttp.ClientSession() as http:
        for n in range(12):
            async with http.post(
                dash.url + "/v1/messages",
                json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                headers={"x-api-key": SECRET, "X-Trace-Id": f"handed-{n % 3}"},
            ) as response:
                assert response.status == 200
    path = Path(dash.config["server"]["trace"]["path"])
    deadline = time.monotonic() + 10
    while len(indexer.current) < before + 12:
        assert time.monotonic() < deadline, "the index did not catch up"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.6)  # a poll later: nothing indexed twice
    with indexer.lock:
        index = indexer.current
        assert len(index) == before + 12 == len(list(iter_records(path)))
        assert index.handed == 12  # none of them parsed again
        assert [len(list(index.session_records(index.sessions.number[f"handed-{k}"]))) for k in range(3)] == [4, 4, 4]
        followed = snapshot(index)
    rebuilt = Indexer(path, 100_000)  # the same log parsed whole: the very same index
    rebuilt.start()
    try:
        deadline = time.monotonic() + 10
        while rebuilt.progress.state != "ready":
            assert time.monotonic() < deadline, "the rebuild did not finish"
            await asyncio.sleep(0.02)
        with rebuilt.lock:
            assert snapshot(rebuilt.current) == followed
    finally:
        rebuilt.stop()
