"""Real processes for CLI tests: `axonhub serve` on a free port, the CLI itself, and fake agents.

A fake agent is an executable named like the real one (`claude`, `codex`) that writes the
arguments and environment it was started with to a JSON file and exits, so a test can assert on
exactly what the launcher gave the agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.serve_process import REPO, free_port

__all__ = ["REPO", "Served", "axonhub", "base_env", "fake_agent", "free_port", "recorded", "serving"]


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A bare environment: a PATH, a fresh HOME, nothing of the test runner's own settings."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", **extra}


def axonhub(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`axonhub ARGS` as a separate process (this interpreter's package)."""
    return subprocess.run(
        [sys.executable, "-m", "axonhub", *args],
        env=dict(env),
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def wait_for_health(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("axonhub serve did not become healthy:\n" + log.read_text())


@contextlib.contextmanager
def serving(config: Path, env: Mapping[str, str], port: int | None = None) -> Iterator[Served]:
    """`axonhub serve --config CONFIG` on a free port, JSON logs to a file, stopped with SIGTERM."""
    port = port or free_port()
    log = config.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "axonhub",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=REPO,
        )
    try:
        wait_for_health(port, process, log)
        yield Served(process, port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fake_agent(directory: Path, name: str) -> Path:
    """An executable `name` in `directory` that records its argv and environment in `name`.json."""
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / f"{name}.json"
    script = directory / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'w') as out:\n"
        "    json.dump({'argv': sys.argv[1:], 'env': dict(os.environ)}, out)\n"
    )
    script.chmod(0o755)
    return record


def recorded(record: Path) -> tuple[list[str], dict[str, str]]:
    data = json.loads(record.read_text())
    return data["argv"], data["env"]
