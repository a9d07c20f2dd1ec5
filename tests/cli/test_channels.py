"""`axonhub channels list|show|test`: what each channel serves, its state and cool-down as the running
gateway sees them, and one live request to its upstream (fake upstreams on loopback)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner, Result

from axonhub.cli import main
from axonhub.dashboard.app import DASHBOARD
from tests.conftest import SECRET, Gateway, GatewayFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes import openai as oai
from tests.fakes.upstream import FakeUpstream, Reply
from tests.processes import free_port

UPSTREAM_KEY = "sk-ant-upstream-secret-key-000"  # tests/conftest.py's FAKE_ANTHROPIC_KEY


def channels_config(upstream_url: str, trace: Path, port: int) -> dict[str, Any]:
    data = base_config(upstream_url, trace)
    data["server"]["port"] = port
    # the CLI runs in this process beside the gateway: the dashboard's index logs would mix into its output
    data["server"]["dashboard"] = {"enabled": False}
    data["channels"].append(
        {
            "name": "deepseek",
            "type": "deepseek",
            "base_url": upstream_url,
            "api_key": "${FAKE_DEEPSEEK_KEY}",
            "models": ["deepseek-chat", "deepseek-reasoner"],
            "priority": 1,
        }
    )
    data["profiles"]["cheap"] = {"rules": [{"regex": "claude-.*haiku.*", "model": "deepseek-chat"}]}
    return data


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["channels", *args, "--config", str(config)], env=env)


async def cli_async(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The CLI off the event loop, so the in-process gateway and fakes keep answering it."""
    return await asyncio.to_thread(cli, config, *args, env=env)


def test_list_without_a_gateway_shows_this_shells_view(tmp_path: Path, upstream_key: str) -> None:
    port = free_port()
    config = write_config(tmp_path / "axonhub.yml", channels_config("http://127.0.0.1:9", tmp_path / "t.jsonl", port))
    result = cli(config, "list")
    assert result.exit_code == 0
    assert result.stdout == (
        "NAME            TYPE       STATE        PRIORITY  MODELS\n"
        "fake-anthropic  anthropic  available    0         /claude-.*/\n"
        "deepseek        deepseek   unavailable  1         deepseek-chat, deepseek-reasoner\n"
    )
    assert result.stderr == (
        "deepseek: channel 'deepseek' is unavailable: environment variable FAKE_DEEPSEEK_KEY is not set; "
        "set it and restart AxonHub\n"
        f"(state as seen by this shell's environment (no gateway answers at http://127.0.0.1:{port}; "
        "cool-downs unknown))\n"
    )


async def gateway_after_one_request(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, status: int, admin: bool = False
) -> tuple[Gateway, Path]:
    """A gateway that served one Claude request (answered with `status`), and a CLI config that asks
    it; `admin`: with its dashboard, which carries the admin API."""
    served = channels_config(upstream.url, tmp_path / "t.jsonl", 9)
    if admin:
        served["server"]["dashboard"] = {"enabled": True}
    gateway = await start_gateway(served)
    config = write_config(tmp_path / "cli.yml", {**served, "server": {**served["server"], "port": gateway.server.port}})
    assert await ask_claude(gateway) == status
    return gateway, config


async def ask_claude(gateway: Gateway) -> int:
    body = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
        async with http.post(gateway.url + "/anthropic/v1/messages", json=body, headers=headers) as response:
            return response.status


async def test_list_and_show_report_the_running_gateways_cool_down(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.error("overloaded_error", "busy"), status=529)
    gateway, config = await gateway_after_one_request(start_gateway, upstream, tmp_path, 529)
    listed = json.loads((await cli_async(config, "list", "--json")).stdout)
    assert listed["source"] == f"the gateway at http://127.0.0.1:{gateway.server.port}"
    anthropic, deepseek = listed["channels"]
    assert (anthropic["failures"], anthropic["state"].startswith("cooling down"), 0 < anthropic["cooldown_s"] <= 2) == (
        1,
        True,
        True,
    )
    # the gateway's view: FAKE_DEEPSEEK_KEY is not set where it runs either
    assert (deepseek["state"], deepseek["failures"], deepseek["cooldown_s"]) == ("unavailable", 0, 0.0)
    shown = (await cli_async(config, "show", "deepseek")).stdout.splitlines()
    assert shown == [
        "channel    deepseek (deepseek)",
        f"base url   {upstream.url}",
        "key        ${FAKE_DEEPSEEK_KEY}",
        "models     deepseek-chat, deepseek-reasoner",
        "priority   1 (weight 1)",
        "state      unavailable: channel 'deepseek' is unavailable: environment variable FAKE_DEEPSEEK_KEY is not "
        "set; set it and restart AxonHub",
        f"seen by    the gateway at http://127.0.0.1:{gateway.server.port}",
        "routed by  profiles.cheap rule 1: regex claude-.*haiku.* -> deepseek-chat",
    ]


async def test_test_sends_one_request_as_the_gateway_would_and_reads_the_answer(
    upstream: FakeUpstream, tmp_path: Path, upstream_key: str
) -> None:
    config = write_config(tmp_path / "axonhub.yml", channels_config(upstream.url, tmp_path / "t.jsonl", free_port()))
    upstream.enqueue(Reply.json(wire.message([{"type": "text", "text": "pong"}])))
    result = await cli_async(config, "test", "fake-anthropic", "--model", "claude-haiku-4-5")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fake-anthropic: ok, HTTP 200 in ") and lines[0].endswith(
        f"from {upstream.url}/v1/messages"
    )
    assert lines[1] == "claude-haiku-4-5 answered 'pong', in 12 out 7 tokens"
    sent = upstream.requests[0]
    assert (sent.path, sent.headers["x-api-key"], sent.json()) == (
        "/v1/messages",
        UPSTREAM_KEY,
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": "Reply with the single word: pong"}],
        },
    )

    upstream.enqueue(Reply.json(oai.completion("pong", model="deepseek-chat")))
    deepseek = await cli_async(config, "test", "deepseek", "--json", env={"FAKE_DEEPSEEK_KEY": "sk-ds-test"})
    data = json.loads(deepseek.stdout)
    assert (data["ok"], data["upstream_model"], data["answer"], data["url"]) == (
        True,
        "deepseek-chat",
        "pong",
        f"{upstream.url}/chat/completions",
    )
    translated = upstream.requests[1]
    assert (translated.path, translated.headers["Authorization"]) == ("/chat/completions", "Bearer sk-ds-test")
    assert translated.json()["messages"] == [{"role": "user", "content": "Reply with the single word: pong"}]


async def test_a_failing_or_unusable_channel_is_one_clear_line_and_exit_1(
    upstream: FakeUpstream, tmp_path: Path, upstream_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "axonhub.yml", channels_config(upstream.url, tmp_path / "t.jsonl", free_port()))
    upstream.enqueue(Reply.json(wire.error("authentication_error", "invalid x-api-key"), status=401))
    refused = await cli_async(config, "test", "fake-anthropic", "--model", "claude-haiku-4-5")
    assert refused.exit_code == 1
    assert "fake-anthropic: failed in " in refused.stderr
    assert "invalid x-api-key" in refused.stderr
    monkeypatch.delenv("FAKE_DEEPSEEK_KEY", raising=False)
    unset = await cli_async(config, "test", "deepseek")
    assert (unset.exit_code, unset.stderr) == (
        1,
        "Error: cannot test from here: channel 'deepseek' is unavailable: environment variable FAKE_DEEPSEEK_KEY "
        "is not set; set it and restart AxonHub (in this shell)\n",
    )
    patterns_only = await cli_async(config, "test", "fake-anthropic")
    assert patterns_only.stderr == (
        "Error: channel 'fake-anthropic' serves models by pattern only; name one with --model MODEL\n"
    )
    assert (await cli_async(config, "test", "nope")).stderr == (
        "Error: no channel named 'nope' (channels: fake-anthropic, deepseek)\n"
    )


async def test_list_and_show_report_a_channel_skipped_for_an_exhausted_quota(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The gateway skips a channel whose provider quota is out until its reset: `list` and `show` must
    not call it available meanwhile (every request for its models gets a 429)."""
    quota = wire.error("rate_limit_error", "Usage limit reached for 5 hour. Please try again later.")
    upstream.enqueue(Reply.json(quota, status=429, headers={"retry-after": "18000"}))
    _, config = await gateway_after_one_request(start_gateway, upstream, tmp_path, 429)
    until = json.loads((await cli_async(config, "list", "--json")).stdout)["channels"][0]
    assert until["state"].startswith("quota exhausted until 20") and until["quota_exhausted_until"]
    listed = (await cli_async(config, "list")).stdout.splitlines()
    assert listed[1].split()[2:4] == ["quota", "exhausted"]
    shown = (await cli_async(config, "show", "fake-anthropic")).stdout.splitlines()
    assert shown[5] == f"state      quota exhausted until {until['quota_exhausted_until']}"


async def cli_process(config: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    """The CLI as a process of its own, whose stdout no in-process gateway's log shares (for --json)."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "axonhub", "channels", *args, "--config", str(config)),
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out


def own_lines(output: str, *starts: str) -> list[str]:
    """The CLI's own lines of `output`: those that start with one of `starts`."""
    return [line for line in output.splitlines() if line.startswith(starts)]


async def test_reset_makes_the_gateway_try_a_channel_it_skipped_for_a_spent_quota(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    quota = wire.error("rate_limit_error", "Usage limit reached for 5 hour. Please try again later.")
    upstream.enqueue(Reply.json(quota, status=429, headers={"retry-after": "18000"}))
    gateway, config = await gateway_after_one_request(start_gateway, upstream, tmp_path, 429, admin=True)
    admin = {"AXONHUB_ADMIN_TOKEN": gateway.server.app[DASHBOARD].access.token}
    assert await ask_claude(gateway) == 429  # skipped: the upstream is not asked again
    assert len(upstream.requests) == 1

    done = await cli_async(config, "reset", "fake-anthropic", env=admin)
    assert done.exit_code == 0, done.output
    [said] = own_lines(done.stdout, "channel ")  # the in-process gateway's log lines share stdout here
    assert said.startswith("channel 'fake-anthropic': cleared its quota mark (exhausted until 20")
    assert said.endswith("; the next request tries it")
    state = json.loads(await cli_process(config, "list", "--json"))["channels"][0]["state"]
    assert state == "available"
    upstream.default = Reply.json(wire.message())
    assert await ask_claude(gateway) == 200
    assert len(upstream.requests) == 2

    assert json.loads(await cli_process(config, "reset", "fake-anthropic", "--json", env=admin)) == {
        "channel": "fake-anthropic",
        "was_cooling_down_s": 0.0,
        "was_quota_exhausted_until": None,
        "shared_state_cleared": True,
    }


async def test_reset_refuses_with_one_line(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message())
    _, config = await gateway_after_one_request(start_gateway, upstream, tmp_path, 200, admin=True)
    wrong = await cli_async(config, "reset", "fake-anthropic", env={"AXONHUB_ADMIN_TOKEN": "not-the-token"})
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("Error: reset refused (401)")
    assert len(wrong.stderr.strip().splitlines()) == 1
    unknown = await cli_async(config, "reset", "nope", env={"AXONHUB_ADMIN_TOKEN": "x"})
    assert unknown.exit_code != 0 and "nope" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    down = write_config(tmp_path / "down.yml", channels_config(upstream.url, tmp_path / "t.jsonl", free_port()))
    off = cli(down, "reset", "fake-anthropic")
    assert off.exit_code == 1 and "dashboard" in off.stderr
