"""Trace records and logs for the dashboard tests, written the way the trace writer writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def record(n: int, trace_id: str, **changes: Any) -> dict[str, Any]:
    """The n-th exchange (n seconds after START) of a trace: a 200 on deepseek-chat unless changed."""
    body: dict[str, Any] = {
        "v": 1,
        "time": (START + timedelta(seconds=n)).isoformat(timespec="milliseconds"),
        "request_id": f"req_{n:04d}",
        "trace_id": trace_id,
        "trace_source": "claude_code_header",
        "kind": "messages",
        "key": "alice",
        "project": "demo",
        "client_format": "anthropic",
        "method": "POST",
        "path": "/v1/messages",
        "user_agent": "claude-cli/2.1.197 (external, sdk-cli)",
        "requested_model": "claude-sonnet-5",
        "profile": "cheap",
        "rule": 0,
        "resolved_model": "deepseek-chat",
        "channel": "deepseek",
        "upstream_model": "deepseek-chat",
        "attempts": [
            {
                "channel": "deepseek",
                "upstream_model": "deepseek-chat",
                "status": 200,
                "latency_ms": 900.0,
                "error": None,
            }
        ],
        "stream": True,
        "status": 200,
        "stop_reason": "end_turn",
        "usage": {"input": 1000, "output": 100, "cache_read": 3000, "cache_write": 0, "reasoning": 0},
        "timings": {"ttfb_ms": 300.0, "upstream_ms": 950.0, "total_ms": 1000.0, "overhead_ms": 50.0},
        "error": None,
    }
    body.update(changes)
    return body


def line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


def write_log(path: Path, records: list[dict[str, Any]], *, damaged: tuple[bytes, ...] = ()) -> Path:
    path.write_bytes(b"".join(line(r) for r in records) + b"".join(damaged))
    return path


def append(path: Path, *records: dict[str, Any]) -> None:
    with path.open("ab") as handle:
        for item in records:
            handle.write(line(item))


def rotated_log(folder: Path) -> Path:
    """A log in three files, oldest first: trace.jsonl.2, .1 and trace.jsonl, with two damaged lines.

    Sessions: `s-alpha` (3 requests over .2 and .1, one failed), `s-beta` (2 requests in .1 and the
    current file, key bob, model claude-opus-4-8 on anthropic), and four single-request sessions
    `s-single-0…3` (key carol) in the current file; a count_tokens call in `s-alpha`.
    """
    path = folder / "trace.jsonl"
    write_log(
        folder / "trace.jsonl.2",
        [record(0, "s-alpha"), record(60, "s-alpha", kind="count_tokens", usage={"input": 9999})],
        damaged=(b'{"v":1,"time":"2026-05-01T10:02:00', b"\n"),
    )
    write_log(
        folder / "trace.jsonl.1",
        [
            record(
                120,
                "s-alpha",
                status=529,
                stop_reason=None,
                usage=None,
                error={"type": "overloaded_error", "message": "upstream overloaded"},
                attempts=[
                    {
                        "channel": "deepseek",
                        "upstream_model": "deepseek-chat",
                        "status": 529,
                        "latency_ms": 80.0,
                        "error": "overloaded",
                    }
                ],
            ),
            record(
                180,
                "s-beta",
                key="bob",
                resolved_model="claude-opus-4-8",
                requested_model="claude-opus-4-8",
                channel="anthropic",
                profile=None,
                usage={"input": 500, "output": 50, "cache_read": 0, "cache_write": 2000, "reasoning": 0},
                timings={"ttfb_ms": 150.0, "upstream_ms": 2900.0, "total_ms": 3000.0, "overhead_ms": 100.0},
                attempts=[
                    {
                        "channel": "anthropic",
                        "upstream_model": "claude-opus-4-8",
                        "status": 200,
                        "latency_ms": 2900.0,
                        "error": None,
                    }
                ],
            ),
        ],
        damaged=(b"not json at all\n",),
    )
    write_log(
        path,
        [
            record(
                240,
                "s-beta",
                key="bob",
                channel="anthropic",
                resolved_model="claude-opus-4-8",
                requested_model="claude-opus-4-8",
                profile=None,
                attempts=[
                    {
                        "channel": "anthropic",
                        "upstream_model": "claude-opus-4-8",
                        "status": 200,
                        "latency_ms": 900.0,
                        "error": None,
                    }
                ],
            ),
            *(record(300 + i, f"s-single-{i}", key="carol", trace_source="request") for i in range(4)),
        ],
    )
    return path
