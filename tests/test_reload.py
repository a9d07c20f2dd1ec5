"""Live reload in process: the watcher, the holder, SIGHUP, and requests in flight during a swap."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest
import yaml
from structlog.testing import capture_logs

from axonhub import reload
from axonhub.config import Config, load_config
from axonhub.reload import ConfigHolder, ConfigWatcher
from tests.conftest import SECRET, GatewayFactory, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

ENV = {"FAKE_ANTHROPIC_KEY": "sk-x"}


def document(upstream_url: str, tmp_path: Path, target: str = "claude-target-a") -> dict[str, Any]:
    data = base_config(upstream_url, tmp_path / "trace.jsonl")
    data["profiles"]["remap"] = {"rules": [{"match": "claude-opus-4-8", "model": target}]}
    data["keys"][0]["active_profile"] = "remap"
    return data


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    write_config(path, data)


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path / "axonhub.yml", document("http://127.0.0.1:9", tmp_path))


def watcher_for(path: Path, interval: float = 0.05) -> tuple[ConfigHolder, ConfigWatcher]:
    holder = ConfigHolder(load_config(path, env=ENV))
    return holder, ConfigWatcher(holder, path, interval)


def target_of(config: Config) -> str:
    return config.profiles["remap"].rules[0].model


def test_swap_replaces_the_config_and_returns_the_old_one(config_file: Path) -> None:
    first = load_config(config_file)
    second = load_config(config_file)
    holder = ConfigHolder(first)
    assert holder.swap(second) is first
    assert holder.current is second


async def test_a_changed_file_is_swapped_in_within_the_poll_interval(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    task = asyncio.create_task(watcher.run())
    try:
        rewrite(config_file, lambda d: d["profiles"]["remap"]["rules"][0].update(model="claude-target-b"))
        await eventually(lambda: target_of(holder.current) == "claude-target-b")
        assert holder.current.digest == load_config(config_file).digest
    finally:
        task.cancel()


async def test_an_invalid_file_keeps_the_old_config_and_logs_each_error(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    before = holder.current

    def break_it(data: dict[str, Any]) -> None:
        data["keys"][0]["active_profile"] = "ghost"
        data["server"]["port"] = 0

    rewrite(config_file, break_it)
    with capture_logs() as logs:
        assert await watcher.check() is False
    assert holder.current is before
    assert [(e["event"], e["log_level"], e.get("error")) for e in logs] == [
        ("config reload rejected", "error", "server.port: 0 is less than the minimum of 1 (line 6)"),
        ("keeping the previous config", "warning", None),
    ]
    rewrite(config_file, lambda d: d["server"].update(port=8090))
    with capture_logs() as logs:
        assert await watcher.check() is False
    assert [e.get("error") for e in logs] == ["keys[0].active_profile: no profile named 'ghost' (line 25)", None]
    with capture_logs() as logs:
        assert await watcher.check() is False  # an unchanged broken file is reported once, not every poll
    assert logs == []


async def test_a_fixed_file_is_taken_after_a_broken_one(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    config_file.write_text("channels: [\n")
    assert await watcher.check() is False
    rewrite_target = document("http://127.0.0.1:9", config_file.parent, target="claude-target-c")
    write_config(config_file, rewrite_target)
    with capture_logs() as logs:
        assert await watcher.check() is True
    assert target_of(holder.current) == "claude-target-c"
    assert logs[0]["event"] == "config reloaded" and logs[0]["digest"] == holder.current.digest


async def test_a_touched_but_unchanged_file_is_not_swapped(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    before = holder.current
    config_file.write_bytes(config_file.read_bytes())
    os.utime(config_file, ns=(1, 1))
    assert await watcher.check() is False
    assert holder.current is before
    assert await watcher.check(forced=True) is True  # SIGHUP always reloads
    assert holder.current is not before and holder.current.digest == before.digest


async def test_a_missing_file_keeps_the_old_config(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    before = holder.current
    config_file.unlink()
    with capture_logs() as logs:
        assert await watcher.check() is False
    assert holder.current is before
    assert "config file not found" in logs[0]["error"]


async def test_a_reload_keeps_the_address_the_server_is_bound_to(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    rewrite(config_file, lambda d: d["server"].update(port=9999, host="0.0.0.0"))
    assert await watcher.check() is True
    assert (holder.current.server.host, holder.current.server.port) == ("127.0.0.1", 8090)


def client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=SECRET, max_retries=0)


async def ask(url: str, model: str = "claude-opus-4-8") -> str:
    reply = await client(url).messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    return reply.content[0].text  # type: ignore[union-attr]


async def test_the_running_app_follows_the_file(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message())
    gateway = await start_gateway(document(upstream.url, tmp_path), watch=True)
    await ask(gateway.url)
    rewrite(tmp_path / "axonhub.yml", lambda d: d["profiles"]["remap"]["rules"][0].update(model="claude-target-b"))
    await asyncio.sleep(1.2)
    await ask(gateway.url)
    assert [r.json()["model"] for r in upstream.requests] == ["claude-target-a", "claude-target-b"]


async def test_sighup_reloads_at_once(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reload, "POLL_INTERVAL", 3600.0)  # only the signal can wake the watcher
    upstream.default = Reply.json(wire.message())
    gateway = await start_gateway(document(upstream.url, tmp_path), watch=True)
    rewrite(tmp_path / "axonhub.yml", lambda d: d["profiles"]["remap"]["rules"][0].update(model="claude-target-b"))
    async with aiohttp.ClientSession() as session:
        digest = (await (await session.get(gateway.url + "/health")).json())["config"]["digest"]
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(50):
            health = await (await session.get(gateway.url + "/health")).json()
            if health["config"]["digest"] != digest:
                break
            await asyncio.sleep(0.02)
    assert health["config"]["digest"] == load_config(tmp_path / "axonhub.yml").digest != digest
    await ask(gateway.url)
    assert upstream.requests[-1].json()["model"] == "claude-target-b"


async def test_a_request_in_flight_finishes_on_the_config_it_started_with(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The swap revokes the key while a slow stream is running: the stream completes; the next call is refused."""
    msg = wire.message([{"type": "text", "text": "slow but complete"}])
    events = wire.stream_events(msg)
    upstream.enqueue(Reply.sse([*events[:3], 1.5, *events[3:]]))
    gateway = await start_gateway(document(upstream.url, tmp_path), watch=True)

    async def slow() -> str:
        async with client(gateway.url).messages.stream(
            model="claude-opus-4-8", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            return "".join([text async for text in stream.text_stream])

    task = asyncio.create_task(slow())
    await eventually(lambda: upstream.started_replies == 1)
    rewrite(tmp_path / "axonhub.yml", lambda d: d.update(keys=d["keys"][1:]))
    await asyncio.sleep(1.0)  # the watcher has swapped by now; the stream is still waiting upstream
    with pytest.raises(anthropic.AuthenticationError):
        await ask(gateway.url)
    assert await task == "slow but complete"
    assert upstream.requests[0].json()["model"] == "claude-target-a"


async def test_a_changed_trace_setting_says_it_needs_a_restart_and_the_rest_applies(config_file: Path) -> None:
    holder, watcher = watcher_for(config_file)
    before = holder.current

    def change(data: dict[str, Any]) -> None:
        data["server"]["trace"].update(bodies="all", claude_code_trace_enabled=False)
        data["profiles"]["remap"]["rules"][0]["model"] = "claude-target-b"

    rewrite(config_file, change)
    with capture_logs() as logs:
        assert await watcher.check() is True
    assert [(e["event"], e.get("setting")) for e in logs if "setting" in e] == [
        ("setting changed; it takes effect after a restart of axonhub serve", "server.trace.claude_code_trace_enabled"),
        ("setting changed; it takes effect after a restart of axonhub serve", "server.trace.bodies"),
    ]
    assert target_of(holder.current) == "claude-target-b"  # the rest of the file applies at once
    assert holder.current.server.trace == before.server.trace  # the live config says what really runs


def drop_every_key(data: dict[str, Any]) -> None:
    del data["keys"]


async def test_a_config_without_keys_is_taken_only_once_it_holds_still(config_file: Path) -> None:
    holder = ConfigHolder(load_config(config_file, env=ENV))
    watcher = ConfigWatcher(holder, config_file, 0.05, settle=0.02, keyless_settle=0.3)
    before = holder.current
    keyed = config_file.read_bytes()

    # An in-place save caught before its `keys` section: the rest of the file comes while it is held.
    rewrite(config_file, drop_every_key)
    checking = asyncio.create_task(watcher.check())
    await asyncio.sleep(0.1)
    config_file.write_bytes(keyed + b"# saved\n")
    assert await checking is False
    assert holder.current is before
    assert await watcher.check() is True
    assert [k.name for k in holder.current.keys] == [k.name for k in before.keys]

    # The last key revoked on purpose: taken once the file held still.
    rewrite(config_file, drop_every_key)
    with capture_logs() as logs:
        assert await watcher.check() is True
    assert holder.current.keys == ()
    assert [e["event"] for e in logs][:1] == [
        "the edited config has no keys and would lock every client out; taking it only if the file holds still"
    ]


async def test_sighup_takes_a_config_without_keys_at_once(config_file: Path) -> None:
    holder = ConfigHolder(load_config(config_file, env=ENV))
    watcher = ConfigWatcher(holder, config_file, 0.05, settle=0.02, keyless_settle=60)
    rewrite(config_file, drop_every_key)
    assert await asyncio.wait_for(watcher.check(forced=True), 5) is True
    assert holder.current.keys == ()
