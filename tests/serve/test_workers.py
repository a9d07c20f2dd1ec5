"""`axonhub serve --workers 2`: two processes on one port, both serving and both traced; traces,
usage and /metrics see both; a killed worker comes back; SIGHUP and SIGTERM reach every worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from axonhub.cli import main
from axonhub.trace import iter_records
from tests.conftest import SECRET, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.slow


@pytest.fixture
async def workers(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[GatewayProcess]:
    upstream.default = Reply.json(wire.message())
    config = write_config(tmp_path / "axonhub.yml", base_config(upstream.url, tmp_path / "trace.jsonl"))
    served = GatewayProcess(config, workers=2)
    await served.start()
    yield served
    await served.stop()


async def workers_seen(served: GatewayProcess, tries: int = 200) -> dict[int, int]:
    """worker index -> pid, from /health answered on fresh connections."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        try:
            worker = (await served.get_json("/health"))["worker"]
        except aiohttp.ClientConnectionError:  # a connection the kernel gave a worker as it died
            await asyncio.sleep(0.05)
            continue
        seen[worker["index"]] = worker["pid"]
        if len(seen) == 2:
            break
    return seen


async def send_messages(served: GatewayProcess, count: int) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection each: any worker may take it
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(count):
            async with session.post(f"{served.url}/v1/messages", json=body, headers={"x-api-key": SECRET}) as response:
                assert response.status == 200, await response.text()


def cli(*args: str) -> object:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def test_two_workers_share_the_port_and_both_serve_and_trace(workers: GatewayProcess, tmp_path: Path) -> None:
    seen = await workers_seen(workers)
    assert sorted(seen) == [1, 2]
    assert len(set(seen.values())) == 2
    await send_messages(workers, 40)
    await workers.stop()
    traced = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert len(traced) == 40  # both workers wrote to the one log, every line whole
    config = str(tmp_path / "axonhub.yml")
    usage = cli("usage", "--config", config, "--by", "key", "--json")
    assert usage["total"]["requests"] == 40  # type: ignore[index]


@contextlib.asynccontextmanager
async def sixty_messages_on_two_rotating_workers(
    tmp_path: Path, upstream: FakeUpstream, max_bytes: int
) -> AsyncIterator[GatewayProcess]:
    """`serve --workers 2` on a trace log rotated at `max_bytes`, once both workers served 60 messages
    sent four at a time; stopped on leaving."""
    upstream.default = Reply.json(wire.message())
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["server"]["trace"].update(max_bytes=max_bytes, keep=100)
    served = GatewayProcess(write_config(tmp_path / "axonhub.yml", data), workers=2)
    await served.start()
    try:
        assert sorted(await workers_seen(served)) == [1, 2]
        await asyncio.gather(*(send_messages(served, 15) for _ in range(4)))
        yield served
    finally:
        await served.stop()


async def test_two_workers_rotate_the_one_trace_log_without_losing_a_line(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    async with sixty_messages_on_two_rotating_workers(tmp_path, upstream, 4096):
        pass
    files = sorted(tmp_path.glob("trace.jsonl*"))
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert len(files) > 5  # it rotated, many times
    assert len(lines) == 60 and all(json.loads(line)["status"] == 200 for line in lines)
    assert all(f.stat().st_size <= 4096 for f in files)


async def test_metrics_on_any_worker_count_every_worker(workers: GatewayProcess) -> None:
    await send_messages(workers, 30)
    for _ in range(6):  # whichever worker answers, it shows the sum
        text = await workers.get_text("/metrics")
        total = sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "axonhub_requests_total" and sample.labels["kind"] == "messages"
        )
        assert total == 30


async def test_a_killed_worker_is_restarted(workers: GatewayProcess) -> None:
    before = await workers_seen(workers)
    os.kill(before[1], signal.SIGKILL)
    after: dict[int, int] = {}
    for _ in range(200):
        after = await workers_seen(workers, tries=20)
        if after.get(1) not in (None, before[1]):
            break
        await asyncio.sleep(0.1)
    assert after.get(1) not in (None, before[1]) and after.get(2) == before[2]
    assert any(e["event"] == "worker exited; restarting it" and e["worker"] == 1 for e in workers.events())
    await send_messages(workers, 5)


async def test_sighup_reloads_and_sigterm_stops_every_worker(workers: GatewayProcess) -> None:
    await workers_seen(workers)
    workers.signal(signal.SIGHUP)
    for _ in range(50):
        reloaded = {e.get("worker") for e in workers.events() if e["event"] == "config reloaded"}
        if reloaded == {1, 2}:
            break
        await asyncio.sleep(0.1)
    assert reloaded == {1, 2}
    assert await workers.stop() == 0
    events = workers.events()
    assert {e.get("worker") for e in events if e["event"] == "axonhub stopped"} == {1, 2, None}
    assert events[-1]["event"] == "axonhub stopped" and "worker" not in events[-1]


async def test_every_workers_dashboard_indexes_every_workers_lines_once_across_rotations(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    """Each worker's index takes its own records from its trace writer and parses the other's lines:
    both indexes hold every line of the one log, once, in file order."""
    async with sixty_messages_on_two_rotating_workers(tmp_path, upstream, 8192) as served:
        token = (tmp_path / "axonhub-admin.token").read_text().strip()

        def in_the_log() -> list[str]:
            return [str(record["request_id"]) for record in iter_records(tmp_path / "trace.jsonl")]

        for _ in range(200):  # the writers' last batches
            if len(in_the_log()) == 60:
                break
            await asyncio.sleep(0.05)
        in_order = in_the_log()
        assert len(in_order) == 60 and len(list(tmp_path.glob("trace.jsonl.*"))) > 3
        answered: dict[int, list[tuple[str, int]]] = {}
        admin = {"Authorization": f"Bearer {token}"}
        for _ in range(400):
            # one connection for both requests: the same worker answers them
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
                async with session.get(f"{served.url}/health") as response:
                    worker = (await response.json())["worker"]["index"]
                async with session.get(f"{served.url}/dashboard/api/sessions?limit=200", headers=admin) as response:
                    page = await response.json()
            rows = sorted((row["trace_id"], row["requests"]) for row in page["sessions"])
            if len(rows) == 60:
                answered[worker] = rows
            if len(answered) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(answered) == [1, 2], answered
        for rows in answered.values():
            assert rows == [(request_id, 1) for request_id in sorted(in_order)]  # each its own session, once
