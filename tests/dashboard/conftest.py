"""Fixtures: a gateway with the dashboard on the rotated fixture log, and the replay rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory, base_config
from tests.dashboard.harness import PRICING, Dash, ReplayRig, cheap_answer, start_dash
from tests.dashboard.records import rotated_log
from tests.fakes import openai as oai
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
async def dash(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> Dash:
    """The default gateway (one Anthropic channel on the fake upstream) on the rotated fixture log."""
    config = base_config(upstream.url, rotated_log(tmp_path), pricing=PRICING)
    return await start_dash(start_gateway, tmp_path, config)


@pytest.fixture
async def rig(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ReplayRig]:
    """A gateway recording bodies, the Anthropic fake (`passthrough`) and a DeepSeek-type fake (`cheap`)."""
    monkeypatch.setenv("FAKE_DEEPSEEK_KEY", "sk-deepseek-upstream-secret-000")
    deepseek = oai.ChatModel(cheap_answer)
    await deepseek.start()
    trace = tmp_path / "trace.jsonl"
    config = base_config(upstream.url, trace, pricing=PRICING)
    config["server"]["trace"]["bodies"] = "all"
    config["server"]["trace"]["max_body_bytes"] = 1_000_000
    config["channels"].append(
        {
            "name": "fake-deepseek",
            "type": "deepseek",
            "base_url": deepseek.url,
            "api_key": "${FAKE_DEEPSEEK_KEY}",
            "models": ["deepseek-chat"],
        }
    )
    config["profiles"]["cheap"] = {"rules": [{"regex": "claude-.*", "model": "deepseek-chat"}]}
    yield ReplayRig(await start_dash(start_gateway, tmp_path, config), upstream, deepseek, trace)
    await deepseek.close()
