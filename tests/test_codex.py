"""The real Codex CLI (`codex exec`, headless, fresh CODEX_HOME) through AxonHub on fake upstreams.

Codex speaks only the OpenAI Responses API. Here it runs against a DeepSeek-type channel (OpenAI
Chat Completions) and an Anthropic channel, its model names mapped by the key's profile. The fake
models answer by reading each request (a tool result in the conversation decides), never by request
order. Codex's default model gets one freeform tool, `exec` (JavaScript whose `tools.exec_command`
and `tools.apply_patch` run a shell command or edit files), which those channels only know as a
function with one string argument; its older `gpt-5-codex` gets classic function tools.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.codex import CodexRun, run_codex
from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes import anthropic as a_wire
from tests.fakes import openai as o_wire
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.codex, pytest.mark.slow]

DEEPSEEK, ANTHROPIC = "deepseek", "anthropic"
UPSTREAM_MODEL = {DEEPSEEK: "deepseek-chat", ANTHROPIC: "claude-sonnet-4-5"}
MARKER_JS = 'const r = await tools.exec_command({cmd: "echo TOOL_RAN_$((6*7))"}); text(r);'
PATCH = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-draft\n+final\n*** End Patch\n"
PATCH_JS = f"const r = await tools.apply_patch({json.dumps(PATCH)}); text(r);"
THOUGHT = "The marker needs a shell: I will run it."
SIGNATURE = "EqQBCkgIARABGAIiQFake+Anthropic/Signature=="
FREEFORM_SCHEMA_KEYS = {"type": "object", "required": ["input"], "additionalProperties": False}


def result_texts(channel: str, body: dict[str, Any]) -> list[str]:
    """The tool results in a request the upstream received, as text."""
    if channel == DEEPSEEK:
        return [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]
    texts = []
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block["type"] == "tool_result":
                content = block.get("content", [])
                texts.append("".join(p.get("text", "") for p in content) if isinstance(content, list) else content)
    return texts


def model_script(channel: str, tool: str | None, arguments: dict[str, Any]) -> Callable[[dict[str, Any]], Reply]:
    """A model that calls `tool` once (with reasoning before it), then answers with what the tool printed."""

    def respond(body: dict[str, Any]) -> Reply:
        results = result_texts(channel, body)
        if tool is None or results:
            text = f"Done. The tool said: {results[-1]}" if results else "Hello from the fake upstream through AxonHub."
            if channel == DEEPSEEK:
                return o_wire.answer(body, text)
            return a_wire.answer(body, [{"type": "text", "text": text}])
        if channel == DEEPSEEK:
            return o_wire.answer(body, reasoning=(THOUGHT,), calls=[o_wire.call("call_codex_1", tool, arguments)])
        thinking = {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
        use = {"type": "tool_use", "id": "toolu_codex_1", "name": tool, "input": arguments}
        return a_wire.answer(body, [thinking, use])

    return respond


@pytest.fixture(params=[DEEPSEEK, ANTHROPIC])
def channel(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def model(channel: str) -> AsyncIterator[o_wire.ChatModel | a_wire.MessagesModel]:
    fake: o_wire.ChatModel | a_wire.MessagesModel
    idle = model_script(channel, None, {})
    fake = o_wire.ChatModel(idle) if channel == DEEPSEEK else a_wire.MessagesModel(idle)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(
    start_gateway: GatewayFactory, model: FakeUpstream, channel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Gateway:
    """Alice's active profile maps Codex's model names (gpt-…, codex-…) to the channel's model."""
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "sk-upstream-000")
    config = base_config(model.url, tmp_path / "trace.jsonl")
    config["channels"] = [
        {
            "name": channel,
            "type": channel,
            "base_url": model.url,
            "api_key": "${FAKE_UPSTREAM_KEY}",
            "models": [UPSTREAM_MODEL[channel]],
        }
    ]
    rule = {"regex": "(gpt-|codex-|o[0-9]).*", "model": UPSTREAM_MODEL[channel]}
    config["profiles"] = {"codex": {"description": "Codex on " + channel, "rules": [rule]}}
    config["keys"][0]["active_profile"] = "codex"
    return await start_gateway(config)


async def codex(gateway: Gateway, tmp_path: Path, prompt: str, **options: Any) -> CodexRun:
    workdir = tmp_path / "project"
    workdir.mkdir(exist_ok=True)
    run = await run_codex(
        prompt, base_url=gateway.url + "/v1", key=SECRET, home=tmp_path / "home", cwd=workdir, **options
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def upstream_bodies(model: FakeUpstream) -> list[dict[str, Any]]:
    return [r.json() for r in model.requests]


async def traced(gateway: Gateway) -> list[dict[str, Any]]:
    await gateway.server.close()  # flushes the trace writer
    return [json.loads(line) for line in gateway.config.server.trace.path.read_text().splitlines()]


def tool_named(channel: str, body: dict[str, Any], name: str) -> dict[str, Any]:
    if channel == DEEPSEEK:
        return next(t["function"] for t in body["tools"] if t["function"]["name"] == name)
    return next({**t, "parameters": t["input_schema"]} for t in body["tools"] if t["name"] == name)


async def test_codex_gets_a_plain_answer_and_its_session_is_one_trace(
    gateway: Gateway, model: FakeUpstream, channel: str, tmp_path: Path
) -> None:
    run = await codex(gateway, tmp_path, "Say hello")
    assert run.last_message == "Hello from the fake upstream through AxonHub."
    [body] = upstream_bodies(model)
    assert body["model"] == UPSTREAM_MODEL[channel]
    assert body["stream"] is True
    system = body["messages"][0]["content"] if channel == DEEPSEEK else body["system"][0]["text"]
    assert system.startswith("You are Codex")
    last = body["messages"][-1]
    prompt = last["content"] if channel == DEEPSEEK else last["content"][-1]["text"]
    assert prompt.endswith("Say hello")
    exec_tool = tool_named(channel, body, "exec")  # Codex's freeform tool, as a one-string function
    assert {k: exec_tool["parameters"][k] for k in FREEFORM_SCHEMA_KEYS} == FREEFORM_SCHEMA_KEYS
    assert exec_tool["parameters"]["properties"]["input"]["type"] == "string"
    [record] = await traced(gateway)
    assert (record["trace_id"], record["trace_source"]) == (run.session_id, "codex_session")
    assert (record["client_format"], record["kind"], record["status"], record["error"]) == (
        "openai_responses",
        "responses",
        200,
        None,
    )
    assert (record["requested_model"], record["resolved_model"]) == ("gpt-6.1-sol", UPSTREAM_MODEL[channel])


async def test_codex_runs_a_shell_command_through_its_freeform_exec_tool(
    gateway: Gateway, model: o_wire.ChatModel | a_wire.MessagesModel, channel: str, tmp_path: Path
) -> None:
    model.respond = model_script(channel, "exec", {"input": MARKER_JS})
    run = await codex(gateway, tmp_path, "Run the marker command")
    commands = [e["item"] for e in run.events if e.get("item", {}).get("type") == "command_execution"]
    assert [(c["aggregated_output"], c["exit_code"]) for c in commands if c["status"] == "completed"] == [
        ("TOOL_RAN_42\n", 0)
    ]
    _, second = upstream_bodies(model)
    [result] = result_texts(channel, second)
    assert '"output":"TOOL_RAN_42\\n"' in result  # only a real shell makes 42 of $((6*7))
    assert "TOOL_RAN_42" in run.last_message
    if channel == DEEPSEEK:  # the model's reasoning goes back to DeepSeek with its tool call
        turn = second["messages"][-2]
        assert turn["reasoning_content"] == THOUGHT
        assert turn["tool_calls"] == [
            {
                "id": "call_codex_1",
                "type": "function",
                "function": {"name": "exec", "arguments": json.dumps({"input": MARKER_JS}, separators=(",", ":"))},
            }
        ]
    else:  # the signed thinking block comes back byte for byte through Codex's encrypted_content
        turn = second["messages"][-2]
        assert turn["content"] == [
            {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE},
            {"type": "tool_use", "id": "toolu_codex_1", "name": "exec", "input": {"input": MARKER_JS}},
        ]
    records = await traced(gateway)
    assert [r["trace_id"] for r in records] == [run.session_id] * 2
    assert [r["status"] for r in records] == [200, 200]


async def test_codex_edits_a_file_on_disk_with_apply_patch(
    gateway: Gateway, model: o_wire.ChatModel | a_wire.MessagesModel, channel: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("draft\n")
    model.respond = model_script(channel, "exec", {"input": PATCH_JS})
    run = await codex(gateway, tmp_path, "Finalise notes.txt", sandbox="workspace-write")
    assert (project / "notes.txt").read_text() == "final\n"
    _, second = upstream_bodies(model)
    [result] = result_texts(channel, second)
    assert result.startswith("Script completed")
    changes = [e["item"] for e in run.events if e.get("item", {}).get("type") == "file_change"]
    assert [(c["status"], [ch["kind"] for ch in c["changes"]]) for c in changes][-1:] == [("completed", ["update"])]
    assert run.last_message.startswith("Done.")
    records = await traced(gateway)
    assert {r["trace_id"] for r in records} == {run.session_id}


@pytest.mark.parametrize("channel", [DEEPSEEK], indirect=True)
async def test_codex_with_classic_function_tools_runs_exec_command(
    gateway: Gateway, model: o_wire.ChatModel, channel: str, tmp_path: Path
) -> None:
    model.respond = model_script(channel, "exec_command", {"cmd": "echo TOOL_RAN_$((6*7))"})
    run = await codex(gateway, tmp_path, "Run the marker command", model="gpt-5-codex")
    first, second = upstream_bodies(model)
    assert "web_search" not in [t["function"]["name"] for t in first["tools"]]
    [result] = result_texts(channel, second)
    assert "TOOL_RAN_42" in result
    assert "TOOL_RAN_42" in run.last_message
    records = await traced(gateway)
    assert {r["trace_id"] for r in records} == {run.session_id}
    assert records[0]["notes"] == [
        "tools: web_search left out: only OpenAI's own API can run it, and this request goes to a channel that cannot"
    ]
