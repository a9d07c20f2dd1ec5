"""Fixtures for Gemini both ways: a gateway with a Gemini channel, and the google-genai SDK as a client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google import genai

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream

GEMINI_KEY = "AIza-gemini-upstream-secret-000"
DEEPSEEK_KEY = "sk-deepseek-upstream-secret-000"


def gemini_channel(name: str, url: str, **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "name": name,
        "type": "gemini",
        "base_url": url,
        "api_key": "${FAKE_GEMINI_KEY}",
        "models": [{"regex": "gemini-.*"}],
    }
    return {**channel, **extra}


def deepseek_channel(name: str, url: str, **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "name": name,
        "type": "deepseek",
        "base_url": url,
        "api_key": "${FAKE_DEEPSEEK_KEY}",
        "models": ["deepseek-chat", "deepseek-reasoner"],
    }
    return {**channel, **extra}


def gemini_config(
    channels: list[dict[str, Any]], trace: Path, rules: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Alice's key on the `fleet` profile (by default: Claude names on Gemini 2.5 Flash), served by `channels`."""
    config = base_config("http://127.0.0.1:9", trace)
    config["channels"] = channels
    default = [{"regex": "claude-.*", "model": "gemini-2.5-flash"}]
    config["profiles"] = {"fleet": {"rules": default if rules is None else rules}}
    config["keys"][0]["active_profile"] = "fleet"
    return config


@pytest.fixture(autouse=True)
def upstream_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GEMINI_KEY", GEMINI_KEY)
    monkeypatch.setenv("FAKE_DEEPSEEK_KEY", DEEPSEEK_KEY)


@pytest.fixture
async def gemini_gateway(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Gateway:
    """One Gemini channel on the fake upstream; Claude model names go to gemini-2.5-flash."""
    return await start_gateway(gemini_config([gemini_channel("gemini", upstream.url)], tmp_path / "trace.jsonl"))


def genai_client(url: str, key: str = SECRET, **options: Any) -> genai.Client:
    """The google-genai SDK pointed at the gateway's /gemini base URL, without retries."""
    http_options = genai.types.HttpOptions(
        base_url=url + "/gemini", retry_options=genai.types.HttpRetryOptions(attempts=1), **options
    )
    return genai.Client(api_key=key, http_options=http_options)


@pytest.fixture
async def genai_clients() -> AsyncIterator[list[genai.Client]]:
    made: list[genai.Client] = []
    yield made
    for client in made:
        await client.aio.aclose()
        client.close()


async def traced(gateway: Gateway, count: int = 1) -> list[dict[str, Any]]:
    """The trace lines, once at least `count` are written (the writer appends from its own thread)."""
    path = gateway.config.server.trace.path
    for _ in range(200):
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} trace lines were written")
