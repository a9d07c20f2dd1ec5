"""The real Claude Code CLI (`claude -p`, headless, fresh HOME) through AxonHub on a fake DeepSeek.

The fake model answers by reading each request (the last message decides), never by request
order, so an extra request from Claude Code cannot shift the script.
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

MARKER_COMMAND = "echo TOOL_RAN_$((40+2))"
THOUGHT = "The user wants the marker; Bash can print it."


@pytest.fixture
async def model() -> AsyncIterator[wire.ChatModel]:
    fake = wire.ChatModel(lambda body: wire.answer(body, "(no script)"))
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory, model: wire.ChatModel, tmp_path: Path) -> Gateway:
    channel = openai_channel("deepseek", model.url)
    return await start_gateway(transform_config([channel], tmp_path / "trace.jsonl"))


async def claude(gateway: Gateway, tmp_path: Path, prompt: str, *args: str) -> ClaudeRun:
    workdir = tmp_path / "project"
    workdir.mkdir(exist_ok=True)
    run = await run_claude(
        prompt, base_url=gateway.url + "/anthropic", key=SECRET, home=tmp_path / "home", cwd=workdir, args=args
    )
    assert run.returncode == 0, run.stderr + json.dumps(run.result)
    assert run.result["is_error"] is False, run.result
    return run


def chat_requests(model: wire.ChatModel) -> list[dict[str, Any]]:
    return [r.json() for r in model.requests if r.path == "/chat/completions"]


async def test_claude_code_gets_a_plain_answer_from_an_openai_compatible_model(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    model.respond = lambda body: wire.answer(body, "Hello from DeepSeek through AxonHub.")
    run = await claude(gateway, tmp_path, "Say hello")
    assert run.result["result"] == "Hello from DeepSeek through AxonHub."
    [sent] = chat_requests(model)
    assert (sent["model"], sent["stream"], sent["stream_options"]) == (
        "deepseek-reasoner",
        True,
        {"include_usage": True},
    )
    assert sent["messages"][0]["role"] == "system"
    assert "x-anthropic-billing-header" not in sent["messages"][0]["content"]
    assert sent["messages"][-1]["role"] == "user" and sent["messages"][-1]["content"].endswith("Say hello")
    assert {"Bash", "Read", "Edit"} <= {t["function"]["name"] for t in sent["tools"]}
    assert sent["max_tokens"] <= 65536


def bash_then_text(body: dict[str, Any]) -> Reply:
    """Report the command's output once a tool result is in the conversation; ask for the command before."""
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if results:
        return wire.answer(body, f"The command printed {results[-1].strip()}.")
    call = wire.call("call_00_marker", "Bash", {"command": MARKER_COMMAND, "description": "Print the marker"})
    return wire.answer(body, "Running the marker command.", reasoning=(THOUGHT,), calls=[call])


async def test_claude_code_runs_a_bash_tool_call_and_sends_result_and_reasoning_back_with_the_call(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    model.respond = bash_then_text
    run = await claude(gateway, tmp_path, "Run the marker command", "--allowedTools", "Bash")
    assert run.result["result"] == "The command printed TOOL_RAN_42."
    first, second = chat_requests(model)[:2]
    assert first["messages"][-1]["role"] == "user"
    at = next(i for i, m in enumerate(second["messages"]) if m.get("tool_calls"))
    assistant, tool = second["messages"][at : at + 2]
    assert assistant == {
        "role": "assistant",
        "content": "Running the marker command.",
        "reasoning_content": THOUGHT,  # Claude Code kept the signed thinking block; DeepSeek needs it back
        "tool_calls": [
            {
                "id": "call_00_marker",
                "type": "function",
                "function": {
                    "name": "Bash",
                    "arguments": json.dumps(
                        {"command": MARKER_COMMAND, "description": "Print the marker"}, separators=(",", ":")
                    ),
                },
            }
        ],
    }
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_00_marker"
    assert tool["content"].strip() == "TOOL_RAN_42"


async def test_claude_code_shows_only_the_answer_of_a_reasoning_model_and_keeps_its_thinking_apart(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    thoughts = ("The user wants the sum. ", "17 + 25 = 42, ", "so the answer is 42.")
    model.respond = lambda body: wire.answer(body, "42", reasoning=thoughts)
    run = await claude(gateway, tmp_path, "What is 17 + 25? Answer with the number only.")
    assert run.result["result"] == "42"
    assert chat_requests(model)[0]["thinking"] == {"type": "enabled"}


async def test_claude_code_recovers_from_a_stream_cut_after_message_start_with_its_non_streaming_retry(
    gateway: Gateway, model: wire.ChatModel, tmp_path: Path
) -> None:
    def cut_streams(body: dict[str, Any]) -> Reply:
        if body.get("stream"):  # the role chunk, then the connection drops
            return Reply.sse(wire.sse(wire.chunk({"role": "assistant", "content": ""}), done=False), reset=True)
        return wire.answer(body, "Recovered without streaming.")

    model.respond = cut_streams
    run = await claude(gateway, tmp_path, "Say hello")
    assert run.result["result"] == "Recovered without streaming."
    assert [r.get("stream") for r in chat_requests(model)] == [True, None]
