"""The dashboard test harness: a gateway with the dashboard, its admin token, and the replay rig (an
Anthropic fake for the `passthrough` profile, a DeepSeek-type fake for `cheap`, Claude Code traffic)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import SECRET, Gateway, GatewayFactory, write_config
from tests.fakes import anthropic as wire
from tests.fakes import openai as oai
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform import claude_code_requests as cc

PRICING = {
    "deepseek-chat": {"input": 0.27, "output": 1.10, "cache_read": 0.07},
    "claude-opus-4-8": {"input": 15, "output": 75, "cache_read": 1.5, "cache_write": 18.75},
}


@dataclass
class Dash:
    gateway: Gateway
    token: str
    config: dict[str, Any]
    config_path: Path

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", self.admin)
        async with aiohttp.ClientSession() as http, http.get(self.url + path, headers=headers, **kwargs) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body

    def rewrite(self, **changes: Any) -> None:
        self.config.update(changes)
        write_config(self.config_path, self.config)


async def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def start_dash(
    start_gateway: GatewayFactory, tmp_path: Path, config: dict[str, Any], *, watch: bool = False
) -> Dash:
    gateway = await start_gateway(config, watch=watch)
    dash = Dash(gateway, (tmp_path / "axonhub-admin.token").read_text().strip(), config, tmp_path / "axonhub.yml")

    async def ready() -> bool:
        status, body = await dash.get("/dashboard/api/status")
        return status == 200 and body["index"]["state"] == "ready"

    await wait_for(ready)
    return dash


RECORDED_CALL = {"command": "ls", "description": "List the files"}
REPLAYED_CALL = {"command": "ls -la"}
RECORDED_USAGE = {
    "input_tokens": 1200,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 5000,
    "output_tokens": 40,
}


def tool_use_message(text: str = "Running it.", call_id: str = "toolu_01") -> dict[str, Any]:
    return wire.message(
        [{"type": "text", "text": text}, {"type": "tool_use", "id": call_id, "name": "Bash", "input": RECORDED_CALL}],
        model="claude-opus-4-8",
        stop_reason="tool_use",
        usage=RECORDED_USAGE,
    )


def cheap_answer(body: dict[str, Any]) -> Reply:
    return oai.answer(body, "Listing.", calls=[oai.call("call_1", "Bash", REPLAYED_CALL)])


@dataclass
class ReplayRig:
    dash: Dash
    anthropic: FakeUpstream
    deepseek: oai.ChatModel
    trace: Path

    async def claude_code(self, body: dict[str, Any]) -> str:
        """Send one Claude Code request (streamed, its headers) and read the answer whole."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.dash.url + "/v1/messages?beta=true", json=body, headers=cc.headers(SECRET)) as response,
        ):
            assert response.status == 200, await response.text()
            await response.read()
            return response.headers["request-id"]

    async def indexed(self, request_id: str) -> dict[str, Any]:
        async def found() -> bool:
            return (await self.dash.get(f"/dashboard/api/requests/{request_id}"))[0] == 200

        await wait_for(found)
        return (await self.dash.get(f"/dashboard/api/requests/{request_id}"))[1]

    async def replay(self, **asked: Any) -> tuple[int, list[dict[str, Any]]]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.dash.url + "/dashboard/api/replay", json=asked, headers=self.dash.admin) as response,
        ):
            if response.status != 200:
                return response.status, [await response.json()]
            assert response.content_type == "application/x-ndjson"
            return 200, [json.loads(line) async for line in response.content if line.strip()]
