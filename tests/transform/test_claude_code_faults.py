"""The real Claude Code through faults of an OpenAI-compatible upstream that used to cost users their turn.

- A stream cut after the first text delta: the gateway ends it with an error event while the text
  block is still open, which Claude Code retries (a closed block before the error reads as a
  finished answer and ends the turn with "API Error").
- An upstream that answers every turn with the same completion id (Ollama's OpenAI layer, some
  proxies): every message the gateway renders gets a fresh id, so Claude Code keeps each assistant
  turn its own message instead of merging a tool loop into one turn with every call first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.claude_code import ClaudeRun, run_claude
from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.fakes import openai as wire
from tests.fakes.upstream import Reply
from tests.transform.conftest import openai_channel, transform_config

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]


@pytest.fixture
async def model() -> AsyncIterator[wire.ChatModel]:
    fake = wire.ChatModel(lambda body: wire.answer(body, "(no script)"))
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory, model: wire.ChatModel, tmp_path: Path) -> Gateway:
    return await start_gateway(transform_config([openai_channel("deepseek", model.url)], tmp_path / "trace.jsonl"))


async def claude(gateway: Gateway, tmp_path: Path, prompt: str, *args: str) -> ClaudeRun:
    workdir = tmp_path / "project"
    workdir.mkdir(exist_ok=True)
    return await run_claude(
        prompt, base_url=gateway.url + "/anthropic", key=SECRET, home=tmp_path / "home", cwd=workdir, args=args
    )


def chat_requests(model: wire.ChatModel) -> list[dict[str, Any]]:
    return [r.json() for r in model.requests if r.path == "/chat/completions"]


async def test_a_stream_cut_after_the_first_text_delta_is_retried_and_the_turn_succeeds(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    answered: list[bool] = []

    def cut_once(body: dict[str, Any]) -> Reply:
        if not answered:
            answered.append(True)
            head = wire.sse(
                wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "Hel"}), done=False
            )
            return Reply.sse(head, reset=True)
        return wire.answer(body, "Hello after the cut.")

    model.respond = cut_once
    run = await claude(gateway, tmp_path, "Say hello")
    assert run.returncode == 0, run.stderr + json.dumps(run.result)
    assert (run.result["is_error"], run.result["result"]) == (False, "Hello after the cut.")
    assert len(chat_requests(model)) >= 2  # the cut request, then Claude Code's retry


async def test_a_tool_loop_on_an_upstream_that_repeats_its_completion_id_keeps_each_turn_apart(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    steps = 3

    def one_command_per_turn(body: dict[str, Any]) -> Reply:
        done = [m for m in body["messages"] if m["role"] == "tool"]
        if len(done) >= steps:
            return wire.answer(body, "All three commands ran.")
        n = len(done) + 1
        call = wire.call(f"call_step_{n}", "Bash", {"command": f"echo STEP_{n}", "description": f"Step {n}"})
        return wire.answer(body, f"Running step {n}.", calls=[call])  # every chunk: the same completion id

    model.respond = one_command_per_turn
    run = await claude(gateway, tmp_path, "Run the three steps", "--allowedTools", "Bash")
    assert run.returncode == 0, run.stderr + json.dumps(run.result)
    assert run.result["result"] == "All three commands ran."
    last = chat_requests(model)[-1]["messages"]
    turns = [(m["role"], [c["id"] for c in m.get("tool_calls") or []], m.get("tool_call_id")) for m in last]
    loop = turns[next(i for i, t in enumerate(turns) if t[1]) :]
    assert loop == [
        ("assistant", ["call_step_1"], None),
        ("tool", [], "call_step_1"),
        ("assistant", ["call_step_2"], None),
        ("tool", [], "call_step_2"),
        ("assistant", ["call_step_3"], None),
        ("tool", [], "call_step_3"),
    ]
    outputs = [m["content"].strip() for m in last if m["role"] == "tool"]
    assert outputs == ["STEP_1", "STEP_2", "STEP_3"]
