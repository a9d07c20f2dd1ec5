"""Driving the real Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned in tests/clients) headless.

`claude -p` runs as a subprocess with a fresh HOME, pointed at the gateway on loopback, with every
non-essential request switched off and a dead proxy for anything that is not the gateway.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
CLAUDE_BIN = CLIENTS_DIR / "node_modules" / ".bin" / "claude"


def ensure_client(binary: Path, name: str) -> Path:
    """A pinned client binary of tests/clients; the clients are installed from the lock file on first use
    (by one test process at a time: the suite runs in several), and the test is skipped without npm."""
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: the real {name} client cannot be installed")
    with (CLIENTS_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():  # another test process may have installed them meanwhile
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CLIENTS_DIR)],
                check=True,
                capture_output=True,
                timeout=300,
            )
    return binary


def ensure_claude() -> Path:
    return ensure_client(CLAUDE_BIN, "Claude Code")


@dataclass
class ClaudeRun:
    returncode: int
    result: dict[str, Any]
    stderr: str


# Claude Code's offline settings: no telemetry or other outside traffic, quick to give up on errors.
QUIET = {
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    "CLAUDE_CODE_MAX_RETRIES": "2",
    # Nothing but the gateway is reachable: every other host goes to a dead loopback proxy.
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def claude_env(base_url: str, key: str, home: Path, *, auth: str = "token", **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        **QUIET,
    }
    env["ANTHROPIC_AUTH_TOKEN" if auth == "token" else "ANTHROPIC_API_KEY"] = key
    env.update(extra)
    return env


async def run_claude(
    prompt: str,
    *,
    base_url: str,
    key: str,
    home: Path,
    cwd: Path | None = None,
    args: tuple[str, ...] = (),
    auth: str = "token",
    timeout: float = 120,
    **env: str,
) -> ClaudeRun:
    """`claude -p PROMPT --output-format json …`, awaited without blocking the gateway's loop."""
    binary = ensure_claude()
    home.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "-p",
        prompt,
        "--output-format",
        "json",
        *args,
        cwd=str(cwd or home),
        env=claude_env(base_url, key, home, auth=auth, **env),
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
    text = out.decode()
    try:
        result = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    except ValueError:
        result = {"unparsed_stdout": text}
    return ClaudeRun(process.returncode or 0, result, err.decode())
