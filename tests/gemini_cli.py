"""Driving the real Gemini CLI (npm `@google/gemini-cli`, pinned in tests/clients) headless.

`gemini -p` runs as a subprocess with a fresh HOME whose settings pick API-key auth and switch off
telemetry, usage statistics and update checks; `GOOGLE_GEMINI_BASE_URL` points it at the gateway
(the CLI accepts plain http only on loopback), and a dead proxy takes anything else.

Why the settings file: with `GOOGLE_GEMINI_BASE_URL` set, Gemini CLI 0.61 guesses the auth type
"gateway" from the environment and then refuses it in headless mode ("Invalid auth method
selected"); naming `gemini-api-key` in `security.auth.selectedType` makes it send `GEMINI_API_KEY`
as `x-goog-api-key` to that base URL. `-m` names the model, which skips the CLI's model router (a
classifier request to a second model before every turn).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.claude_code import CLIENTS_DIR, ensure_client

GEMINI_BIN = CLIENTS_DIR / "node_modules" / ".bin" / "gemini"
SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    # Two attempts, not ten: a broken gateway fails the test in seconds.
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False, "maxAttempts": 2},
    "telemetry": {"enabled": False},
}


def ensure_gemini() -> Path:
    """The pinned Gemini CLI; the lock file installs it with the other clients on first use."""
    return ensure_client(GEMINI_BIN, "Gemini CLI")


@dataclass
class GeminiRun:
    returncode: int
    result: dict[str, Any]
    stderr: str


def gemini_env(base_url: str, key: str, home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GEMINI_API_KEY": key,
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "NO_COLOR": "1",
        # Nothing but the gateway is reachable: every other host goes to a dead loopback proxy.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.update(extra)
    return env


async def run_gemini(
    prompt: str,
    *,
    base_url: str,
    key: str,
    home: Path,
    cwd: Path | None = None,
    model: str = "gemini-2.5-flash",
    args: tuple[str, ...] = (),
    timeout: float = 120,
    **env: str,
) -> GeminiRun:
    """`gemini -m MODEL -p PROMPT --output-format json …`, awaited without blocking the gateway's loop."""
    binary = ensure_gemini()
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(SETTINGS))
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "-m",
        model,
        "-p",
        prompt,
        "--output-format",
        "json",
        *args,
        cwd=str(cwd or home),
        env=gemini_env(base_url, key, home, **env),
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
    start = text.find("{")
    try:
        result = json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        result = {"unparsed_stdout": text}
    return GeminiRun(process.returncode or 0, result, err.decode())
