"""What the operator and the client read: the request log line (short on a terminal, token counts
shown), refused requests in the log without their secret, and a base URL missing its /v1."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import structlog

from axonhub.log import configure_logging
from tests.conftest import SECRET, Gateway
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC_UPSTREAM_KEY = "sk-ant-api03-the-gateways-own-key-00000000"


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    monkeypatch.setenv("COLUMNS", "100")
    configure_logging("console", stream=buffer)
    structlog.configure(cache_logger_on_first_use=False)
    yield buffer
    structlog.reset_defaults()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    structlog.configure(cache_logger_on_first_use=False)
    yield buffer
    structlog.reset_defaults()


async def post(gateway: Gateway, path: str, headers: dict[str, str], body: Any = MESSAGE) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(gateway.url + path, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_the_request_line_on_a_terminal_is_short_and_shows_the_token_counts(
    gateway: Gateway, upstream: FakeUpstream, console: io.StringIO
) -> None:
    upstream.enqueue(Reply.json(wire.message(usage={"input_tokens": 1234, "output_tokens": 56})))
    long_name = "claude-sonnet-4-5-" + "x" * 200
    upstream.enqueue(Reply.json(wire.message()))
    headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
    assert (await post(gateway, "/anthropic/v1/messages", headers))[0] == 200
    assert (await post(gateway, "/anthropic/v1/messages", headers, {**MESSAGE, "model": long_name}))[0] == 200
    lines = [line for line in console.getvalue().splitlines() if "[info" in line and " ms  alice" in line]
    first, second = lines
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d \[info     \] 200 +\d+ ms  alice  in 1234 out 56  claude-sonnet-4-5 @ fake-anthropic", first
    ), first
    assert len(second) == 100 and second.endswith("…")  # cut to the terminal's width, never wrapped
    assert "[redacted]" not in console.getvalue()


async def test_the_json_log_keeps_every_field_with_the_counts(
    gateway: Gateway, upstream: FakeUpstream, json_log: io.StringIO
) -> None:
    upstream.enqueue(Reply.json(wire.message(usage={"input_tokens": 1234, "output_tokens": 56})))
    assert (await post(gateway, "/anthropic/v1/messages", {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}))[
        0
    ] == 200
    # the request's line, whatever else (the dashboard index's thread, say) logged around it
    [line] = [entry for entry in map(json.loads, json_log.getvalue().splitlines()) if entry["event"] == "request"]
    assert (line["event"], line["input_tokens"], line["output_tokens"], line["kind"], line["key"]) == (
        "request",
        1234,
        56,
        "messages",
        "alice",
    )


async def test_every_refused_request_is_logged_without_its_secret(gateway: Gateway, json_log: io.StringIO) -> None:
    tries = [
        {"x-api-key": ANTHROPIC_UPSTREAM_KEY},
        {"Authorization": "Bearer ah-revoked-key-0000000000000000000"},
        {},
    ]
    for headers in tries:
        assert (await post(gateway, "/anthropic/v1/messages", {**headers, "User-Agent": "claude-cli/2.1.197"}))[
            0
        ] == 401
    text = json_log.getvalue()
    assert ANTHROPIC_UPSTREAM_KEY[8:] not in text and "revoked-key-0000" not in text
    refused = [json.loads(line) for line in text.splitlines() if '"request refused"' in line]
    assert [(r["path"], r["status"], r["reason"], r["user_agent"]) for r in refused] == [
        (
            "/anthropic/v1/messages",
            401,
            "invalid API key: x-api-key holds an Anthropic API key; ANTHROPIC_API_KEY is the gateway's upstream "
            "key: `axonhub run claude` starts Claude Code without it",
            "claude-cli/2.1.197",
        ),
        (
            "/anthropic/v1/messages",
            401,
            "invalid API key: Authorization holds an AxonHub key unknown to this config (revoked, rotated, or "
            "from another config?)",
            "claude-cli/2.1.197",
        ),
        (
            "/anthropic/v1/messages",
            401,
            "missing API key: send your AxonHub key as `x-api-key` or `Authorization: Bearer` "
            "(create one with `axonhub keys create NAME`)",
            "claude-cli/2.1.197",
        ),
    ]


async def test_either_credential_header_may_hold_the_key(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.default = Reply.json(wire.message())
    both = [
        {"x-api-key": ANTHROPIC_UPSTREAM_KEY, "Authorization": f"Bearer {SECRET}"},
        {"x-api-key": SECRET, "Authorization": f"Bearer {ANTHROPIC_UPSTREAM_KEY}"},
    ]
    for headers in both:
        status, body = await post(gateway, "/anthropic/v1/messages", {**headers, "anthropic-version": "2023-06-01"})
        assert status == 200, body
    assert [r.headers["x-api-key"] for r in upstream.requests] == ["sk-ant-upstream-secret-key-000"] * 2


@pytest.mark.parametrize(
    ("path", "headers", "hint"),
    [
        (
            "/chat/completions",
            {"Authorization": f"Bearer {SECRET}"},
            "; an OpenAI client's base URL ends in /v1: {origin}/v1 (or {origin}/openai/v1)",
        ),
        (
            "/openai/chat/completions",
            {"Authorization": f"Bearer {SECRET}"},
            "; an OpenAI client's base URL ends in /v1: {origin}/v1 (or {origin}/openai/v1)",
        ),
        (
            "/anthropic/v1/v1/messages",
            {"x-api-key": SECRET, "anthropic-version": "2023-06-01"},
            "; the client's base URL ends in /v1 twice: drop one (Anthropic clients: no /v1 at all)",
        ),
    ],
)
async def test_a_base_url_missing_or_doubling_its_v1_gets_a_hint(
    gateway: Gateway, path: str, headers: dict[str, str], hint: str
) -> None:
    status, body = await post(gateway, path, headers)
    message = body["error"]["message"]
    assert (status, message) == (404, f"no route for POST {path}" + hint.format(origin=gateway.url))
