"""`server.timeouts` is the default of every channel; a channel's own `timeouts` override it per field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import aiohttp

from tests.conftest import SECRET, GatewayFactory, base_config
from tests.errors_shape import assert_anthropic_error
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


async def ask(url: str) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{url}/v1/messages", data=json.dumps(MESSAGE), headers={"x-api-key": SECRET})
        return response, await response.read()


async def test_the_server_read_timeout_applies_to_a_channel_without_its_own(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["server"]["timeouts"] = {"read": 0.4}  # the upstream takes 2 s to send its headers
    upstream.default = dataclasses.replace(Reply.json(wire.message()), delay=2.0)
    gateway = await start_gateway(config)
    response, _ = await ask(gateway.url)
    await assert_anthropic_error(
        response, 504, "timeout_error", "[fake-anthropic] the upstream did not answer within 0.4s"
    )


async def test_a_channel_read_timeout_overrides_the_server_one_and_keeps_its_connect_default(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["server"]["timeouts"] = {"connect": 5, "read": 0.4}
    config["channels"][0]["timeouts"] = {"read": 10}
    upstream.default = dataclasses.replace(Reply.json(wire.message()), delay=1.0)
    gateway = await start_gateway(config)
    assert gateway.config.channels[0].timeouts.connect == 5
    response, body = await ask(gateway.url)
    assert response.status == 200
    assert {k: v for k, v in json.loads(body).items() if k != "id"} == {
        k: v for k, v in wire.message().items() if k != "id"
    }
