"""Fixtures for the transform path: a gateway whose channels are fake OpenAI-compatible upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream

DEEPSEEK_KEY = "sk-deepseek-upstream-secret-000"
BACKUP_KEY = "sk-backup-upstream-secret-000"

# The seed's example: Claude Code's big models on deepseek-reasoner, the small one on deepseek-chat.
DEEPSEEK_PROFILE = {
    "description": "Claude Code on DeepSeek",
    "rules": [
        {"regex": "claude-(opus|sonnet)-.*", "model": "deepseek-reasoner"},
        {"regex": "claude-.*haiku.*", "model": "deepseek-chat"},
    ],
}


def openai_channel(name: str, url: str, channel_type: str = "deepseek", **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "name": name,
        "type": channel_type,
        "base_url": url,
        "api_key": "${FAKE_DEEPSEEK_KEY}",
        "models": ["deepseek-chat", "deepseek-reasoner"],
    }
    return {**channel, **extra}


def transform_config(
    channels: list[dict[str, Any]], trace_path: Path, *, ping_interval: float | None = None, **profiles: Any
) -> dict[str, Any]:
    """Alice's key on the `deepseek` profile, served by `channels`."""
    config = base_config("http://127.0.0.1:9", trace_path)
    config["channels"] = channels
    config["profiles"] = {"deepseek": DEEPSEEK_PROFILE, **profiles}
    config["keys"][0]["active_profile"] = "deepseek"
    if ping_interval is not None:
        config["server"]["ping_interval"] = ping_interval
    return config


@pytest.fixture(autouse=True)
def deepseek_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_DEEPSEEK_KEY", DEEPSEEK_KEY)
    monkeypatch.setenv("FAKE_BACKUP_KEY", BACKUP_KEY)
    return DEEPSEEK_KEY


@pytest.fixture
async def deepseek(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    """The gateway with one `deepseek` channel on the fake upstream and alice on the seed's profile."""
    return await start_gateway(transform_config([openai_channel("deepseek", upstream.url)], tmp_path / "trace.jsonl"))


@pytest.fixture
async def client(deepseek: Gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The official SDK pointed at the gateway the way Claude Code is (`…/anthropic`), no retries."""
    sdk = anthropic.AsyncAnthropic(base_url=deepseek.url + "/anthropic", api_key=SECRET, max_retries=0)
    yield sdk
    await sdk.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"x-api-key": secret, "anthropic-version": "2023-06-01"}


@pytest.fixture
async def backup() -> AsyncIterator[FakeUpstream]:
    """A second fake upstream, for a second channel."""
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()
