"""The trace log and /metrics of a running gateway: load, redaction, rotation and a log rotator."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from axonhub.log import configure_logging
from axonhub.trace import TRACE_WRITER, ReadStats, iter_records, trace_files
from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes import anthropic as wire

UPSTREAM_KEY = "sk-ant-upstream-secret-key-000"  # set by the conftest's upstream_key fixture
SESSIONS = [f"0000000{i}-aaaa-4bbb-8ccc-dddddddddddd" for i in range(10)]
ECHO_FAIL = "PLEASE FAIL"


class EchoUpstream:
    """An Anthropic upstream that streams when asked to and answers JSON otherwise.

    A prompt containing `PLEASE FAIL` gets a 401 whose message echoes the credential it was sent,
    as some upstreams do.
    """

    def __init__(self, answer: str = "Hello from the echo upstream.") -> None:
        self.answer = answer
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if ECHO_FAIL in json.dumps(body):
            error = wire.error("authentication_error", f"invalid x-api-key {request.headers['x-api-key']}")
            return web.json_response(error, status=401)
        message = wire.message([{"type": "text", "text": self.answer}])
        if not body.get("stream"):
            return web.json_response(message)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in wire.stream_events(message):
            await response.write(chunk)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture
async def echo() -> AsyncIterator[EchoUpstream]:
    upstream = EchoUpstream()
    app = web.Application()
    app.router.add_post("/v1/{tail:.*}", upstream.handle)
    upstream.server = TestServer(app, host="127.0.0.1")
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


async def traced_gateway(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path, **trace: Any
) -> tuple[Gateway, Path]:
    path = tmp_path / "trace.jsonl"
    config = base_config(echo.url, path)
    config["server"]["trace"].update(trace)
    return await start_gateway(config), path


def anthropic_headers(request_id: str, session: str | None = None) -> dict[str, str]:
    headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01", "x-request-id": request_id}
    if session:
        headers["X-Claude-Code-Session-Id"] = session
    return headers


def message_body(stream: bool, text: str = "hi") -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    }


async def send(http: aiohttp.ClientSession, gateway: Gateway, request_id: str, *, stream: bool) -> None:
    headers = anthropic_headers(request_id, SESSIONS[int(request_id.rsplit("-", 1)[1]) % 10])
    async with http.post(gateway.url + "/v1/messages", json=message_body(stream), headers=headers) as response:
        data = await response.read()
        assert response.status == 200, data
        assert (b"message_stop" in data) if stream else (json.loads(data)["type"] == "message")


async def send_many(gateway: Gateway, numbers: range) -> list[str]:
    ids = [f"load-{n:04d}" for n in numbers]
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(send(http, gateway, rid, stream=int(rid[5:]) % 2 == 0) for rid in ids))
    return ids


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def summary(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("trace_id", "trace_source", "kind", "key", "project", "channel", "requested_model", "status", "stream")
    return {name: record[name] for name in keep} | {"usage": record["usage"], "error": record["error"]}


async def test_500_concurrent_requests_half_streaming_give_exactly_500_complete_lines(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path)
    ids = await send_many(gateway, range(500))
    await gateway.server.close()  # the writer flushes on shutdown

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    assert len(records) == 500
    assert sorted(r["request_id"] for r in records) == ids
    for record in records:
        n = int(record["request_id"][5:])
        assert summary(record) == {
            "trace_id": SESSIONS[n % 10],
            "trace_source": "claude_code_header",
            "kind": "messages",
            "key": "alice",
            "project": "demo",
            "channel": "fake-anthropic",
            "requested_model": "claude-sonnet-4-5",
            "status": 200,
            "stream": n % 2 == 0,
            "usage": {"input": 12, "output": 7, "cache_read": 0, "cache_write": 0, "reasoning": 0},
            "error": None,
        }
        assert record["timings"]["total_ms"] >= record["timings"]["upstream_ms"] > 0


# ---------------------------------------------------------------------------------------------
# Redaction, end to end
# ---------------------------------------------------------------------------------------------

AH_OTHER = "ah-live-ffffffffffffffffffffffffffffffff"
SK_PROJ = "sk-proj-0000111122223333444455556666"
SK_ANT = "sk-ant-api03-9999888877776666555544443333"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
OPAQUE = {name: f"opaque-{name}-value-0123456789" for name in ("api", "goog", "cookie", "proxy", "token", "body")}
SECRETS = [SECRET, UPSTREAM_KEY, AH_OTHER, SK_PROJ, SK_ANT, BEARER, *OPAQUE.values()]


def secret_headers(request_id: str) -> dict[str, str]:
    return {
        **anthropic_headers(request_id),
        "Authorization": f"Bearer {SECRET}",
        "api-key": OPAQUE["api"],
        "x-goog-api-key": OPAQUE["goog"],
        "Cookie": f"session={OPAQUE['cookie']}",
        "Proxy-Authorization": f"Basic {OPAQUE['proxy']}",
        "X-Upstream-Token": OPAQUE["token"],
        "X-Note": f"also {SK_PROJ}",
    }


def secret_body(text: str) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "system": [{"type": "text", "text": f"Deploy with {SK_ANT}"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"{text}: {AH_OTHER} and Bearer {BEARER}"}]}
        ],
        "metadata": {"user_id": "u-1", "api_key": OPAQUE["body"]},
        "tools": [
            {
                "name": "deploy",
                "description": f"uses {SK_PROJ}",
                "input_schema": {"type": "object", "properties": {"password": {"type": "string", "default": SECRET}}},
            }
        ],
    }


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    structlog.configure(cache_logger_on_first_use=False)  # later tests must not keep this stream
    yield buffer
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


async def test_no_secret_reaches_the_trace_or_the_log(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path, log_output: io.StringIO
) -> None:
    echo.answer = f"I will not repeat {SK_ANT}"
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path, bodies="all")
    async with aiohttp.ClientSession() as http:
        for request_id, text, status in (("sec-ok", "deploy", 200), ("sec-fail", ECHO_FAIL, 502)):
            url = gateway.url + "/anthropic/v1/messages"
            async with http.post(url, json=secret_body(text), headers=secret_headers(request_id)) as response:
                assert response.status == status, await response.text()
    await gateway.server.close()

    trace_text, log_text = path.read_text(), log_output.getvalue()
    assert [s for s in SECRETS if s in trace_text] == []
    assert [s for s in SECRETS if s in log_text] == []
    ok, failed = (json.loads(line) for line in trace_text.splitlines())
    assert ok["request_body"] == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "Deploy with [redacted]"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "deploy: [redacted] and [redacted]"}]}],
        "metadata": {"user_id": "u-1", "api_key": "[redacted]"},
        "tools": [
            {
                "name": "deploy",
                "description": "uses [redacted]",
                "input_schema": {"type": "object", "properties": {"password": "[redacted]"}},
            }
        ],
    }
    assert ok["response_body"]["content"] == [{"type": "text", "text": "I will not repeat [redacted]"}]
    assert failed["status"] == 502  # the channel's key was refused: a gateway-side fault
    assert failed["error"]["message"] == (
        "[fake-anthropic] the upstream rejected this channel's credentials with HTTP 401: "
        "invalid x-api-key [redacted]; check the key in FAKE_ANTHROPIC_KEY"
    )
    logged_ids = [json.loads(line).get("request_id") for line in log_text.splitlines()]
    assert "sec-fail" in logged_ids  # the log was captured, not just empty


# ---------------------------------------------------------------------------------------------
# Rotation and a log rotator while serving
# ---------------------------------------------------------------------------------------------


async def test_a_request_id_a_client_sent_is_redacted_and_one_the_gateway_minted_is_written_as_it_is(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path, log_output: io.StringIO
) -> None:
    """The gateway's own ids skip redaction (nothing a client sent is in them); a client's id is text
    like any other: a key in it is hidden in the trace and the log, though the client gets its id back."""
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path)
    theirs = f"id-{SK_ANT}"
    async with aiohttp.ClientSession() as http:
        url = gateway.url + "/v1/messages"
        async with http.post(url, json=message_body(False), headers=anthropic_headers(theirs)) as response:
            assert response.status == 200 and response.headers["x-request-id"] == theirs
        headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
        async with http.post(url, json=message_body(False), headers=headers) as response:
            assert response.status == 200
            ours = response.headers["x-request-id"]
    await gateway.server.close()
    assert re.fullmatch(r"req_[0-9a-f]{24}", ours)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["request_id"], r["trace_id"]) for r in records] == [
        ("id-[redacted]", "id-[redacted]"),
        (ours, ours),
    ]
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert [line["request_id"] for line in lines if line["event"] == "request"] == ["id-[redacted]", ours]
    assert SK_ANT not in path.read_text() and SK_ANT not in log_output.getvalue()


async def test_rotation_while_serving_loses_no_record(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path, max_bytes=4000, keep=1000)
    ids = await send_many(gateway, range(300))
    await gateway.server.close()

    stats = ReadStats()
    assert sorted(r["request_id"] for r in iter_records(path, stats=stats)) == ids
    assert stats.damaged == 0
    assert len(trace_files(path)) > 20


async def test_a_log_rotator_deleting_the_file_while_serving_loses_no_later_record(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path)
    writer = gateway.server.app[TRACE_WRITER]
    await send_many(gateway, range(100))
    await until(lambda: writer.written == 100)
    path.unlink()
    later = await send_many(gateway, range(100, 200))
    await gateway.server.close()
    assert sorted(json.loads(line)["request_id"] for line in path.read_text().splitlines()) == later
    assert writer.dropped == 0


async def test_a_log_rotator_moving_the_file_mid_load_loses_no_record(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    gateway, path = await traced_gateway(start_gateway, echo, tmp_path)
    writer = gateway.server.app[TRACE_WRITER]
    moved = tmp_path / "trace.jsonl-20260501"

    async def rotate() -> None:
        await until(lambda: writer.written >= 100)
        path.rename(moved)

    ids, _ = await asyncio.gather(send_many(gateway, range(300)), rotate())
    await gateway.server.close()
    before = [json.loads(line)["request_id"] for line in moved.read_text().splitlines()]
    after = [json.loads(line)["request_id"] for line in path.read_text().splitlines()]
    assert sorted(before + after) == ids
    assert len(before) >= 100 and len(after) > 0


async def test_an_unwritable_trace_path_never_breaks_serving(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = base_config(echo.url, blocker / "trace.jsonl")
    gateway = await start_gateway(config)
    await send_many(gateway, range(20))
    writer = gateway.server.app[TRACE_WRITER]
    await until(lambda: writer.dropped == 20)
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/metrics") as response:
        text = await response.text()
    assert "axonhub_trace_dropped_records_total 20.0" in text


# ---------------------------------------------------------------------------------------------
# /metrics
# ---------------------------------------------------------------------------------------------


async def test_metrics_count_what_the_gateway_served_without_a_key(
    start_gateway: GatewayFactory, echo: EchoUpstream, tmp_path: Path
) -> None:
    gateway, _ = await traced_gateway(start_gateway, echo, tmp_path)
    await send_many(gateway, range(10))
    writer = gateway.server.app[TRACE_WRITER]
    await until(lambda: writer.written == 10)
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        lines = set((await response.text()).splitlines())
    where = 'channel="fake-anthropic",kind="messages",model="claude-sonnet-4-5"'
    tokens = 'channel="fake-anthropic",model="claude-sonnet-4-5"'
    expected = {
        f'axonhub_requests_total{{{where},status="200"}} 10.0',
        f'axonhub_tokens_total{{{tokens},type="input"}} 120.0',
        f'axonhub_tokens_total{{{tokens},type="output"}} 70.0',
        f'axonhub_request_duration_seconds_count{{{tokens},status_class="2xx"}} 10.0',
        "axonhub_inflight_streams 0.0",
        "axonhub_trace_records_total 10.0",
        "axonhub_trace_dropped_records_total 0.0",
    }
    assert expected <= lines, expected - lines
    assert not any(line.startswith("axonhub_errors_total{") for line in lines)
