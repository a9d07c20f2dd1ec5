"""`axonhub serve` (also with `--workers`) as a real subprocess for tests of processes, signals and ports.

Driven from async tests, so the fake upstreams in the test's own event loop keep answering while
the gateway process talks to them. Its log (JSON lines) goes to a file the test can read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    def __init__(self, config: Path, *, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.workers = workers
        self.port = free_port()
        self.env = {**os.environ, "FAKE_ANTHROPIC_KEY": "sk-ant-upstream-secret-key-000", **(env or {})}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.log_path = config.parent / f"serve-{self.port}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30) -> dict[str, Any]:
        log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "axonhub",
            "serve",
            "--config",
            str(self.config),
            "--port",
            str(self.port),
            "--log-format",
            "json",
            "--workers",
            str(self.workers),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
            env=self.env,
            cwd=REPO,
        )
        log.close()
        return await self.healthy(timeout)

    async def healthy(self, timeout: float = 30) -> dict[str, Any]:
        """/health, once it answers; with --workers, once every worker has answered it."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen: set[int] = set()
        while asyncio.get_running_loop().time() < deadline:
            assert self.process is not None and self.process.returncode is None, self.log_text()
            try:
                health = await self.get_json("/health")
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.1)
                continue
            if self.workers == 1:
                return health
            seen.add(health["worker"]["index"])
            if len(seen) == self.workers:
                return health
            await asyncio.sleep(0.02)
        raise AssertionError(f"axonhub serve did not become healthy:\n{self.log_text()}")

    async def get_json(self, path: str) -> dict[str, Any]:
        """A GET on a fresh connection (so SO_REUSEPORT may hand it to any worker)."""
        connector = aiohttp.TCPConnector(force_close=True)
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(self.url + path, timeout=timeout) as response,
        ):
            return dict(await response.json())

    async def get_text(self, path: str) -> str:
        connector = aiohttp.TCPConnector(force_close=True)
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(self.url + path, timeout=timeout) as response,
        ):
            return await response.text()

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self) -> int:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGTERM)
        try:
            return await self.wait()
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out
