"""Driving the real Codex CLI (npm `@openai/codex`, pinned in tests/clients) headless.

`codex exec` runs as a subprocess with a fresh HOME and CODEX_HOME whose `config.toml` points a
`responses` provider at the gateway on loopback, with update checks, analytics and plugins off and a
dead proxy for anything that is not the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.claude_code import CLIENTS_DIR, ensure_client

CODEX_BIN = CLIENTS_DIR / "node_modules" / ".bin" / "codex"
KEY_VARIABLE = "AXONHUB_KEY"


def ensure_codex() -> Path:
    return ensure_client(CODEX_BIN, "Codex")


def config_toml(base_url: str, model: str) -> str:
    """What a user puts in ~/.codex/config.toml to use AxonHub, plus the settings that keep a test offline."""
    return f"""\
model = "{model}"
model_provider = "axonhub"
check_for_update_on_startup = false

[model_providers.axonhub]
name = "AxonHub"
base_url = "{base_url}"
env_key = "{KEY_VARIABLE}"
wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
"""


@dataclass
class CodexRun:
    returncode: int
    events: list[dict[str, Any]]  # `--json` events
    last_message: str
    stderr: str

    @property
    def session_id(self) -> str | None:
        return next((e.get("thread_id") for e in self.events if e.get("type") == "thread.started"), None)


async def run_codex(
    prompt: str,
    *,
    base_url: str,
    key: str,
    home: Path,
    cwd: Path,
    model: str = "gpt-6.1-sol",
    sandbox: str = "read-only",
    timeout: float = 120,
) -> CodexRun:
    """`codex exec PROMPT --json`, awaited without blocking the gateway's loop."""
    binary = ensure_codex()
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(config_toml(base_url, model))
    last = home / "last-message.txt"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        KEY_VARIABLE: key,
        # Nothing but the gateway is reachable: every other host goes to a dead loopback proxy.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "exec",
        "--skip-git-repo-check",
        "--ephemeral",
        "--json",
        "-s",
        sandbox,
        "-o",
        str(last),
        prompt,
        cwd=str(cwd),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    events = []
    for line in out.decode().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    message = last.read_text() if last.exists() else ""
    return CodexRun(process.returncode or 0, events, message, err.decode())
