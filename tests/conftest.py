"""Shared fixtures: a scripted fake upstream, configs written to a temp dir, a live gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from axonhub.config import Config, hash_secret, load_config
from axonhub.server import make_app
from tests.fakes.upstream import FakeUpstream
from tests.redis_server import RedisServer
from tests.serve_process import ServeProcess, start_serve

SECRET = "ah-test-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
OTHER_SECRET = "ah-test-other-9876543210zyxwvutsrqponmlkjihgfedcba"
DISABLED_SECRET = "ah-test-disabled-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def base_config(upstream_url: str, trace_path: Path, **overrides: Any) -> dict[str, Any]:
    """A config with one Anthropic channel on the fake upstream and three keys."""
    config: dict[str, Any] = {
        "version": 1,
        "server": {"trace": {"path": str(trace_path), "claude_code_trace_enabled": True}},
        "channels": [
            {
                "name": "fake-anthropic",
                "type": "anthropic",
                "base_url": upstream_url,
                "api_key": "${FAKE_ANTHROPIC_KEY}",
                "models": [{"regex": "claude-.*"}],
            }
        ],
        "profiles": {"passthrough": {"rules": []}},
        "keys": [
            {"name": "alice", "secret_hash": hash_secret(SECRET), "project": "demo", "active_profile": "passthrough"},
            {"name": "bob", "secret_hash": hash_secret(OTHER_SECRET)},
            {"name": "mallory", "secret_hash": hash_secret(DISABLED_SECRET), "enabled": False},
        ],
    }
    config.update(overrides)
    return config


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Gateway:
    server: TestServer
    config: Config

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ~/.config and ~/.cache: the saved key secrets, the user-level config
    and the status line's cache never touch the real ones, and no AXONHUB_* setting leaks in."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("AXONHUB_CONFIG", "AXONHUB_API_KEY", "AXONHUB_HOST", "AXONHUB_PORT", "AXONHUB_TRACE_FILE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port (skipped with the reason where none is installed)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-upstream-secret-key-000")
    return "sk-ant-upstream-secret-key-000"


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(tmp_path: Path, upstream_key: str) -> AsyncIterator[GatewayFactory]:
    """`await start_gateway(config_dict)` serves that config on a loopback port."""
    servers: list[TestServer] = []

    async def start(data: dict[str, Any], *, watch: bool = False, **app_options: Any) -> Gateway:
        config = load_config(write_config(tmp_path / "axonhub.yml", data))
        server = TestServer(make_app(config, watch=watch, **app_options), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Gateway(server, config)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    """The default gateway: one Anthropic channel on the fake upstream."""
    return await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))


ServeFactory = Callable[..., Awaitable[ServeProcess]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeFactory]:
    """`await serve(config_path, env={...})` runs a real `axonhub serve` process; its log is `.log_bytes()`."""
    started: list[ServeProcess] = []

    async def start(config: Path, env: dict[str, str] | None = None) -> ServeProcess:
        served = await start_serve(config, tmp_path / f"serve-{len(started)}.log", env)
        started.append(served)
        return served

    yield start
    for served in started:
        await served.stop()
