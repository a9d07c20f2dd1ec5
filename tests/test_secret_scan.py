"""A secret scan of a real `axonhub serve`: every byte its clients got, its trace file and its log.

The channel key and the AxonHub keys are opaque strings (no `sk-`/`ah-` prefix), so only redaction
by exact value can hide them. The faults drive them toward every place the gateway writes:
upstreams that echo the channel key in a 401, a 400, a 500 text page and in error events in the
middle of streams (relayed byte for byte, and translated), an upstream that echoes the client's
own message holding its AxonHub key, a trace keeping whole bodies, and malformed header lines
carrying the key, which aiohttp would otherwise quote in its log and in its 400.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from axonhub.config import hash_secret
from tests.conftest import ServeFactory
from tests.fakes import anthropic as wire
from tests.fakes import openai as openai_wire
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.slow

CHANNEL_KEY = "zq9Xv7Lw3Pt8Rk2M4nB6"
AXONHUB_KEY = "team-laptop-credential-000111222333"  # alice: Anthropic channel, same format
AXONHUB_KEY_2 = "build-box-credential-444555666777"  # carol: her Claude models run on the OpenAI channel
SECRETS = {"channel key": CHANNEL_KEY, "alice's key": AXONHUB_KEY, "carol's key": AXONHUB_KEY_2}


def config_text(anthropic_url: str, openai_url: str, trace: Path) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "server": {"trace": {"path": str(trace), "bodies": "all"}},
            "channels": [
                {
                    "name": "claude",
                    "type": "anthropic",
                    "base_url": anthropic_url,
                    "api_key": "${SCAN_CHANNEL_KEY}",
                    "models": [{"regex": "claude-.*"}],
                },
                {
                    "name": "compatible",
                    "type": "openai",
                    "base_url": openai_url,
                    "api_key": "${SCAN_CHANNEL_KEY}",
                    "models": ["gpt-4o", "deepseek-chat"],
                },
            ],
            "profiles": {
                "passthrough": {"rules": []},
                "compatible": {"rules": [{"regex": "claude-.*", "model": "deepseek-chat"}]},
            },
            "keys": [
                {"name": "alice", "secret_hash": hash_secret(AXONHUB_KEY), "active_profile": "passthrough"},
                {"name": "carol", "secret_hash": hash_secret(AXONHUB_KEY_2), "active_profile": "compatible"},
            ],
        },
        sort_keys=False,
    )


async def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, return every byte the server sent until it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    received = b""
    async with asyncio.timeout(20):
        while chunk := await reader.read(65536):
            received += chunk
    writer.close()
    return received


def post(path: str, key: str, body: dict[str, Any], *, bearer: bool = False) -> bytes:
    payload = json.dumps(body).encode()
    auth = f"Authorization: Bearer {key}" if bearer else f"x-api-key: {key}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"{auth}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def messages(text: str = "hi", *, stream: bool = False) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 20,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def chat(*, stream: bool = False) -> dict[str, Any]:
    return {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def anthropic_error(error_type: str, message: str, status: int) -> Reply:
    return Reply.json(wire.error(error_type, message), status=status)


async def test_no_channel_key_or_axonhub_key_in_any_response_byte_the_trace_or_the_log(
    serve: ServeFactory, tmp_path: Path
) -> None:
    claude, compatible = FakeUpstream(), FakeUpstream()
    await claude.start()
    await compatible.start()
    try:
        config = tmp_path / "axonhub.yml"
        config.write_text(config_text(claude.url, compatible.url, tmp_path / "trace.jsonl"))
        server = await serve(config, env={"SCAN_CHANNEL_KEY": CHANNEL_KEY})
        started = wire.stream_events(wire.message())[:3]
        claude.enqueue(
            anthropic_error("authentication_error", f"invalid x-api-key: {CHANNEL_KEY}", 401),
            anthropic_error("invalid_request_error", f"cannot read 'my key is {AXONHUB_KEY}' ({CHANNEL_KEY})", 400),
            Reply.sse(
                [*started, wire.event("error", wire.error("overloaded_error", f"key {CHANNEL_KEY} is over quota"))]
            ),
        )
        compatible.enqueue(
            Reply.json(openai_wire.error(f"Incorrect API key provided: {CHANNEL_KEY}"), status=401),
            Reply.sse(
                openai_wire.sse(
                    openai_wire.chunk({"role": "assistant", "content": "Hel"}),
                    openai_wire.error(f"key {CHANNEL_KEY} was revoked", "server_error"),
                    done=False,
                )
            ),
            Reply.sse(
                openai_wire.sse(
                    openai_wire.chunk({"role": "assistant", "content": "Hel"}),
                    openai_wire.error(f"key {CHANNEL_KEY} was revoked", "server_error"),
                    done=False,
                )
            ),
            Reply(status=500, body=[f"internal error while using {CHANNEL_KEY}".encode()]),
        )
        port = server.port
        answers = {
            "401 echo, anthropic": await exchange(port, post("/v1/messages", AXONHUB_KEY, messages())),
            "400 echo relayed verbatim": await exchange(
                port, post("/v1/messages", AXONHUB_KEY, messages(f"my key is {AXONHUB_KEY}"))
            ),
            "error event in a relayed stream": await exchange(
                port, post("/v1/messages", AXONHUB_KEY, messages(stream=True))
            ),
            "401 echo, openai": await exchange(port, post("/v1/chat/completions", AXONHUB_KEY, chat(), bearer=True)),
            "error chunk in a relayed openai stream": await exchange(
                port, post("/v1/chat/completions", AXONHUB_KEY, chat(stream=True), bearer=True)
            ),
            "error chunk in a translated stream": await exchange(
                port, post("/v1/messages", AXONHUB_KEY_2, messages(stream=True))
            ),
            "500 text page, translated": await exchange(port, post("/v1/messages", AXONHUB_KEY_2, messages())),
        }
        malformed = {
            "a header line without its colon": (
                f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key {AXONHUB_KEY}\r\n\r\n".encode()
            ),
            "a control byte in the key": (
                f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {AXONHUB_KEY}\x01\r\n\r\n".encode()
            ),
        }
        for name, raw in malformed.items():
            answers[name] = await exchange(port, raw)
        await server.stop()
    finally:
        await claude.close()
        await compatible.close()

    # The faults happened: the upstreams got the channel key, the echoes came back redacted.
    assert [r.headers["x-api-key"] for r in claude.requests] == [CHANNEL_KEY] * 3
    assert [r.headers["Authorization"] for r in compatible.requests] == [f"Bearer {CHANNEL_KEY}"] * 4
    kept_from_clients = {"500 text page, translated"}  # a sentence for the client; the page is in the trace
    for name, answer in answers.items():
        assert b"[redacted]" in answer or name in {*malformed, *kept_from_clients}, (name, answer)
    for name in malformed:
        assert answers[name].startswith(b"HTTP/1.0 400 Bad Request") or answers[name].startswith(
            b"HTTP/1.1 400 Bad Request"
        )
    trace = (tmp_path / "trace.jsonl").read_bytes()
    log = server.log_bytes()
    assert trace.count(b"\n") == 7
    assert b"internal error while using [redacted]" in trace
    assert len([e for e in server.events() if e["event"] == "malformed HTTP request refused"]) == 2

    leaks = [
        (where, secret_name)
        for where, data in [*((f"response: {n}", a) for n, a in answers.items()), ("trace", trace), ("log", log)]
        for secret_name, secret in SECRETS.items()
        if secret.encode() in data
    ]
    assert leaks == []
