"""The real Gemini CLI through the gateway, headless, on a DeepSeek-type channel.

A plain answer, and a tool round trip whose result only the real CLI could produce: it reads a file
on disk with its own `read_file` tool, and the file's content reaches DeepSeek as the tool message;
both requests of that run are one trace through the header `GEMINI_CLI_CUSTOM_HEADERS` adds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, GatewayFactory
from tests.fakes import openai as o_wire
from tests.fakes.openai import ChatModel
from tests.fakes.upstream import Reply
from tests.gemini.conftest import deepseek_channel, gemini_config, traced
from tests.gemini_cli import run_gemini

pytestmark = [pytest.mark.gemini_cli, pytest.mark.slow]

MARKER = "GEMINI_CLI_MARKER_7431"


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def deepseek(body: dict[str, Any], marker_file: Path) -> Reply:
    """Reads the marker file with the CLI's own tool first; answers with what the tool returned."""
    results = tool_messages(body)
    if not results:
        call = o_wire.call("call_read_1", "read_file", {"file_path": str(marker_file)})
        return o_wire.answer(body, "", calls=[call])
    return o_wire.answer(body, f"The file says: {results[-1]['content'].strip()}")


@pytest.fixture
async def fake_deepseek(tmp_path: Path) -> Any:
    marker = tmp_path / "work" / "marker.txt"
    marker.parent.mkdir(parents=True)
    marker.write_text(MARKER + "\n")
    fake = ChatModel(lambda body: deepseek(body, marker))
    await fake.start()
    yield fake, marker
    await fake.close()


async def test_gemini_cli_gets_a_plain_answer_from_a_deepseek_channel(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    fake = ChatModel(lambda body: o_wire.answer(body, "PONG_FROM_DEEPSEEK"))
    await fake.start()
    try:
        config = gemini_config(
            [deepseek_channel("deepseek", fake.url)],
            tmp_path / "trace.jsonl",
            [{"regex": "gemini-.*", "model": "deepseek-chat"}],
        )
        gateway = await start_gateway(config)
        run = await run_gemini("say pong", base_url=gateway.url + "/gemini", key=SECRET, home=tmp_path / "home")
    finally:
        await fake.close()
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.result["response"] == "PONG_FROM_DEEPSEEK"
    main = fake.requests[0].json()
    assert main["model"] == "deepseek-chat" and main["stream"] is True
    assert main["messages"][-1]["role"] == "user" and "say pong" in json.dumps(main["messages"][-1])
    records = await traced(gateway, len(fake.requests))
    assert {(r["client_format"], r["kind"], r["status"]) for r in records} == {("gemini", "generate_content", 200)}
    assert all(r["user_agent"].startswith("GeminiCLI") for r in records)


async def test_gemini_cli_runs_a_tool_round_trip_on_a_deepseek_channel(
    start_gateway: GatewayFactory, tmp_path: Path, fake_deepseek: Any
) -> None:
    fake, marker = fake_deepseek
    config = gemini_config(
        [deepseek_channel("deepseek", fake.url)],
        tmp_path / "trace.jsonl",
        [{"regex": "gemini-.*", "model": "deepseek-chat"}],
    )
    gateway = await start_gateway(config)
    run = await run_gemini(
        "What does marker.txt say?",
        base_url=gateway.url + "/gemini",
        key=SECRET,
        home=tmp_path / "home",
        cwd=marker.parent,
        # Gemini CLI names no session to an API-key endpoint; a header it is told to send groups its requests.
        GEMINI_CLI_CUSTOM_HEADERS="X-Trace-Id: gemini-cli-session-1",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.result["response"] == f"The file says: {MARKER}"
    first, second = (r.json() for r in fake.requests)  # one request per model turn, nothing else
    assert "read_file" in [t["function"]["name"] for t in first["tools"]]
    calls = [m for m in second["messages"] if m.get("tool_calls")]
    assert calls[-1]["tool_calls"] == [
        {
            "id": "call_read_1",
            "type": "function",
            "function": {
                "name": "read_file",
                "arguments": json.dumps({"file_path": str(marker)}, separators=(",", ":")),
            },
        }
    ]
    [result] = tool_messages(second)
    assert result["tool_call_id"] == "call_read_1"
    assert MARKER in result["content"]
    records = await traced(gateway, 2)
    assert [(r["trace_id"], r["trace_source"], r["status"]) for r in records] == [
        ("gemini-cli-session-1", "x_trace_id", 200)
    ] * 2
