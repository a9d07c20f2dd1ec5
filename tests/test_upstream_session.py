"""The upstream session: the environment's proxies apply (read once), an upstream's cookies never do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply


@pytest.fixture
async def proxy() -> AsyncIterator[FakeUpstream]:
    """A forward proxy stand-in: it answers proxied requests itself and records what it was asked."""
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


async def ask(url: str) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/v1/messages",
            json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": SECRET},
        ) as response,
    ):
        return response.status, await response.json()


def through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: FakeUpstream) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)


async def test_an_http_proxy_from_the_environment_carries_the_upstream_request(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    proxy: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through_proxy(monkeypatch, proxy)
    proxy.enqueue(Reply.json(wire.message([{"type": "text", "text": "via the proxy"}])))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))

    status, body = await ask(gateway.url)

    assert (status, body["content"]) == (200, [{"type": "text", "text": "via the proxy"}])
    assert upstream.requests == []
    [seen] = proxy.requests
    host = upstream.url.removeprefix("http://")
    assert (seen.method, seen.path, seen.headers["Host"]) == ("POST", "/v1/messages", host)
    assert seen.json()["model"] == "claude-sonnet-4-5"


async def ask_stream(url: str) -> tuple[int, bytes]:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/messages", json=body, headers={"x-api-key": SECRET}) as response,
    ):
        return response.status, await response.read()


async def test_a_stream_through_the_proxy_is_relayed_whole_after_its_opening_is_read(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    proxy: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiohttp's client carries proxied requests: the bytes read to judge a stream's opening are put
    back into its reader, and the client gets every event once, in order."""
    through_proxy(monkeypatch, proxy)
    events = list(wire.stream_events(wire.message([{"type": "text", "text": "via the proxy"}])))
    proxy.enqueue(Reply.sse(events))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))
    status, raw = await ask_stream(gateway.url)
    assert status == 200
    assert raw == b"".join(e for e in events if isinstance(e, bytes))


async def test_a_stream_through_the_proxy_that_opens_with_an_error_is_that_error(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    proxy: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through_proxy(monkeypatch, proxy)
    proxy.enqueue(
        Reply.sse([b"event: error\ndata: " + json.dumps(wire.error("overloaded_error", "busy")).encode() + b"\n\n"])
    )
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))
    status, raw = await ask_stream(gateway.url)
    assert status == 529
    assert json.loads(raw)["error"] == {"type": "overloaded_error", "message": "[fake-anthropic] busy"}


async def test_no_proxy_sends_the_request_straight_to_the_upstream(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    proxy: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    upstream.enqueue(Reply.json(wire.message([{"type": "text", "text": "straight"}])))
    gateway = await start_gateway(base_config(upstream.url, tmp_path / "trace.jsonl"))

    status, body = await ask(gateway.url)

    assert (status, body["content"]) == (200, [{"type": "text", "text": "straight"}])
    assert proxy.requests == []
    assert len(upstream.requests) == 1


async def test_a_cookie_an_upstream_sets_is_never_sent_back_with_later_requests(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """One client's session cookie must not ride along with every other client's requests. (By host
    name: a cookie jar takes no cookies from a bare IP address.)"""
    by_name = upstream.url.replace("127.0.0.1", "localhost")
    gateway = await start_gateway(base_config(by_name, tmp_path / "trace.jsonl"))
    upstream.enqueue(
        Reply.json(wire.message(), headers={"Set-Cookie": "session=one-clients-session; Path=/"}),
        Reply.json(wire.message()),
    )
    assert (await ask(gateway.url))[0] == 200
    assert (await ask(gateway.url))[0] == 200
    assert [r.headers.get("Cookie") for r in upstream.requests] == [None, None]
