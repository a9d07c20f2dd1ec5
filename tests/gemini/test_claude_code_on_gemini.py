"""The real Claude Code on a Gemini channel: its tool schemas pass a Gemini that refuses what Gemini
refuses, and a tool loop carries Gemini's thought signature back on its function call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.claude_code import run_claude
from tests.conftest import SECRET, GatewayFactory
from tests.fakes import gemini as g_wire
from tests.fakes.gemini import StrictGemini
from tests.fakes.upstream import Reply
from tests.gemini.conftest import gemini_channel, gemini_config

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]

MARKER = "GEMINI_TOOL_42"


def gemini3(stream: bool, body: dict[str, Any]) -> Reply:
    """Calls Bash first (a thought, then the signed call); answers with what the tool printed."""
    last = body["contents"][-1]
    responses = [p["functionResponse"] for p in last["parts"] if "functionResponse" in p]
    if not responses:
        parts = [
            g_wire.thought("I will run it."),
            g_wire.call("Bash", {"command": f"echo {MARKER}", "description": "Print"}, signature=g_wire.SIGNATURE),
        ]
        return g_wire.answer(stream, parts)
    output = responses[0]["response"].get("output", responses[0]["response"])
    return g_wire.answer(stream, [g_wire.text(f"The command printed {str(output).strip()}")])


async def test_claude_code_runs_a_tool_loop_on_gemini_3(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    fake = StrictGemini(gemini3)
    await fake.start()
    try:
        rules = [{"regex": "claude-.*", "model": "gemini-3-pro-preview"}]
        gateway = await start_gateway(
            gemini_config([gemini_channel("gemini", fake.url)], tmp_path / "trace.jsonl", rules)
        )
        run = await run_claude(
            "Run the marker command",
            base_url=gateway.url + "/anthropic",
            key=SECRET,
            home=tmp_path / "home",
            args=("--allowedTools", "Bash"),
        )
    finally:
        await fake.close()
    assert fake.refusals == []
    assert run.returncode == 0, run.stderr + json.dumps(run.result)
    assert run.result["result"] == f"The command printed {MARKER}"
    first, second = (r.json() for r in fake.requests if r.path.endswith(":streamGenerateContent"))
    names = [d["name"] for d in first["tools"][0]["functionDeclarations"]]
    assert "Bash" in names and len(names) > 10  # Claude Code's whole tool list, every schema accepted
    model_turn = second["contents"][-2]
    assert model_turn["role"] == "model"
    [call] = [p for p in model_turn["parts"] if "functionCall" in p]
    assert (call["functionCall"]["name"], call["thoughtSignature"]) == ("Bash", g_wire.SIGNATURE)
    [response] = [p["functionResponse"] for p in second["contents"][-1]["parts"] if "functionResponse" in p]
    assert (response["name"], response["id"]) == ("Bash", call["functionCall"]["id"])
    assert MARKER in response["response"]["output"]
