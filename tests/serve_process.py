"""`axonhub serve` as a real subprocess: started on a free port, awaited on /health, its log kept.

The log (stderr, JSON lines) goes to a file, so a test can read every byte the server wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_bytes(self) -> bytes:
        return self.log_path.read_bytes()

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        lines = self.log_bytes().decode("utf-8", "replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    async def wait_for_event(self, event: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The log lines named `event`, once there are at least `count` of them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [e for e in self.events() if e.get("event") == event]
            if len(found) >= count:
                return found
            assert self.process.poll() is None, self.log_bytes().decode("utf-8", "replace")
            assert asyncio.get_running_loop().time() < deadline, f"no {count}x {event!r} in the log in time"
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.process.wait, 20)


async def start_serve(config: Path, log_path: Path, env: Mapping[str, str] | None = None) -> ServeProcess:
    """Run `axonhub serve --config CONFIG` on a free port and wait until /health answers."""
    port = free_port()
    command = [sys.executable, "-m", "axonhub", "serve", "--config", str(config), "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant; it runs beside the test
            [*command, "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
    served = ServeProcess(process, port, log_path)
    deadline = asyncio.get_running_loop().time() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.poll() is None, served.log_bytes().decode("utf-8", "replace")
            try:
                async with session.get(served.url + "/health", timeout=aiohttp.ClientTimeout(total=1)) as response:
                    if response.status == 200:
                        return served
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert asyncio.get_running_loop().time() < deadline, "axonhub serve did not become healthy"
            await asyncio.sleep(0.1)
