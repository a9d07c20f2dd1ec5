"""One trace per Claude Code session, with the real `claude` CLI: two sessions and a `--resume`.

Claude Code cannot be told to leave out `X-Claude-Code-Session-Id`, so the "header absent" case
puts a test-only loopback proxy between Claude Code and the gateway that strips that one header;
the gateway then has only the session inside `metadata.user_id`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from axonhub.trace import TRACE_WRITER, TraceWriter
from tests.claude_code import ClaudeRun, run_claude
from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]

SESSION_HEADER = "X-Claude-Code-Session-Id"
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "keep-alive"}


class HeaderStrippingProxy:
    """Forwards everything to the gateway without `X-Claude-Code-Session-Id`; notes that it saw it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.stripped: list[str] = []
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        session = headers.pop(SESSION_HEADER, None) or headers.pop(SESSION_HEADER.lower(), None)
        if session:
            self.stripped.append(session)
        url = self.target + request.rel_url.path_qs
        async with self.http.request(request.method, url, headers=headers, data=await request.read()) as upstream:
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
            response = web.StreamResponse(status=upstream.status, headers=kept)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
        if self.http is not None:
            await self.http.close()


@dataclass
class Session:
    run: ClaudeRun
    records: list[dict[str, Any]]

    @property
    def session_id(self) -> str:
        return str(self.run.result["session_id"])

    @property
    def trace_ids(self) -> set[str]:
        return {r["trace_id"] for r in self.records}

    @property
    def sources(self) -> set[str]:
        return {r["trace_source"] for r in self.records}


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class Sessions:
    """Runs `claude -p` one after another in one project, and collects each run's trace records."""

    def __init__(self, base_url: str, path: Path, writer: TraceWriter, upstream: FakeUpstream, tmp: Path) -> None:
        self.base_url, self.path, self.writer, self.upstream = base_url, path, writer, upstream
        self.home, self.project = tmp / "home", tmp / "project"
        self.project.mkdir(parents=True, exist_ok=True)
        self.seen = 0

    async def run(self, prompt: str, *args: str) -> Session:
        run = await run_claude(prompt, base_url=self.base_url, key=SECRET, home=self.home, cwd=self.project, args=args)
        assert run.returncode == 0 and run.result.get("is_error") is False, run.stderr + json.dumps(run.result)
        await until(lambda: self.writer.written == len(self.upstream.requests))
        lines = self.path.read_text().splitlines()
        records, self.seen = [json.loads(line) for line in lines[self.seen :]], len(lines)
        assert records, "the run left no trace record"
        return Session(run, records)

    async def three(self) -> tuple[Session, Session, Session]:
        first = await self.run("Say one")
        second = await self.run("Say two")
        resumed = await self.run("Say three", "--resume", first.session_id)
        return first, second, resumed


@pytest.fixture
def answering(upstream: FakeUpstream) -> FakeUpstream:
    upstream.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": "Done."}])))
    return upstream


async def gateway_with(start_gateway: GatewayFactory, upstream: FakeUpstream, tmp: Path, *, flag: bool) -> Gateway:
    config = base_config(upstream.url, tmp / "trace.jsonl")
    config["server"]["trace"]["claude_code_trace_enabled"] = flag
    return await start_gateway(config)


@pytest.fixture
async def proxy_to() -> AsyncIterator[Callable[[str], Any]]:
    proxies: list[HeaderStrippingProxy] = []

    async def start(target: str) -> HeaderStrippingProxy:
        proxy = HeaderStrippingProxy(target)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.close()


async def test_a_session_and_its_resume_share_a_trace_and_another_session_gets_its_own(
    start_gateway: GatewayFactory, answering: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await gateway_with(start_gateway, answering, tmp_path, flag=True)
    sessions = Sessions(
        gateway.url + "/anthropic", tmp_path / "trace.jsonl", gateway.server.app[TRACE_WRITER], answering, tmp_path
    )
    first, second, resumed = await sessions.three()

    assert resumed.session_id == first.session_id != second.session_id
    assert (first.trace_ids, second.trace_ids, resumed.trace_ids) == (
        {first.session_id},
        {second.session_id},
        {first.session_id},
    )
    assert first.sources | second.sources | resumed.sources == {"claude_code_header"}


async def test_without_the_header_the_session_comes_from_metadata_user_id(
    start_gateway: GatewayFactory,
    answering: FakeUpstream,
    tmp_path: Path,
    proxy_to: Callable[[str], Any],
) -> None:
    gateway = await gateway_with(start_gateway, answering, tmp_path, flag=True)
    proxy: HeaderStrippingProxy = await proxy_to(gateway.url)
    sessions = Sessions(
        proxy.url + "/anthropic", tmp_path / "trace.jsonl", gateway.server.app[TRACE_WRITER], answering, tmp_path
    )
    first, second, resumed = await sessions.three()

    assert set(proxy.stripped) == {first.session_id, second.session_id}
    assert not any(SESSION_HEADER in request.headers for request in answering.requests)
    assert resumed.session_id == first.session_id != second.session_id
    assert (first.trace_ids, second.trace_ids, resumed.trace_ids) == (
        {first.session_id},
        {second.session_id},
        {first.session_id},
    )
    assert first.sources | second.sources | resumed.sources == {"claude_code_metadata"}


async def test_with_the_flag_off_every_request_is_its_own_trace(
    start_gateway: GatewayFactory, answering: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await gateway_with(start_gateway, answering, tmp_path, flag=False)
    sessions = Sessions(
        gateway.url + "/anthropic", tmp_path / "trace.jsonl", gateway.server.app[TRACE_WRITER], answering, tmp_path
    )
    runs = await sessions.three()

    records = [record for run in runs for record in run.records]
    assert [r["trace_id"] for r in records] == [r["request_id"] for r in records]
    assert len({r["trace_id"] for r in records}) == len(records)
    assert {r["trace_source"] for r in records} == {"request"}
    assert not {run.session_id for run in runs} & {r["trace_id"] for r in records}
