"""The real Claude Code started by `axonhub run claude` through a running `axonhub serve`.

The shell the test plays exports nothing of AxonHub's: only the gateway's own channel variable,
ANTHROPIC_API_KEY, set to the gateway's upstream key (the same-shell trap), plus Claude Code's
offline settings (no telemetry, a dead proxy for anything but loopback). The launcher must give
Claude Code the gateway's address and an AxonHub key, and keep the upstream key away from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.claude_code import CLAUDE_BIN, QUIET, ensure_claude
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.processes import Served, axonhub, base_env, serving
from tests.trace_files import trace_records

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]

UPSTREAM_KEY = "sk-ant-api03-gateway-upstream-key-000000"
ANSWER = "Hello through the AxonHub launcher."


def gateway_config(tmp_path: Path, upstream: FakeUpstream) -> Path:
    data: dict[str, Any] = {
        "version": 1,
        "server": {"trace": {"path": "trace.jsonl", "claude_code_trace_enabled": True}},
        "channels": [
            {
                "name": "anthropic",
                "type": "anthropic",
                "base_url": upstream.url,
                "api_key": "${ANTHROPIC_API_KEY}",
                "models": [{"regex": "claude-.*"}],
            }
        ],
        "profiles": {"passthrough": {"rules": []}},
        "keys": [],
        "pricing": {"claude-opus-4-8": {"input": 5.0, "output": 25.0}},
    }
    path = tmp_path / "axonhub.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def shell_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    path = f"{CLAUDE_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return base_env(home, PATH=path, ANTHROPIC_API_KEY=UPSTREAM_KEY, **QUIET)


async def run(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """A command run without blocking the loop that serves the fake upstream."""
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=env["HOME"],
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    return process.returncode or 0, out.decode(), err.decode()


def last_json(text: str) -> dict[str, Any]:
    return dict(json.loads(text.strip().splitlines()[-1]))


async def test_run_claude_answers_through_the_gateway_with_only_the_gateways_variable_exported(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    ensure_claude()
    upstream.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": ANSWER}])))
    config, env = gateway_config(tmp_path, upstream), shell_env(tmp_path)
    created = axonhub("keys", "create", "laptop", "--config", str(config), env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    session = str(uuid.uuid4())
    with serving(config, env) as gateway:
        code, out, err = await run(
            sys.executable, "-m", "axonhub", "run", "--config", str(config), "--port", str(gateway.port), "claude",
            "--", "-p", "Say hello", "--output-format", "json", "--session-id", session,
            env=env,
        )  # fmt: skip
        result = last_json(out)
        assert (code, result["is_error"], result["result"], result["session_id"]) == (0, False, ANSWER, session), err
        status = await statusline(config, env, session)
    main = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert len(main) == 1
    assert main[0].headers["x-api-key"] == UPSTREAM_KEY  # the channel's key, from the gateway's own env
    assert "authorization" not in main[0].headers
    traced = await trace_records(tmp_path / "trace.jsonl")
    assert [(r["kind"], r["key"], r["trace_id"], r["status"]) for r in traced] == [("messages", "laptop", session, 200)]
    assert traced[0]["user_agent"].startswith("claude-cli/")
    assert secret not in (tmp_path / "trace.jsonl").read_text() + gateway.log.read_text()
    # what Claude Code's status line shows for this session: the gateway's real model, channel, tokens, cost
    assert status == "claude-opus-4-8 @ anthropic · in 12 out 7 · $0.0002\n"


async def statusline(config: Path, env: dict[str, str], session: str) -> str:
    """`axonhub statusline` fed the JSON Claude Code passes on stdin."""
    payload = {
        "hook_event_name": "Status",
        "session_id": session,
        "transcript_path": f"{env['HOME']}/.claude/projects/x/{session}.jsonl",
        "cwd": env["HOME"],
        "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8 (1M context)"},
        "workspace": {"current_dir": env["HOME"], "project_dir": env["HOME"]},
        "version": "2.1.197",
        "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.42, "total_duration_ms": 1000, "total_api_duration_ms": 800},
    }
    code, out, err = await run(
        sys.executable,
        "-m",
        "axonhub",
        "statusline",
        "--config",
        str(config),
        env=env,
        stdin=json.dumps(payload).encode(),
    )
    assert code == 0, err
    return out


async def test_both_credential_headers_and_a_refused_request_as_claude_code_sends_them(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Without the launcher, in the gateway's shell: Claude Code sends both x-api-key (the upstream
    key) and Authorization (the AxonHub key); the gateway takes the valid one. With only the upstream
    key it is refused, and the refusal is in the gateway's log, without the key."""
    ensure_claude()
    upstream.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": ANSWER}])))
    config, env = gateway_config(tmp_path, upstream), shell_env(tmp_path)
    secret = axonhub("keys", "create", "laptop", "--config", str(config), env=env).stdout.strip()
    with serving(config, env) as gateway:
        both = await claude_p(gateway, {**env, "ANTHROPIC_AUTH_TOKEN": secret})
        assert (both["is_error"], both["result"]) == (False, ANSWER)
        refused = await claude_p(gateway, env)
        assert (refused["is_error"], refused.get("api_error_status")) == (True, 401)
    sent = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert [r.headers["x-api-key"] for r in sent] == [UPSTREAM_KEY]
    log = gateway.log.read_text()
    assert UPSTREAM_KEY not in log and secret not in log
    refusals = [line for line in gateway.log_lines() if line["event"] == "request refused"]
    assert refusals, log
    assert {(r["path"], r["status"], r["reason"]) for r in refusals} == {
        (
            "/anthropic/v1/messages",
            401,
            "invalid API key: x-api-key holds an Anthropic API key; ANTHROPIC_API_KEY is the gateway's upstream key: "
            "`axonhub run claude` starts Claude Code without it",
        )
    }
    assert all(r["user_agent"].startswith("claude-cli/") for r in refusals)


async def claude_p(gateway: Served, env: dict[str, str]) -> dict[str, Any]:
    _, out, err = await run(
        str(CLAUDE_BIN), "-p", "Say hello", "--output-format", "json",
        env={**env, "ANTHROPIC_BASE_URL": gateway.url + "/anthropic"},
    )  # fmt: skip
    assert out.strip(), err
    return last_json(out)
