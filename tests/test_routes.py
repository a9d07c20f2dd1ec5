"""Every route answers in its own format's error shape, with the right status and code.

The format follows from the path (and, on the bare shared paths, from the headers a client of that
format sends); no route falls back to another format's errors. Every answer carries the gateway's
request id both as `request-id` (Anthropic's SDK) and `x-request-id` (OpenAI's SDK).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import SECRET, Gateway, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
OPENAI = {"Authorization": f"Bearer {SECRET}"}


async def call(
    gateway: Gateway, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, str], Any]:
    url = gateway.url + path
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        return response.status, {k.lower(): v for k, v in response.headers.items()}, answer


def openai_error(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def anthropic_error(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


@pytest.mark.parametrize(
    ("method", "path", "status", "message", "allow"),
    [
        ("POST", "/v1/embeddings", 404, "no route for POST /v1/embeddings", None),
        ("POST", "/openai/v1/nope", 404, "no route for POST /openai/v1/nope", None),
        ("GET", "/v1/chat/completions", 405, "GET is not supported on /v1/chat/completions (use POST)", "POST"),
        (
            "GET",
            "/openai/v1/chat/completions",
            405,
            "GET is not supported on /openai/v1/chat/completions (use POST)",
            "POST",
        ),
        ("GET", "/v1/responses", 405, "GET is not supported on /v1/responses (use POST)", "POST"),
        ("POST", "/v1/responses/compact", 404, "no route for POST /v1/responses/compact", None),
    ],
)
async def test_openai_routes_answer_routing_errors_in_openai_shape_without_a_model_code(
    gateway: Gateway, method: str, path: str, status: int, message: str, allow: str | None
) -> None:
    got_status, headers, body = await call(gateway, method, path, OPENAI, {"model": "x"})
    assert (got_status, body) == (status, openai_error(message))
    assert headers.get("allow") == allow
    assert headers["x-request-id"] == headers["request-id"]


async def test_an_unknown_model_is_the_one_openai_404_with_model_not_found(gateway: Gateway) -> None:
    status, _, body = await call(
        gateway,
        "POST",
        "/v1/chat/completions",
        OPENAI,
        {"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert (status, body["error"]["code"]) == (404, "model_not_found")


@pytest.mark.parametrize(
    ("method", "path", "status", "error_type", "message"),
    [
        ("GET", "/v1/messages", 405, "invalid_request_error", "GET is not supported on /v1/messages (use POST)"),
        (
            "GET",
            "/anthropic/v1/messages",
            405,
            "invalid_request_error",
            "GET is not supported on /anthropic/v1/messages (use POST)",
        ),
        ("POST", "/anthropic/v1/nope", 404, "not_found_error", "no route for POST /anthropic/v1/nope"),
        ("POST", "/v1/nope", 404, "not_found_error", "no route for POST /v1/nope"),  # anthropic-version decides
    ],
)
async def test_anthropic_routes_answer_routing_errors_in_anthropic_shape(
    gateway: Gateway, method: str, path: str, status: int, error_type: str, message: str
) -> None:
    got_status, headers, body = await call(gateway, method, path, ANTHROPIC, MESSAGE)
    assert (got_status, body) == (status, anthropic_error(error_type, message, headers["request-id"]))
    assert headers["x-request-id"] == headers["request-id"]


async def test_a_bare_unknown_path_without_anthropic_headers_answers_in_openai_shape(gateway: Gateway) -> None:
    status, _, body = await call(gateway, "POST", "/v1/nope", OPENAI, {})
    assert (status, body) == (404, openai_error("no route for POST /v1/nope"))


async def test_successful_answers_streams_and_errors_all_carry_both_request_id_headers(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply.json(wire.message()), Reply.sse(wire.stream_events(wire.message())))
    async with aiohttp.ClientSession() as http:
        for body in (MESSAGE, {**MESSAGE, "stream": True}, {**MESSAGE, "model": "unknown-model"}):
            async with http.post(gateway.url + "/v1/messages", json=body, headers=ANTHROPIC) as response:
                await response.read()
                assert response.headers["x-request-id"] == response.headers["request-id"]
                assert response.headers["request-id"].startswith("req_")


async def test_the_openai_sdk_reads_the_gateways_request_id(gateway: Gateway, tmp_path: Path) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=SECRET, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    await client.close()
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        ({}, True),
        ({"host": "0.0.0.0"}, False),
        ({"operator_hints": "never"}, False),
        ({"host": "0.0.0.0", "operator_hints": "always"}, True),
    ],
    ids=["loopback", "exposed", "never", "always"],
)
async def test_operator_hints_naming_variables_reach_clients_only_where_allowed(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: dict[str, Any],
    shown: bool,
) -> None:
    monkeypatch.delenv("FAKE_ANTHROPIC_KEY")
    config = base_config(upstream.url, tmp_path / "trace.jsonl")
    config["server"].update(server)
    gateway = await start_gateway(config)
    status, headers, body = await call(gateway, "POST", "/v1/messages", ANTHROPIC, MESSAGE)
    message = (
        "no channel can serve 'claude-sonnet-4-5' right now: channel 'fake-anthropic' is unavailable: "
        "its API key is not configured"
    )
    hint = "; environment variable FAKE_ANTHROPIC_KEY is not set; set it and restart AxonHub"
    assert (status, body) == (
        503,
        anthropic_error("api_error", message + (hint if shown else ""), headers["request-id"]),
    )
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/health") as response:
        health = await response.json()
    assert ("FAKE_ANTHROPIC_KEY" in health["channels"][0]["reason"]) is shown
