"""`axonhub keys show` lists a key's limits, where each comes from, and its current use: read from
Redis with Redis state, summed from the trace log with memory state."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from click.testing import CliRunner, Result

from axonhub.cli import main
from tests.conftest import SECRET, GatewayFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.redis_server import RedisServer


def show(config: Path, *extra: str) -> Result:
    result = CliRunner().invoke(main, ["keys", "show", "alice", "--config", str(config), *extra])
    assert result.exit_code == 0, result.output
    return result


def record(when: datetime, **overrides: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "time": when.isoformat(timespec="milliseconds"),
        "kind": "messages",
        "key": "alice",
        "resolved_model": "claude-sonnet-4-5",
        "requested_model": "claude-sonnet-4-5",
        "status": 200,
        "usage": {"input": 100, "output": 50, "cache_read": 1000, "cache_write": 0, "reasoning": 0},
        "limit": None,
        **overrides,
    }


def limited_config(tmp_path: Path, upstream_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    data = base_config(upstream_url, tmp_path / "trace.jsonl")
    data["projects"] = {"demo": {"limits": {"requests_per_minute": 60, "spend_per_day_usd": 5}}}
    data["keys"][0]["limits"] = {"output_tokens_per_day": 100_000, "concurrent_requests": 4}
    data["pricing"] = {"claude-sonnet-4-5": {"input": 3, "output": 15, "cache_read": 0.3}}
    return data


def test_with_memory_state_the_use_is_summed_from_the_trace_log(tmp_path: Path) -> None:
    config = write_config(tmp_path / "axonhub.yml", limited_config(tmp_path))
    second = time.time() % 60  # records from 1-2 s ago must be in the minute the command reads them in
    if not 5 <= second <= 50:
        time.sleep((65 - second) % 60)
    now = datetime.now(UTC)
    lines = [
        record(now - timedelta(seconds=1)),
        record(now - timedelta(days=2)),  # another day
        record(now - timedelta(seconds=1), status=429, usage=None, limit={"name": "requests_per_minute"}),  # refused
        record(now - timedelta(seconds=1), key="bob"),
    ]
    (tmp_path / "trace.jsonl.1").write_text(json.dumps(record(now - timedelta(seconds=2))) + "\n")  # rotated
    (tmp_path / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    shown = json.loads(show(config, "--json").output)
    assert shown["use_from"] == "summed from the trace log"
    rows = {row["limit"]: row for row in shown["limits"]}
    minute_reset = rows["requests_per_minute"]["resets_at"]
    assert rows == {
        "requests_per_minute": {
            "limit": "requests_per_minute",
            "value": 60,
            "used": 2,
            "resets_at": minute_reset,
            "from": "project",
        },
        "output_tokens_per_day": {
            "limit": "output_tokens_per_day",
            "value": 100_000,
            "used": 100,
            "from": "key",
            "resets_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
        },
        "spend_per_day_usd": {
            "limit": "spend_per_day_usd",
            "value": 5.0,
            "used": 0.0027,
            "from": "project",
            "resets_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
        },
        "concurrent_requests": {
            "limit": "concurrent_requests",
            "value": 4,
            "used": None,
            "resets_at": None,
            "from": "key",
        },
    }
    text = show(config).output.splitlines()
    assert "limits          (use summed from the trace log)" in text
    assert any(line.split()[:5] == ["spend_per_day_usd", "$5.00", "used", "$0.0027", "resets"] for line in text)
    assert any(line.strip().startswith("requests_per_minute") and line.endswith("(project default)") for line in text)


def test_a_key_without_limits_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    assert "limits          none" in show(config).output.splitlines()
    assert json.loads(show(config, "--json").output)["limits"] == []


async def test_with_redis_state_the_use_is_read_from_redis(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, redis_server: RedisServer
) -> None:
    upstream.default = Reply.json(wire.message())
    data = limited_config(tmp_path, upstream.url)
    # A generous timeout: on a loaded CI machine the default let one slow first call open the breaker,
    # and the requests were admitted unchecked (on_error: open), so nothing was counted.
    data["server"]["state"] = {"backend": "redis", "url": redis_server.url, "timeout": 5}
    gateway = await start_gateway(data)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(f"{gateway.url}/v1/messages", json=body, headers={"x-api-key": SECRET}) as r:
                assert r.status == 200
    await asyncio.sleep(0.1)  # the settlements
    (tmp_path / "trace.jsonl").unlink()  # not the source: Redis is
    result = await asyncio.get_running_loop().run_in_executor(None, show, tmp_path / "axonhub.yml", "--json")
    shown = json.loads(result.output)
    assert shown["use_from"] == "from Redis"
    used = {row["limit"]: row["used"] for row in shown["limits"]}
    assert used == {
        "requests_per_minute": 3,
        "output_tokens_per_day": 21,
        "spend_per_day_usd": 0.000423,
        "concurrent_requests": 0,
    }


def test_every_formats_model_calls_count_toward_the_use_and_token_counts_do_not(tmp_path: Path) -> None:
    config = write_config(tmp_path / "axonhub.yml", limited_config(tmp_path))
    now = datetime.now(UTC) - timedelta(seconds=1)
    lines = [record(now, kind=kind) for kind in ("messages", "chat_completions", "responses", "generate_content")]
    lines.append(record(now, kind="count_tokens", usage=None, counted_tokens=9000))
    (tmp_path / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    rows = {row["limit"]: row for row in json.loads(show(config, "--json").output)["limits"]}
    assert rows["output_tokens_per_day"]["used"] == 4 * 50
