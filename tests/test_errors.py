"""Every error the gateway produces on an Anthropic route: status and the whole Anthropic error body."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import DISABLED_SECRET, SECRET, Gateway, GatewayFactory, base_config
from tests.errors_shape import assert_anthropic_error
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


async def post(url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        response = await session.post(url, data=data, headers={"x-api-key": SECRET, **(headers or {})})
        await response.read()
        return response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"x-api-key": ""},
            "missing API key: send your AxonHub key as `x-api-key` or `Authorization: Bearer` "
            "(create one with `axonhub keys create NAME`)",
        ),
        (
            {"x-api-key": "ah-not-a-real-key"},
            "invalid API key: x-api-key holds an AxonHub key unknown to this config (revoked, rotated, or from "
            "another config?)",
        ),
        (
            # the same-shell trap: the gateway's own Anthropic key exported where Claude Code runs
            {"x-api-key": "sk-ant-api03-someone-s-real-key", "Authorization": "Bearer ah-not-a-real-key"},
            "invalid API key: x-api-key holds an Anthropic API key; Authorization holds an AxonHub key unknown to "
            "this config (revoked, rotated, or from another config?);"
            " ANTHROPIC_API_KEY is the gateway's upstream key: `axonhub run claude` starts Claude Code without it",
        ),
        ({"x-api-key": DISABLED_SECRET}, "API key 'mallory' is disabled"),
        ({"x-api-key": "", "Authorization": "Basic abc"}, None),
    ],
)
async def test_a_missing_unknown_or_disabled_key_gets_401(
    gateway: Gateway, upstream: FakeUpstream, headers: dict[str, str], message: str | None
) -> None:
    response = await post(gateway.url + "/anthropic/v1/messages", MESSAGE, headers)
    expected = message or (
        "missing API key: send your AxonHub key as `x-api-key` or `Authorization: Bearer` "
        "(create one with `axonhub keys create NAME`)"
    )
    await assert_anthropic_error(response, 401, "authentication_error", expected)
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"{not json",
            "request body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (b"", "request body is empty; expected a JSON object"),
        (b"[1, 2]", "request body must be a JSON object, not list"),
        ({"max_tokens": 5, "messages": []}, "model: field required (a non-empty string)"),
        ({"model": "claude-sonnet-4-5", "messages": []}, "max_tokens: field required (a non-negative integer)"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 5}, "messages: field required (a list of messages)"),
        (
            {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user"}]},
            "messages.0: each message needs `role` and `content`",
        ),
    ],
)
async def test_malformed_requests_get_400(gateway: Gateway, upstream: FakeUpstream, body: Any, message: str) -> None:
    response = await post(gateway.url + "/anthropic/v1/messages", body)
    await assert_anthropic_error(response, 400, "invalid_request_error", message)
    assert upstream.requests == []


async def test_a_body_over_the_limit_gets_413(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = base_config(upstream.url, tmp_path / "t.jsonl")
    config["server"]["max_body_bytes"] = 2048
    gw = await start_gateway(config)
    big = {**MESSAGE, "messages": [{"role": "user", "content": "x" * 5000}]}
    response = await post(gw.url + "/v1/messages", big)
    size = len(json.dumps(big))
    await assert_anthropic_error(
        response, 413, "request_too_large", f"request body of {size} bytes is larger than the limit of 2048"
    )


async def test_an_unknown_model_gets_404(gateway: Gateway) -> None:
    response = await post(gateway.url + "/v1/messages", {**MESSAGE, "model": "gpt-9"})
    await assert_anthropic_error(
        response,
        404,
        "not_found_error",
        "model 'gpt-9' is not served by any channel (no rule of profile 'passthrough' matched it)",
    )


async def test_an_unknown_path_gets_an_anthropic_404(gateway: Gateway) -> None:
    response = await post(gateway.url + "/anthropic/v1/nope", MESSAGE)
    await assert_anthropic_error(response, 404, "not_found_error", "no route for POST /anthropic/v1/nope")


async def test_upstream_errors_come_back_with_their_status_and_body(gateway: Gateway, upstream: FakeUpstream) -> None:
    body = wire.error("invalid_request_error", "messages.0.content: text content blocks must be non-empty")
    upstream.enqueue(Reply.json(body, status=400))
    response = await post(gateway.url + "/v1/messages", MESSAGE)
    assert response.status == 400
    assert await response.json() == body


async def test_an_overloaded_upstream_is_529(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.json(wire.error("overloaded_error", "Overloaded"), status=529))
    response = await post(gateway.url + "/v1/messages", MESSAGE)
    assert response.status == 529
    assert await response.json() == wire.error("overloaded_error", "Overloaded")


async def test_a_non_json_upstream_error_becomes_anthropic_json(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply(status=502, body=[b"<html>Bad Gateway</html>"], headers={"Content-Type": "text/html"}))
    response = await post(gateway.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response, 502, "api_error", "[fake-anthropic] the upstream answered HTTP 502 (Bad Gateway)"
    )


async def test_an_unreachable_upstream_is_502(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    port = free_port()
    gw = await start_gateway(base_config(f"http://127.0.0.1:{port}", tmp_path / "t.jsonl"))
    response = await post(gw.url + "/v1/messages", MESSAGE)
    body = await response.json()
    assert response.status == 502
    assert body["error"]["type"] == "api_error"
    assert body["error"]["message"] == f"[fake-anthropic] cannot connect to the upstream at 127.0.0.1:{port}"


async def test_a_silent_upstream_times_out_with_504(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = base_config(upstream.url, tmp_path / "t.jsonl")
    config["channels"][0]["timeouts"] = {"read": 0.3}
    gw = await start_gateway(config)
    upstream.enqueue(Reply(delay=2.0, body=[b"{}"]))  # no headers for 2 s
    response = await post(gw.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response, 504, "timeout_error", "[fake-anthropic] the upstream did not answer within 0.3s"
    )
    upstream.enqueue(Reply(body=[b'{"id":', 2.0, b"1}"]))  # headers, then silence mid-body
    response = await post(gw.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response,
        504,
        "timeout_error",
        "[fake-anthropic] the upstream went silent while sending its answer (read timeout)",
    )


async def test_a_channel_whose_key_variable_is_unset_says_what_to_set(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAKE_ANTHROPIC_KEY")
    gw = await start_gateway(base_config(upstream.url, tmp_path / "t.jsonl"))
    response = await post(gw.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response,
        503,
        "api_error",
        "no channel can serve 'claude-sonnet-4-5' right now: channel 'fake-anthropic' is unavailable: "
        "its API key is not configured; environment variable FAKE_ANTHROPIC_KEY is not set; set it and restart AxonHub",
    )
    assert upstream.requests == []


async def test_a_stream_cut_by_the_upstream_ends_with_an_error_event(gateway: Gateway, upstream: FakeUpstream) -> None:
    events = wire.stream_events(wire.message())
    upstream.enqueue(Reply.sse(events[:3], reset=True))
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            gateway.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers={"x-api-key": SECRET}
        )
        text = (await response.read()).decode()
    assert response.status == 200
    assert text.startswith(b"".join(events[:3]).decode())
    tail = text[len(b"".join(events[:3]).decode()) :]
    assert tail.startswith("event: error\ndata: ")
    payload = json.loads(tail.split("data: ", 1)[1])
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "api_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("HEAD", "/"),
        ("GET", "/api/hello"),
        ("HEAD", "/anthropic/api/hello"),
        ("POST", "/api/event_logging/batch"),
        ("POST", "/anthropic/api/event_logging/batch"),
    ],
)
async def test_claude_code_probes_are_answered_quietly_and_not_traced(gateway: Gateway, method: str, path: str) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.request(method, gateway.url + path, json={"events": []})
        assert response.status == 200
    await asyncio.sleep(0.1)
    trace = gateway.config.server.trace.path
    assert not trace.exists() or path not in trace.read_text()


@pytest.mark.parametrize("status", [401, 403])
async def test_an_upstream_refusing_the_channel_key_is_a_gateway_fault_not_a_client_401(
    gateway: Gateway, upstream: FakeUpstream, status: int
) -> None:
    body = wire.error("authentication_error", "invalid x-api-key")
    upstream.enqueue(Reply.json(body, status=status))
    response = await post(gateway.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response,
        502,
        "api_error",
        f"[fake-anthropic] the upstream rejected this channel's credentials with HTTP {status}: invalid x-api-key; "
        "check the key in FAKE_ANTHROPIC_KEY",
    )


async def test_an_upstream_408_is_a_timeout_the_client_may_retry_and_a_backup_takes_over(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """An upstream's 408 says it gave up waiting for the gateway's request: a transient fault of the
    upstream, not the client's invalid request (the SDKs retry a 408 of their own)."""
    timeout = Reply(status=408, body=[b"Request Timeout"], headers={"Content-Type": "text/plain"})
    gw = await start_gateway(base_config(upstream.url, tmp_path / "t.jsonl"))
    upstream.enqueue(timeout)
    response = await post(gw.url + "/v1/messages", MESSAGE)
    await assert_anthropic_error(
        response, 504, "timeout_error", "[fake-anthropic] the upstream answered HTTP 408 (Request Timeout)"
    )
    assert response.headers["x-should-retry"] == "true"

    backup = FakeUpstream()
    await backup.start()
    try:
        config = base_config(upstream.url, tmp_path / "t2.jsonl")
        config["channels"].append({**config["channels"][0], "name": "backup", "base_url": backup.url, "priority": 1})
        gw = await start_gateway(config)
        upstream.enqueue(timeout)
        backup.enqueue(Reply.json(wire.message([{"type": "text", "text": "From backup"}])))
        response = await post(gw.url + "/v1/messages", MESSAGE)
        assert response.status == 200
        assert len(backup.requests) == 1
    finally:
        await backup.close()
