"""The real Claude Code CLI answers through AxonHub from a fake Anthropic upstream."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.claude_code import run_claude
from tests.conftest import SECRET, Gateway
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]


@pytest.mark.parametrize("auth", ["token", "api_key"])
async def test_claude_code_answers_through_axonhub(
    gateway: Gateway, upstream: FakeUpstream, tmp_path: Path, auth: str
) -> None:
    answer = "Hello from AxonHub's fake upstream."
    upstream.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": answer}])))
    session = str(uuid.uuid4())
    run = await run_claude(
        "Say hello",
        base_url=gateway.url + "/anthropic",
        key=SECRET,
        home=tmp_path / "home",
        args=("--session-id", session),
        auth=auth,
    )
    assert run.returncode == 0, run.stderr + str(run.result)
    assert run.result["is_error"] is False
    assert run.result["result"] == answer
    assert run.result["session_id"] == session
    main = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert main, "Claude Code sent nothing upstream"
    sent = main[0]
    assert sent.query == {}
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-key-000"
    assert "claude-code-20250219" in sent.headers["anthropic-beta"]
    assert sent.json()["stream"] is True
    await gateway.server.close()  # flushes the trace writer
    traced = [json.loads(line) for line in gateway.config.server.trace.path.read_text().splitlines()]
    assert {r["trace_id"] for r in traced} == {session}
