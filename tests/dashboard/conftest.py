"""A gateway with the dashboard on a fixture trace log, its admin token, and helpers to call it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Gateway, GatewayFactory, base_config, write_config
from tests.dashboard.records import rotated_log
from tests.fakes.upstream import FakeUpstream

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


@pytest.fixture
async def dash(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Dash:
    """The default gateway (one Anthropic channel on the fake upstream) on the rotated fixture log."""
    config = base_config(upstream.url, rotated_log(tmp_path), pricing=PRICING)
    return await start_dash(start_gateway, tmp_path, config)
