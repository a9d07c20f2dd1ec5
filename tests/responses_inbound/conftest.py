"""Fixtures for Responses clients: a gateway with an OpenAI-compatible, an Anthropic and a Responses channel.

Alice's active profile sends `chat` to `gpt-4o-mini` on the OpenAI-compatible channel (`fake-openai`),
`claude` to `claude-sonnet-4-5` on the Anthropic channel (`fake-anthropic`) and `gpt-5` to itself on the
Responses channel (`fake-responses`), each on its own fake upstream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream

CHAT, ANTHROPIC, RESPONSES = "chat", "anthropic", "responses"
OPENAI_KEY = "sk-openai-upstream-secret-000"
MODELS = {CHAT: "chat", ANTHROPIC: "claude", RESPONSES: "gpt-5"}  # what the client asks for
UPSTREAM_MODELS = {CHAT: "gpt-4o-mini", ANTHROPIC: "claude-sonnet-4-5", RESPONSES: "gpt-5"}
PROFILE = {"rules": [{"match": "chat", "model": "gpt-4o-mini"}, {"match": "claude", "model": "claude-sonnet-4-5"}]}
BASE_PATHS = ("/v1", "/openai/v1")


@dataclass
class Upstreams:
    chat: FakeUpstream
    anthropic: FakeUpstream
    responses: FakeUpstream

    def of(self, channel: str) -> FakeUpstream:
        return {CHAT: self.chat, ANTHROPIC: self.anthropic, RESPONSES: self.responses}[channel]


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_OPENAI_KEY", OPENAI_KEY)
    return OPENAI_KEY


@pytest.fixture
async def upstreams(upstream: FakeUpstream) -> AsyncIterator[Upstreams]:
    chat, responses = FakeUpstream(), FakeUpstream()
    await chat.start()
    await responses.start()
    yield Upstreams(chat, upstream, responses)
    await chat.close()
    await responses.close()


def config(upstreams: Upstreams, trace: Path, **server: Any) -> dict[str, Any]:
    data = base_config(upstreams.anthropic.url, trace)
    data["server"].update(server)
    for name, kind, url, models in (
        ("fake-openai", "openai", upstreams.chat.url + "/v1", ["gpt-4o-mini"]),
        ("fake-responses", "openai_responses", upstreams.responses.url + "/v1", ["gpt-5"]),
    ):
        data["channels"].append(
            {"name": name, "type": kind, "base_url": url, "api_key": "${FAKE_OPENAI_KEY}", "models": models}
        )
    data["profiles"] = {"passthrough": PROFILE}
    return data


@pytest.fixture
async def gateway(start_gateway: GatewayFactory, upstreams: Upstreams, tmp_path: Path) -> Gateway:
    return await start_gateway(config(upstreams, tmp_path / "trace.jsonl"))


@pytest.fixture
async def sdk(gateway: Gateway) -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    """`sdk(base_path="/v1")`: the official SDK on the gateway, without retries."""
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


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of every event of a Responses stream."""
    out = []
    for block in raw.decode().split("\n\n"):
        lines = block.strip().splitlines()
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        if name and data:
            out.append((name, json.loads(data)))
    return out
