"""The real Codex CLI on a Gemini channel whose fake refuses what Gemini refuses: Codex's tool schemas
pass, its freeform `exec` tool runs a real shell command through a Gemini function call, and Gemini's
thought signature comes back on its call through Codex's `encrypted_content`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.codex import run_codex
from tests.conftest import SECRET, GatewayFactory
from tests.fakes import gemini as g_wire
from tests.fakes.gemini import StrictGemini
from tests.fakes.upstream import Reply
from tests.gemini.conftest import gemini_channel, gemini_config

pytestmark = [pytest.mark.codex, pytest.mark.slow]

MARKER_JS = 'const r = await tools.exec_command({cmd: "echo TOOL_RAN_$((6*7))"}); text(r);'


def gemini(stream: bool, body: dict[str, Any]) -> Reply:
    """Calls `exec` first (a thought, then the signed call); answers with what the tool printed."""
    responses = [p["functionResponse"] for p in body["contents"][-1]["parts"] if "functionResponse" in p]
    if not responses:
        call = g_wire.call("exec", {"input": MARKER_JS}, signature=g_wire.SIGNATURE)
        return g_wire.answer(stream, [g_wire.thought("A shell is needed."), call])
    output = json.dumps(responses[0]["response"])
    return g_wire.answer(stream, [g_wire.text(f"Done. The tool said: {output}")])


async def test_codex_runs_its_freeform_exec_tool_on_gemini_3(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    fake = StrictGemini(gemini)
    await fake.start()
    try:
        rules = [{"regex": "(gpt-|codex-|o[0-9]).*", "model": "gemini-3-pro-preview"}]
        gateway = await start_gateway(gemini_config([gemini_channel("gemini", fake.url)], tmp_path / "t.jsonl", rules))
        workdir = tmp_path / "project"
        workdir.mkdir()
        run = await run_codex(
            "Run the marker command", base_url=gateway.url + "/v1", key=SECRET, home=tmp_path / "home", cwd=workdir
        )
    finally:
        await fake.close()
    assert fake.refusals == []
    assert run.returncode == 0, run.stderr[-3000:]
    commands = [e["item"] for e in run.events if e.get("item", {}).get("type") == "command_execution"]
    assert [(c["aggregated_output"], c["exit_code"]) for c in commands if c["status"] == "completed"] == [
        ("TOOL_RAN_42\n", 0)
    ]
    assert "TOOL_RAN_42" in run.last_message
    first, second = (r.json() for r in fake.requests)
    declarations = {d["name"]: d for d in first["tools"][0]["functionDeclarations"]}
    assert declarations["exec"]["parameters"]["properties"]["input"]["type"] == "STRING"
    model_turn = second["contents"][-2]
    [call] = [p for p in model_turn["parts"] if "functionCall" in p]
    assert (call["functionCall"]["name"], call["functionCall"]["args"], call["thoughtSignature"]) == (
        "exec",
        {"input": MARKER_JS},
        g_wire.SIGNATURE,
    )
    [response] = [p["functionResponse"] for p in second["contents"][-1]["parts"] if "functionResponse" in p]
    assert response["name"] == "exec" and "TOOL_RAN_42" in json.dumps(response["response"])
