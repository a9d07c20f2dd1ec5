"""Replays against fake upstreams: a recorded Claude Code tool-use request under another profile,
a whole session in order, the replay's own trace, what is refused, and the CLI side by side."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from axonhub.cli import main as cli
from axonhub.trace import TRACE_WRITER, iter_records
from tests.conftest import SECRET
from tests.dashboard.harness import RECORDED_CALL, REPLAYED_CALL, Dash, ReplayRig, tool_use_message, wait_for
from tests.fakes import anthropic as wire
from tests.fakes.upstream import Reply
from tests.transform import claude_code_requests as cc


def without_timings(side: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(side["latency_ms"], float) and side["latency_ms"] > 0
    return {k: v for k, v in side.items() if k not in ("latency_ms", "ttfb_ms", "request_id")}


async def test_a_claude_code_tool_use_request_replayed_under_another_profile_shows_both_answers(rig: ReplayRig):
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(tool_use_message())))
    request_id = await rig.claude_code(cc.main_body())
    detail = await rig.indexed(request_id)
    # the stream was recorded whole, as the message it carried
    recorded = detail["request"]["response_body"]
    assert (recorded["stop_reason"], recorded["content"][1]) == (
        "tool_use",
        {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": RECORDED_CALL},
    )
    assert detail["replayable"] is True

    status, lines = await rig.replay(request_id=request_id, profile="cheap")
    assert status == 200
    assert [line["type"] for line in lines] == ["start", "pair", "done"]
    start, pair, done = lines
    assert {k: start[k] for k in ("profile", "key", "requests")} == {"profile": "cheap", "key": "alice", "requests": 1}
    assert pair["original"]["request_id"] == request_id
    assert without_timings(pair["original"]) == {
        "profile": "passthrough",
        "requested_model": "claude-opus-4-8",
        "resolved_model": "claude-opus-4-8",
        "channel": "fake-anthropic",
        "status": 200,
        "stop_reason": "tool_use",
        "usage": {"input": 1200, "output": 40, "cache_read": 5000, "cache_write": 0, "reasoning": 0},
        "cost_usd": round((1200 * 15 + 40 * 75 + 5000 * 1.5) / 1e6, 6),
        "error": None,
        "text": "Running it.",
        "thinking": "",
        "tool_calls": [{"id": "toolu_01", "name": "Bash", "arguments": RECORDED_CALL}],
        "note": None,
    }
    assert without_timings(pair["replay"]) == {
        "profile": "cheap",
        "requested_model": "claude-opus-4-8",
        "resolved_model": "deepseek-chat",
        "channel": "fake-deepseek",
        "status": 200,
        "stop_reason": "tool_use",
        "usage": {"input": 100, "output": 10, "cache_read": 0, "cache_write": 0, "reasoning": 0},
        "cost_usd": round((100 * 0.27 + 10 * 1.10) / 1e6, 6),
        "error": None,
        "text": "Listing.",
        "thinking": "",
        "tool_calls": [{"id": "call_1", "name": "Bash", "arguments": REPLAYED_CALL}],
        "note": None,
    }
    assert {k: pair["difference"][k] for k in ("input", "output", "cache_read", "cost_usd")} == {
        "input": -1100,
        "output": -30,
        "cache_read": -5000,
        "cost_usd": round(pair["replay"]["cost_usd"] - pair["original"]["cost_usd"], 6),
    }
    assert done["totals"]["requests"] == 1 and done["totals"]["same_tools"] == 1
    # the cheap profile's channel got the recorded conversation, translated
    sent = rig.deepseek.requests[-1].json()
    assert sent["model"] == "deepseek-chat" and "Run the marker command" in json.dumps(sent["messages"])

    # the replay is traced as a replay, on its own trace, and never counted as usage
    writer = rig.dash.gateway.server.app[TRACE_WRITER]

    async def indexed_replay() -> bool:
        _, status = await rig.dash.get("/dashboard/api/status")
        return writer.written == 2 and status["index"]["records"] == 2

    await wait_for(indexed_replay)
    replayed = [r for r in iter_records(rig.trace) if r.get("replay_of")]
    assert [(r["replay_of"], r["trace_id"], r["trace_source"], r["key"], r["profile"]) for r in replayed] == [
        (request_id, start["trace_id"], "replay", "alice", "cheap")
    ]
    _, sessions = await rig.dash.get("/dashboard/api/sessions")
    assert [s["trace_id"] for s in sessions["sessions"]] == [cc.SESSION]
    _, usage = await rig.dash.get("/dashboard/api/usage?range=all&by=profile")
    assert [(g["name"], g["requests"]) for g in usage["groups"]] == [("passthrough", 1)]
    result = CliRunner().invoke(cli, ["usage", "--by", "profile", "--json", "--file", str(rig.trace)])
    assert [(row["name"], row["requests"]) for row in json.loads(result.output)["rows"]] == [("passthrough", 1)]
    detail = await rig.indexed(request_id)
    assert [(r["profile"], r["channel"]) for r in detail["replays"]] == [("cheap", "fake-deepseek")]


async def test_a_session_replay_keeps_the_recorded_order_and_sums_the_difference(rig: ReplayRig):
    prompts = ["step one", "step two", "step three"]
    rig.anthropic.enqueue(
        *(Reply.sse(wire.stream_events(tool_use_message(p, f"toolu_{i}"))) for i, p in enumerate(prompts))
    )
    originals = [await rig.claude_code(cc.main_body(messages=cc.first_turn(p))) for p in prompts]
    await rig.indexed(originals[-1])
    status, lines = await rig.replay(session=cc.SESSION, profile="cheap")
    assert status == 200
    pairs = [line for line in lines if line["type"] == "pair"]
    assert [(p["index"], p["original"]["request_id"], p["original"]["text"]) for p in pairs] == [
        (0, originals[0], "step one"),
        (1, originals[1], "step two"),
        (2, originals[2], "step three"),
    ]
    received = [json.dumps(r.json()["messages"]) for r in rig.deepseek.requests]
    assert [next(p for p in prompts if p in text) for text in received] == prompts
    totals = lines[-1]["totals"]
    assert (totals["requests"], totals["original"]["input"], totals["replay"]["input"]) == (3, 3600, 300)
    assert totals["difference"]["input"] == -3300


async def test_a_gemini_cli_stream_counts_as_usage_and_replays_with_both_answers(rig: ReplayRig):
    """Gemini's model calls (`generate_content`) are model calls like the others: on the Usage page, in the
    session's tokens and cost, replayable; a stream the trace recorded without its `?alt=sse` is read back."""
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(tool_use_message())))
    body = {"contents": [{"role": "user", "parts": [{"text": "list the files"}]}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            rig.dash.url + "/v1beta/models/claude-opus-4-8:streamGenerateContent?alt=sse",
            json=body,
            headers={"x-goog-api-key": SECRET, "X-Trace-Id": "gemini-cli-1"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        await response.read()
        request_id = response.headers["request-id"]
    detail = await rig.indexed(request_id)
    assert (detail["request"]["kind"], detail["replayable"]) == ("generate_content", True)
    _, session = await rig.dash.get("/dashboard/api/sessions/gemini-cli-1")
    assert session["session"]["tokens"]["input"] == 1200
    _, usage = await rig.dash.get("/dashboard/api/usage?range=1h")
    assert (usage["total"]["requests"], usage["total"]["tokens"]["input"]) == (1, 1200)

    status, lines = await rig.replay(request_id=request_id, profile="cheap")
    assert status == 200
    pair = lines[1]
    assert [c["name"] for c in pair["original"]["tool_calls"]] == ["Bash"]
    assert (pair["replay"]["channel"], pair["replay"]["note"], pair["replay"]["text"]) == (
        "fake-deepseek",
        None,
        "Listing.",
    )
    assert [c["arguments"] for c in pair["replay"]["tool_calls"]] == [REPLAYED_CALL]
    assert pair["replay"]["usage"]["input"] == 100


async def test_what_a_replay_refuses(rig: ReplayRig):
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(tool_use_message())))
    request_id = await rig.claude_code(cc.main_body())
    await rig.indexed(request_id)
    assert await rig.replay(request_id=request_id, profile="dear") == (
        400,
        [{"error": "no profile named 'dear' (profiles: cheap, passthrough)"}],
    )
    assert await rig.replay(request_id=request_id, profile="cheap", key="nobody") == (
        400,
        [{"error": "no key named 'nobody' in the running config; choose the key to replay as"}],
    )
    assert await rig.replay(request_id="req_gone", profile="cheap") == (
        404,
        [{"error": "no request 'req_gone' in the trace log"}],
    )
    assert await rig.replay(session="no-such-session", profile="cheap") == (
        404,
        [{"error": "no session 'no-such-session' in the trace log"}],
    )
    assert await rig.replay(profile="cheap") == (
        400,
        [{"error": "give a request id or a session (trace) id to replay"}],
    )
    assert (await rig.replay(request_id=7, profile="cheap"))[0] == 400


async def test_a_request_recorded_without_its_body_cannot_be_replayed(dash: Dash):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            dash.url + "/dashboard/api/replay",
            json={"request_id": "req_0000", "profile": "passthrough"},
            headers=dash.admin,
        ) as response,
    ):
        assert (response.status, await response.json()) == (
            409,
            {
                "error": "request 'req_0000' cannot be replayed: the request body was not recorded "
                "(replays need server.trace.bodies: all)"
            },
        )


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "axonhub",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "160"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_cli_prints_both_answers_side_by_side(rig: ReplayRig):
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(tool_use_message())))
    request_id = await rig.claude_code(cc.main_body())
    await rig.indexed(request_id)
    common = ["--profile", "cheap", "--config", str(rig.dash.config_path), "--url", rig.dash.url]
    code, out, err = await run_cli("traces", "replay", request_id, *common)
    assert (code, err) == (0, "")
    assert "recorded" in out and "│ replay" in out
    assert "passthrough → claude-opus-4-8 @ fake-anthropic" in out and "cheap → deepseek-chat @ fake-deepseek" in out
    assert "tool call Bash:" in out and '{"command": "ls -la"}' in out and '"command": "ls"' in out
    assert "1 request(s): same stop reason 1, same tools called 1" in out
    assert "cost $0.0285" in out and "cost $0.000038" in out and "-$0.0285" in out

    code, out, _ = await run_cli("traces", "replay", "--session", cc.SESSION, "--json", *common)
    data = json.loads(out)
    assert code == 0 and data["profile"] == "cheap" and len(data["pairs"]) == 1
    assert data["pairs"][0]["replay"]["tool_calls"] == [{"id": "call_1", "name": "Bash", "arguments": REPLAYED_CALL}]
    assert data["totals"]["requests"] == 1

    code, _, err = await run_cli("traces", "replay", "req_missing", *common)
    assert (code, err.strip()) == (1, "Error: replay refused (404): no request 'req_missing' in the trace log")
    code, _, err = await run_cli("traces", "replay", request_id, *common[:-1], "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the gateway at http://127.0.0.1:9" in err
