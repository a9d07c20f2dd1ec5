"""The dashboard's queries on fixture logs: filters, paging, timelines, usage, latency, channels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from axonhub.config import Price
from axonhub.dashboard import queries
from axonhub.dashboard.answers import totals
from axonhub.dashboard.index import Index, Indexer
from tests.dashboard.records import START, record, rotated_log, write_log
from tests.dashboard.test_index import until

PRICING = {
    "deepseek-chat": Price(input=0.27, output=1.10, cache_read=0.07),
    "claude-opus-4-8": Price(input=15, output=75, cache_read=1.5, cache_write=18.75),
}


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    indexer = Indexer(rotated_log(tmp_path), 1000)
    indexer.start()
    until(lambda: indexer.progress.state == "ready")
    yield indexer.current
    indexer.stop()


def ids(page: dict) -> list[str]:
    return [row["trace_id"] for row in page["sessions"]]


def test_sessions_newest_first_with_whole_rows(index):
    page = queries.sessions_page(index, queries.SessionFilter(), PRICING, limit=50)
    assert ids(page) == ["s-single-3", "s-single-2", "s-single-1", "s-single-0", "s-beta", "s-alpha"]
    assert page["total"] == 6 and page["next"] is None
    alpha = page["sessions"][-1]
    assert {k: v for k, v in alpha.items() if k != "cursor"} == {
        "trace_id": "s-alpha",
        "client": "claude-cli/2.1.197",
        "key": "alice",
        "first": "2026-05-01T10:00:00.000+00:00",
        "last": "2026-05-01T10:02:00.000+00:00",
        "requests": 3,
        "errors": 1,
        "tokens": {"input": 1000, "output": 100, "cache_read": 3000, "cache_write": 0},
        "cost_usd": round((1000 * 0.27 + 100 * 1.10 + 3000 * 0.07) / 1e6, 6),
        "unpriced": False,
        "models": ["deepseek-chat"],
        "channels": ["deepseek"],
    }


def test_paging_with_the_cursor_visits_every_session_once(index):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = queries.sessions_page(index, queries.SessionFilter(), PRICING, cursor=cursor, limit=4)
        seen += ids(page)
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert (pages, seen) == (2, ["s-single-3", "s-single-2", "s-single-1", "s-single-0", "s-beta", "s-alpha"])


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (queries.SessionFilter(key="bob"), ["s-beta"]),
        (queries.SessionFilter(key="carol"), ["s-single-3", "s-single-2", "s-single-1", "s-single-0"]),
        (queries.SessionFilter(model="claude-opus-4-8"), ["s-beta"]),
        (queries.SessionFilter(channel="deepseek", key="alice"), ["s-alpha"]),
        (queries.SessionFilter(key="nobody"), []),
        (queries.SessionFilter(q="s-sin"), ["s-single-3", "s-single-2", "s-single-1", "s-single-0"]),
        (queries.SessionFilter(q="req_0180"), ["s-beta"]),
        (queries.SessionFilter(q="s-single-2"), ["s-single-2"]),
        (
            queries.SessionFilter(q="s-single", key="carol", until=START.timestamp() + 301.5),
            ["s-single-1", "s-single-0"],
        ),
        (
            queries.SessionFilter(since=START.timestamp() + 200),
            ["s-single-3", "s-single-2", "s-single-1", "s-single-0", "s-beta"],
        ),
        (queries.SessionFilter(until=START.timestamp() + 100), ["s-alpha"]),
    ],
)
def test_session_filters(index, flt, expected):
    page = queries.sessions_page(index, flt, PRICING)
    assert (ids(page), page["total"]) == (expected, len(expected))


def test_a_session_timeline_in_order_without_bodies(tmp_path):
    body = {"model": "claude-sonnet-5", "messages": [{"role": "user", "content": "hi"}]}
    path = write_log(
        tmp_path / "trace.jsonl",
        [record(0, "s-1", request_body=body, response_body={"content": []}), record(3, "s-1"), record(4, "s-2")],
    )
    indexer = Indexer(path, 1000)
    indexer.start()
    until(lambda: indexer.progress.state == "ready")
    try:
        detail = queries.session_detail(indexer.current, "s-1", PRICING)
        assert detail is not None
        assert [r["request_id"] for r in detail["requests"]] == ["req_0000", "req_0003"]
        assert [r["offset_s"] for r in detail["requests"]] == [0.0, 3.0]
        first = detail["requests"][0]
        assert "request_body" not in first and (first["has_request_body"], first["has_response_body"]) == (True, True)
        assert (detail["total"], detail["unreadable"], detail["session"]["requests"]) == (2, 0, 2)
        whole = queries.request_detail(indexer.current, "req_0000", PRICING)
        assert whole is not None
        assert whole["request"]["request_body"] == body and whole["replayable"] is True
        assert queries.request_detail(indexer.current, "req_9999", PRICING) is None
        assert queries.session_detail(indexer.current, "s-nope", PRICING) is None
    finally:
        indexer.stop()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, "the request body was not recorded (replays need server.trace.bodies: all)"),
        (
            {"request_body": {"truncated": True, "bytes": 99999, "head": "{"}},
            "the request body was recorded truncated (raise server.trace.max_body_bytes)",
        ),
        (
            {"kind": "count_tokens", "request_body": {"model": "x"}},
            "only model calls can be replayed, not count_tokens",
        ),
        ({"replay_of": "req_1", "request_body": {"model": "x"}}, "this is itself a replay"),
    ],
)
def test_why_a_request_cannot_be_replayed(changes, reason):
    assert queries.replayable(record(0, "s", **changes)) == reason


def test_usage_by_model_with_cost_and_cache_share(index):
    window = queries.Window.of(START.timestamp(), START.timestamp() + 600)
    data = queries.usage(index, window, "model", PRICING)
    assert (data["step_s"], len(data["buckets"])) == (300, 3)
    assert data["groups"] == [
        {
            "name": "deepseek-chat",
            "requests": 6,  # the count_tokens call is not a model call
            "errors": 1,
            "tokens": {"input": 5000, "output": 500, "cache_read": 15000, "cache_write": 0, "reasoning": 0},
            "cost_usd": round((5000 * 0.27 + 500 * 1.10 + 15000 * 0.07) / 1e6, 6),
            "cache_read_share": 0.75,
        },
        {
            "name": "claude-opus-4-8",
            "requests": 2,
            "errors": 0,
            "tokens": {"input": 1500, "output": 150, "cache_read": 3000, "cache_write": 2000, "reasoning": 0},
            "cost_usd": round((1500 * 15 + 150 * 75 + 3000 * 1.5 + 2000 * 18.75) / 1e6, 6),
            "cache_read_share": round(3000 / 6500, 4),
        },
    ]
    assert data["total"]["requests"] == 8
    series = {s["name"]: s for s in data["series"]}
    assert series["deepseek-chat"]["requests"] == [2, 4, 0]
    assert series["claude-opus-4-8"]["requests"] == [2, 0, 0]


def test_usage_by_key_and_an_unpriced_model(index):
    window = queries.Window.of(START.timestamp(), START.timestamp() + 600)
    data = queries.usage(index, window, "key", {})
    assert [(g["name"], g["requests"], g["cost_usd"]) for g in data["groups"]] == [
        ("carol", 4, None),
        ("bob", 2, None),
        ("alice", 2, None),
    ]


def test_latency_percentiles_per_channel(index):
    window = queries.Window.of(START.timestamp(), START.timestamp() + 600)
    data = queries.latency(index, window, "channel")
    table = {row["name"]: row for row in data["table"]}
    # deepseek: five successful calls of 1000 ms (the failure is not a latency sample)
    assert table["deepseek"]["count"] == 5
    assert abs(table["deepseek"]["p50"] - 1000) / 1000 < 0.1
    assert abs(table["deepseek"]["ttfb_p99"] - 300) / 300 < 0.1
    assert table["anthropic"]["count"] == 2
    assert abs(table["anthropic"]["p99"] - 3000) / 3000 < 0.1
    assert queries.latency(index, window, "channel_model")["table"][0]["name"] == "deepseek · deepseek-chat"


def test_channel_stats_count_failed_attempts(index):
    now = datetime(2026, 5, 1, 10, 30, tzinfo=UTC).timestamp()
    stats = queries.channel_stats(index, now)
    assert stats["deepseek"]["attempts"] == {
        "1h": {"tries": 7, "failed": 1},
        "24h": {"tries": 7, "failed": 1},
        "all": {"tries": 7, "failed": 1},
    }
    assert stats["anthropic"]["requests"]["all"] == {"count": 2, "errors": 0}
    assert stats["deepseek"]["last_seen"] == "2026-05-01T10:05:03.000+00:00"
    assert queries.channel_stats(index, now + 7200)["deepseek"]["attempts"]["1h"] == {"tries": 0, "failed": 0}


def test_a_window_keeps_at_most_96_points():
    for span in (600, 3600, 86400, 7 * 86400, 30 * 86400):
        window = queries.Window.of(time.time() - span, time.time())
        assert window.points <= 97


def test_a_replay_summary_compares_only_pairs_where_both_sides_answered() -> None:
    def side(stop: str | None, tools: list[str]) -> dict[str, Any]:
        return {"stop_reason": stop, "tool_calls": [{"name": t} for t in tools], "usage": None, "latency_ms": 1.0}

    pairs = [
        {"original": side("tool_use", ["Bash"]), "replay": side("tool_use", ["Bash"])},  # the same
        {"original": side("end_turn", []), "replay": side("tool_use", ["Read"])},  # different
        {"original": side(None, []), "replay": side(None, [])},  # both failed: nothing to agree on
        {"original": side("end_turn", []), "replay": side(None, [])},  # the replay failed
    ]
    done = totals(pairs)
    assert (done["requests"], done["same_stop_reasons"], done["same_tools"]) == (4, 1, 1)
