"""Fixtures for OpenAI Chat clients: a gateway with an OpenAI-compatible and an Anthropic channel.

The OpenAI channel (`fake-openai`, type `openai`) serves `gpt-4o-mini` on one fake upstream; the
Anthropic channel (`fake-anthropic`) serves `claude-*` on another. Alice's active profile maps
`fast` to `gpt-4o-mini` and `smart` to `claude-sonnet-4-5`, so a request's model name changes on
its way upstream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream

OPENAI_KEY = "sk-openai-upstream-secret-000"
PROFILE = {
    "rules": [
        {"match": "fast", "model": "gpt-4o-mini"},
        {"match": "smart", "model": "claude-sonnet-4-5"},
    ]
}
# The two base URLs an OpenAI SDK may be given.
BASE_PATHS = ("/v1", "/openai/v1")


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_OPENAI_KEY", OPENAI_KEY)
    return OPENAI_KEY


@pytest.fixture
async def openai_upstream() -> AsyncIterator[FakeUpstream]:
    """The fake OpenAI-compatible provider."""
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(
    start_gateway: GatewayFactory, upstream: FakeUpstream, openai_upstream: FakeUpstream, tmp_path: Path
) -> Gateway:
    """`upstream` is the Anthropic channel's fake, `openai_upstream` the OpenAI channel's."""
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["channels"].append(
        {
            "name": "fake-openai",
            "type": "openai",
            "base_url": openai_upstream.url + "/v1",
            "api_key": "${FAKE_OPENAI_KEY}",
            "models": ["gpt-4o-mini"],
        }
    )
    config["profiles"] = {"passthrough": PROFILE}
    return await start_gateway(config)


@pytest.fixture
async def sdk(gateway: Gateway) -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    """`sdk(base_path="/v1", api_key=SECRET)`: the official SDK on the gateway, without retries."""
    clients: list[openai.AsyncOpenAI] = []

    def make(base_path: str = "/v1", api_key: str = SECRET) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=gateway.url + base_path, api_key=api_key, max_retries=0, timeout=10)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def bearer(secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def trace_records(gateway: Gateway) -> list[dict[str, Any]]:
    """Every trace record so far; closes the gateway, which flushes the trace writer."""
    await gateway.server.close()
    path = gateway.config.server.trace.path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
