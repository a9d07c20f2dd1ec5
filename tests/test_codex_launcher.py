"""The real Codex CLI started by `axonhub run codex` through a running `axonhub serve`.

The shell the test plays exports nothing of AxonHub's: only the gateway's channel variable
(ANTHROPIC_API_KEY, the upstream key) and an OPENAI_API_KEY of someone else's, plus a dead proxy for
anything but loopback. The user's own ~/.codex/config.toml has no provider at all, only Codex's
offline settings: the launcher's `-c` overrides alone make Codex talk to AxonHub's Responses API,
with the key in the variable its `env_key` names.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.codex import CODEX_BIN, ensure_codex
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.processes import axonhub, base_env, serving
from tests.trace_files import trace_records

pytestmark = [pytest.mark.codex, pytest.mark.slow]

UPSTREAM_KEY = "sk-ant-api03-gateway-upstream-key-000000"
ANSWER = "Hello from Codex through the AxonHub launcher."
OFFLINE_CODEX = """\
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
"""


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
        # Codex asks for OpenAI model names: the key's profile sends them to a Claude model
        "profiles": {"codex": {"rules": [{"regex": ".*", "model": "claude-sonnet-4-5"}]}},
        "keys": [],
    }
    path = tmp_path / "axonhub.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def test_run_codex_answers_through_the_gateways_responses_api(upstream: FakeUpstream, tmp_path: Path) -> None:
    ensure_codex()
    upstream.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": ANSWER}])))
    config = gateway_config(tmp_path, upstream)
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(OFFLINE_CODEX)
    env = base_env(
        home,
        PATH=f"{CODEX_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        ANTHROPIC_API_KEY=UPSTREAM_KEY,
        OPENAI_API_KEY="sk-proj-someone-elses-openai-key",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
    )
    created = axonhub("keys", "create", "codex-laptop", "--profile", "codex", "--config", str(config), env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    last = home / "last-message.txt"
    with serving(config, env) as gateway:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "axonhub", "run", "--config", str(config), "--port", str(gateway.port), "codex",
            "--", "exec", "--skip-git-repo-check", "--ephemeral", "--json", "-s", "read-only", "-o", str(last),
            "Say hello",
            env=env, cwd=str(home), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()[-3000:]
    assert last.read_text().strip() == ANSWER
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    session = next(e["thread_id"] for e in events if e.get("type") == "thread.started")
    sent = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert sent and all(r.headers["x-api-key"] == UPSTREAM_KEY for r in sent)  # the channel's key
    assert sent[0].json()["model"] == "claude-sonnet-4-5"
    traced = await trace_records(tmp_path / "trace.jsonl", at_least=len(sent))
    assert {(r["kind"], r["key"], r["trace_id"], r["status"], r["profile"]) for r in traced} == {
        ("responses", "codex-laptop", session, 200, "codex")
    }
    assert traced[0]["user_agent"].startswith("codex_exec/")
    assert secret not in (tmp_path / "trace.jsonl").read_text() + gateway.log.read_text()
