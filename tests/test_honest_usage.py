"""count_tokens is an estimate, never billed usage: a session with `/context` traffic through the
server, then `usage`, `traces list` and `traces show` on its trace count only what upstreams reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner, Result

from axonhub.cli import main
from tests.conftest import SECRET, GatewayFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes import openai as oai
from tests.fakes.upstream import FakeUpstream, Reply

SESSION = "5f0c7a2e-0000-4c8e-9f10-cccccccccccc"


@pytest.fixture
async def openai_upstream() -> Any:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


async def test_a_session_with_context_traffic_counts_only_upstream_usage(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_DEEPSEEK_KEY", "sk-deepseek-0000")
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["channels"].append(
        {
            "name": "deepseek",
            "type": "deepseek",
            "base_url": openai_upstream.url,
            "api_key": "${FAKE_DEEPSEEK_KEY}",
            "models": ["deepseek-chat"],
        }
    )
    data["profiles"]["cheap"] = {"rules": [{"regex": "claude-.*haiku.*", "model": "deepseek-chat"}]}
    data["keys"][0]["active_profile"] = "cheap"
    data["pricing"] = {
        "deepseek-chat": {"input": 1.0, "output": 2.0},
        "claude-sonnet-5": {"input": 3.0, "output": 15.0},
    }
    gateway = await start_gateway(data)
    write_config(tmp_path / "axonhub.yml", data)
    upstream.enqueue(
        Reply.json({"input_tokens": 4321}),  # Anthropic's own count_tokens answer
        Reply.json(wire.message(usage={"input_tokens": 100, "output_tokens": 10})),
    )
    openai_upstream.default = Reply.json(oai.completion("hi", body_usage=oai.usage(200, 20)))
    headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01", "X-Claude-Code-Session-Id": SESSION}
    context = {"messages": [{"role": "user", "content": "foo " * 2000}], "tools": []}
    async with aiohttp.ClientSession() as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(gateway.url + path, json=body, headers=headers) as response:
                assert response.status == 200, await response.text()
                return dict(await response.json())

        # `/context`: a burst of count_tokens, answered by a local estimate on DeepSeek…
        counts = [await post("/v1/messages/count_tokens", {"model": "claude-haiku-4-5", **context}) for _ in range(3)]
        # …and by Anthropic itself on the Anthropic channel
        counts.append(await post("/v1/messages/count_tokens", {"model": "claude-sonnet-5", **context}))
        await post("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": context["messages"]})
        await post("/v1/messages", {"model": "claude-sonnet-5", "max_tokens": 50, "messages": context["messages"]})
    await gateway.server.close()

    estimate = counts[0]["input_tokens"]
    assert estimate > 1000 and counts[3] == {"input_tokens": 4321}
    traced = [json.loads(line) for line in gateway.config.server.trace.path.read_text().splitlines()]
    assert [(r["kind"], r["usage"], r.get("counted_tokens")) for r in traced] == [
        ("count_tokens", None, estimate),
        ("count_tokens", None, estimate),
        ("count_tokens", None, estimate),
        ("count_tokens", None, 4321),  # counted by Anthropic itself, relayed: the count the client got
        ("messages", {"input": 200, "output": 20, "cache_read": 0, "cache_write": 0, "reasoning": 0}, None),
        ("messages", {"input": 100, "output": 10, "cache_read": 0, "cache_write": 0, "reasoning": 0}, None),
    ]

    config = tmp_path / "axonhub.yml"
    usage = json.loads(cli(config, "usage", "--by", "channel", "--json").stdout)
    assert [
        (r["name"], r["requests"], r["tokens"]["input"], r["tokens"]["output"], r["cost_usd"]) for r in usage["rows"]
    ] == [
        ("deepseek", 1, 200, 20, 0.00024),  # 200*1 + 20*2 per million
        ("fake-anthropic", 1, 100, 10, 0.00045),  # 100*3 + 10*15 per million
    ]
    assert (usage["total"]["requests"], usage["total"]["token_counts"], usage["total"]["tokens"]["input"]) == (
        2,
        4,
        300,
    )
    table = cli(config, "usage").stdout
    assert "(4 count_tokens requests not counted: their numbers are estimates, not upstream usage)" in table
    assert "\n- " not in table  # no channel named `-` is billed

    listed = json.loads(cli(config, "traces", "list", "--json").stdout)
    assert [(t["trace_id"], t["requests"], t["token_counts"], t["tokens"]["input"]) for t in listed] == [
        (SESSION, 2, 4, 300)
    ]
    shown = cli(config, "traces", "show", SESSION[:8]).stdout.splitlines()
    assert shown[1].startswith("  2 requests, 4 token counts, 0 errors, in 300 out 30")
    assert (
        f"[count_tokens]  claude-haiku-4-5 → deepseek-chat  profile cheap rule 1  200  counted {estimate}" in shown[2]
    )


def test_old_records_with_count_tokens_in_usage_are_not_counted(tmp_path: Path) -> None:
    """Version-1 logs summed count_tokens estimates into `usage` (a channel named `-` was billed)."""

    def v1(kind: str, usage_in: int, channel: str | None, rule: int | None = 0) -> dict[str, Any]:
        return {
            "v": 1,
            "time": "2026-05-01T10:00:00.000+00:00",
            "request_id": f"req_{kind}_{usage_in}",
            "trace_id": "s1",
            "kind": kind,
            "key": "alice",
            "requested_model": "claude-sonnet-5",
            "profile": "p",
            "rule": rule,
            "resolved_model": "deepseek-chat",
            "channel": channel,
            "status": 200,
            "usage": {"input": usage_in, "output": 0, "cache_read": 0, "cache_write": 0, "reasoning": 0},
        }

    log = tmp_path / "old.jsonl"
    records = [v1("count_tokens", 40000, None), v1("count_tokens", 41000, None), v1("messages", 91000, "deepseek")]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    usage = json.loads(
        CliRunner()
        .invoke(main, ["usage", "--file", str(log), "--by", "channel", "--json"], catch_exceptions=False)
        .stdout
    )
    assert [(r["name"], r["tokens"]["input"]) for r in usage["rows"]] == [("deepseek", 91000)]
    tail = CliRunner().invoke(main, ["traces", "tail", "--file", str(log), "--json"], catch_exceptions=False).stdout
    upgraded = [json.loads(line) for line in tail.splitlines()]
    # read as version 2: rules numbered from 1, the old estimate kept as a count
    assert [(r["v"], r["rule"], r["usage"], r.get("counted_tokens")) for r in upgraded] == [
        (2, 1, None, 40000),
        (2, 1, None, 41000),
        (2, 1, records[2]["usage"], None),
    ]
