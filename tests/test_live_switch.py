"""Live switching against a real `axonhub serve` process, driven the way a user does it.

The gateway runs as a subprocess on a temp config; the upstreams are fake Anthropic-format servers
on 127.0.0.1 that record what they get; the client is the official `anthropic` SDK; profile and key
changes are made by separate `axonhub keys …` processes or by writing the file directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from axonhub.config import load_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

REPO = Path(__file__).resolve().parents[1]
ENV = {"FAKE_DEEPSEEK_KEY": "sk-deepseek-upstream", "FAKE_KIMI_KEY": "sk-kimi-upstream"}

# DeepSeek and Moonshot both offer Anthropic-compatible endpoints, so `type: anthropic` is honest.
CONFIG = """\
# AxonHub for the live-switch tests
version: 1

server:
  host: 127.0.0.1
  trace:
    enabled: false

channels:
  - name: deepseek          # fake DeepSeek, Anthropic-compatible endpoint
    type: anthropic
    base_url: {deepseek_url}
    api_key: ${{FAKE_DEEPSEEK_KEY}}
    models: [deepseek-chat, deepseek-reasoner]
  - name: kimi              # fake Moonshot
    type: anthropic
    base_url: {kimi_url}
    api_key: ${{FAKE_KIMI_KEY}}
    models: [kimi-k2, kimi-k2-thinking]

profiles:
  deepseek:
    description: the seed's example
    rules:
      - regex: "claude-(opus|sonnet)-.*"
        model: deepseek-reasoner
      - regex: "claude-.*haiku.*"
        model: deepseek-chat
  kimi:
    description: everything on Kimi
    rules:
      - regex: "claude-(opus|sonnet)-.*"
        model: kimi-k2-thinking
      - regex: "claude-.*haiku.*"
        model: kimi-k2
  fast:
    rules:
      - regex: "claude-.*"
        model: deepseek-chat
  slow:
    rules:
      - regex: "claude-.*"
        model: deepseek-reasoner

keys: []
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def axonhub(*args: str) -> str:
    """Run `python -m axonhub ARGS` as its own process; returns stdout, fails the test on exit != 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "axonhub",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, **ENV},
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@dataclass
class Live:
    config: Path
    url: str
    process: asyncio.subprocess.Process
    log: Path
    secret: str
    deepseek: FakeUpstream
    kimi: FakeUpstream

    def client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=self.secret, max_retries=0)

    async def ask(self, model: str) -> str:
        reply = await self.client().messages.create(
            model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
        return reply.content[0].text  # type: ignore[union-attr]

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.url + "/health") as response:
            assert response.status == 200
            return dict(await response.json())

    async def serving(self, digest: str, timeout: float = 3.0) -> dict[str, Any]:
        """Wait until /health reports the config with `digest`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (health := await self.health())["config"]["digest"] != digest:
            assert asyncio.get_running_loop().time() < deadline, f"still serving {health['config']}"
            await asyncio.sleep(0.05)
        return health

    def file_digest(self) -> str:
        return load_config(self.config, env=ENV).digest

    def log_events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def models(upstream: FakeUpstream) -> list[str]:
    return [r.json()["model"] for r in upstream.requests]


async def fake(name: str) -> FakeUpstream:
    upstream = FakeUpstream()
    upstream.default = Reply.json(wire.message([{"type": "text", "text": f"hello from {name}"}]))
    await upstream.start()
    return upstream


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    deepseek, kimi = await fake("deepseek"), await fake("kimi")
    config = tmp_path / "axonhub.yml"
    config.write_text(CONFIG.format(deepseek_url=deepseek.url, kimi_url=kimi.url))
    config.chmod(0o600)
    secret = (
        await axonhub("keys", "create", "alice", "--profile", "deepseek", "--profile", "kimi", "--config", str(config))
    ).strip()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "axonhub", "serve", "--config", str(config), "--port", str(port), "--log-format", "json"),
            stdout=sink,
            stderr=sink,
            cwd=REPO,
            env={**os.environ, **ENV},
        )
    server = Live(config, f"http://127.0.0.1:{port}", process, log, secret, deepseek, kimi)
    try:
        await wait_until_up(server)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 20)
        await deepseek.close()
        await kimi.close()


async def wait_until_up(server: Live) -> None:
    for _ in range(200):
        assert server.process.returncode is None, server.log.read_text()
        try:
            await server.health()
            return
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    raise AssertionError("axonhub serve did not come up:\n" + server.log.read_text())


async def test_the_seeds_example_end_to_end(live: Live) -> None:
    """claude-sonnet-4-5 → deepseek-reasoner, claude-haiku-4-5 → deepseek-chat; then another profile
    sends both to another channel, with no restart and nothing changed on the client."""
    assert await live.ask("claude-sonnet-4-5") == "hello from deepseek"
    assert await live.ask("claude-haiku-4-5") == "hello from deepseek"
    assert models(live.deepseek) == ["deepseek-reasoner", "deepseek-chat"]
    assert live.deepseek.requests[0].headers["x-api-key"] == "sk-deepseek-upstream"

    out = await axonhub("keys", "use-profile", "alice", "kimi", "--config", str(live.config))
    assert out == "Key 'alice' now uses profile 'kimi'.\n"
    await live.serving(live.file_digest())

    assert await live.ask("claude-sonnet-4-5") == "hello from kimi"
    assert await live.ask("claude-haiku-4-5-20251001") == "hello from kimi"
    assert models(live.kimi) == ["kimi-k2-thinking", "kimi-k2"]
    assert live.kimi.requests[0].headers["x-api-key"] == "sk-kimi-upstream"
    assert models(live.deepseek) == ["deepseek-reasoner", "deepseek-chat"]  # nothing more went there
    assert live.process.returncode is None


async def test_use_profile_from_another_process_changes_the_next_requests_model(live: Live) -> None:
    await axonhub("keys", "use-profile", "alice", "fast", "--config", str(live.config))
    await live.serving(live.file_digest())
    await live.ask("claude-opus-4-8")
    await axonhub("keys", "use-profile", "alice", "slow", "--config", str(live.config))
    await live.serving(live.file_digest())
    await live.ask("claude-opus-4-8")
    await axonhub("keys", "use-profile", "alice", "fast", "--config", str(live.config))
    await live.serving(live.file_digest())
    await live.ask("claude-opus-4-8")
    assert models(live.deepseek) == ["deepseek-chat", "deepseek-reasoner", "deepseek-chat"]
    reloads = [e for e in live.log_events() if e["event"] == "config reloaded"]
    assert len(reloads) == 3
    assert live.process.returncode is None


async def test_the_switch_is_picked_up_within_a_second(live: Live) -> None:
    await live.ask("claude-opus-4-8")
    await axonhub("keys", "use-profile", "alice", "kimi", "--config", str(live.config))
    await asyncio.sleep(1.0)
    await live.ask("claude-opus-4-8")
    assert (models(live.deepseek), models(live.kimi)) == (["deepseek-reasoner"], ["kimi-k2-thinking"])


async def test_an_invalid_edit_does_not_interrupt_service(live: Live) -> None:
    good = live.file_digest()
    text = live.config.read_text()
    live.config.write_text(
        text.replace("active_profile: deepseek", "active_profile: ghost").replace("thinking]", "thinking")
    )
    await asyncio.sleep(1.2)
    assert (await live.health())["config"]["digest"] == good
    assert await live.ask("claude-sonnet-4-5") == "hello from deepseek"
    rejected = [e for e in live.log_events() if e["event"] == "config reload rejected"]
    assert len(rejected) == 1 and rejected[0]["error"].startswith("(yaml) line")
    assert rejected[0]["path"] == str(live.config)

    live.config.write_text(text.replace("active_profile: deepseek", "active_profile: ghost"))
    await asyncio.sleep(1.2)
    rejected = [e["error"] for e in live.log_events() if e["event"] == "config reload rejected"]
    assert rejected[1:] == ["keys[0].active_profile: no profile named 'ghost' (line 52)"]
    assert await live.ask("claude-haiku-4-5") == "hello from deepseek"
    assert models(live.deepseek) == ["deepseek-reasoner", "deepseek-chat"]

    live.config.write_text(text.replace("active_profile: deepseek", "active_profile: kimi"))
    await live.serving(live.file_digest())
    assert await live.ask("claude-haiku-4-5") == "hello from kimi"


async def test_sighup_reloads_at_once(live: Live) -> None:
    """An in-place edit that keeps size, inode and mtime is invisible to polling: only SIGHUP sees it."""
    before = await live.health()
    stat = live.config.stat()
    live.config.write_bytes(live.config.read_bytes().replace(b"active_profile: deepseek", b"active_profile: kimi    "))
    os.utime(live.config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert live.config.stat().st_size == stat.st_size and live.config.stat().st_ino == stat.st_ino
    await asyncio.sleep(1.2)
    assert (await live.health())["config"]["digest"] == before["config"]["digest"]

    live.process.send_signal(signal.SIGHUP)
    after = await live.serving(live.file_digest(), timeout=0.4)
    assert datetime.fromisoformat(after["config"]["loaded_at"]) >= datetime.fromisoformat(before["config"]["loaded_at"])
    assert await live.ask("claude-sonnet-4-5") == "hello from kimi"
    assert live.process.returncode is None


async def test_health_reports_the_config_digest_path_and_load_time(live: Live) -> None:
    health = await live.health()
    assert health["config"]["digest"] == live.file_digest()
    assert health["config"]["path"] == str(live.config)
    loaded = datetime.fromisoformat(health["config"]["loaded_at"])
    assert loaded.tzinfo is not None
    assert abs((datetime.now(loaded.tzinfo) - loaded).total_seconds()) < 120
