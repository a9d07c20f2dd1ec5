"""GET /anthropic/v1/models lists what the caller's profile reaches and finds one of them; failover between
OpenAI-compatible channels."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from tests.conftest import OTHER_SECRET, SECRET, Gateway, GatewayFactory
from tests.errors_shape import assert_anthropic_error
from tests.fakes import anthropic as anthropic_wire
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform.conftest import BACKUP_KEY, DEEPSEEK_KEY, auth, openai_channel, transform_config

CLAUDE_IDS = [
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
]


def listing(ids: list[str]) -> dict[str, Any]:
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
    return {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (SECRET, [*CLAUDE_IDS, "deepseek-chat", "deepseek-reasoner"]),  # alice: the deepseek profile
        (OTHER_SECRET, ["deepseek-chat", "deepseek-reasoner"]),  # bob: no profile, only the channel's own names
    ],
    ids=["deepseek-profile", "no-profile"],
)
async def test_the_model_list_holds_what_the_callers_profile_reaches(
    deepseek: Gateway, http: aiohttp.ClientSession, secret: str, expected: list[str]
) -> None:
    async with http.get(deepseek.url + "/anthropic/v1/models?limit=1000", headers=auth(secret)) as response:
        assert response.status == 200
        assert await response.json() == listing(expected)


async def test_the_sdk_lists_the_models_claude_code_would_offer(client: anthropic.AsyncAnthropic) -> None:
    page = await client.models.list(limit=1000)
    assert [m.id for m in page.data if m.id.startswith(("claude", "anthropic"))] == CLAUDE_IDS


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-1-20250805", "deepseek-chat"])
async def test_the_sdk_finds_a_model_the_profile_reaches_listed_or_matched_by_a_pattern(
    client: anthropic.AsyncAnthropic, model: str
) -> None:
    found = await client.models.retrieve(model)
    assert (found.id, found.type, found.display_name) == (model, "model", model)
    assert found.created_at.isoformat() == "2025-01-01T00:00:00+00:00"


async def test_a_model_the_key_does_not_reach_is_a_404_in_anthropic_shape(
    deepseek: Gateway, http: aiohttp.ClientSession
) -> None:
    async with http.get(deepseek.url + "/anthropic/v1/models/gpt-4o", headers=auth(SECRET)) as response:
        await assert_anthropic_error(response, 404, "not_found_error", "model 'gpt-4o' is not served to this key")
    # bob has no profile: the Claude names his key cannot reach are not found either
    async with http.get(deepseek.url + "/anthropic/v1/models/claude-sonnet-4-5", headers=auth(OTHER_SECRET)) as r:
        assert r.status == 404


# failover


def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def two_channels(
    start_gateway: GatewayFactory, tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> Gateway:
    first, second = {**first, "priority": 0}, {**second, "priority": 1}
    return await start_gateway(transform_config([first, second], tmp_path / "trace.jsonl"))


BODY = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_a_503_from_the_first_channel_fails_over_to_the_second(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    backup: FakeUpstream,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    stream: bool,
) -> None:
    second = openai_channel("backup", backup.url, api_key="${FAKE_BACKUP_KEY}")
    gateway = await two_channels(start_gateway, tmp_path, openai_channel("primary", upstream.url), second)
    upstream.default = Reply.json(wire.error("Server busy", "service_unavailable_error"), status=503)
    backup.enqueue(Reply.sse(wire.text_stream("from backup")) if stream else Reply.json(wire.completion("from backup")))
    async with http.post(
        gateway.url + "/anthropic/v1/messages", json={**BODY, "stream": stream}, headers=auth()
    ) as response:
        assert response.status == 200
        raw = await response.read()
    assert b"from backup" in raw
    assert [r.headers["Authorization"] for r in upstream.requests] == [f"Bearer {DEEPSEEK_KEY}"]
    assert [r.headers["Authorization"] for r in backup.requests] == [f"Bearer {BACKUP_KEY}"]
    assert upstream.requests[0].body == backup.requests[0].body  # the same request, rendered once per format


async def test_a_refused_connection_fails_over_to_the_second_channel(
    start_gateway: GatewayFactory, backup: FakeUpstream, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    first = openai_channel("primary", dead_url())
    gateway = await two_channels(start_gateway, tmp_path, first, openai_channel("backup", backup.url))
    backup.enqueue(Reply.json(wire.completion("from backup")))
    async with http.post(gateway.url + "/anthropic/v1/messages", json=BODY, headers=auth()) as response:
        assert response.status == 200
        assert (await response.json())["content"] == [{"type": "text", "text": "from backup"}]


async def test_an_openai_compatible_channel_fails_over_to_an_anthropic_one_serving_the_same_model(
    start_gateway: GatewayFactory, upstream: FakeUpstream, backup: FakeUpstream, tmp_path: Path
) -> None:
    # DeepSeek also speaks Anthropic Messages: the second channel is its /anthropic endpoint
    second = {
        "name": "deepseek-anthropic",
        "type": "anthropic",
        "base_url": backup.url,
        "api_key": "${FAKE_BACKUP_KEY}",
        "models": ["deepseek-reasoner"],
    }
    gateway = await two_channels(start_gateway, tmp_path, openai_channel("primary", upstream.url), second)
    upstream.default = Reply.json(wire.error("Server busy"), status=503)
    backup.enqueue(
        Reply.sse(anthropic_wire.stream_events(anthropic_wire.message([{"type": "text", "text": "via anthropic"}])))
    )
    sdk = anthropic.AsyncAnthropic(base_url=gateway.url + "/anthropic", api_key=SECRET, max_retries=0)
    async with sdk, sdk.messages.stream(**BODY) as events:
        final = await events.get_final_message()
    assert final.content[0].text == "via anthropic"  # type: ignore[union-attr]
    assert (backup.requests[0].path, backup.requests[0].headers["x-api-key"]) == ("/v1/messages", BACKUP_KEY)
    assert backup.requests[0].json()["model"] == "deepseek-reasoner"


async def test_a_400_from_the_first_channel_is_returned_without_trying_the_second(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    backup: FakeUpstream,
    tmp_path: Path,
    http: aiohttp.ClientSession,
) -> None:
    gateway = await two_channels(
        start_gateway, tmp_path, openai_channel("primary", upstream.url), openai_channel("backup", backup.url)
    )
    upstream.default = Reply.json(wire.error("Invalid tool schema"), status=400)
    async with http.post(gateway.url + "/anthropic/v1/messages", json=BODY, headers=auth()) as response:
        await assert_anthropic_error(response, 400, "invalid_request_error", "[primary] Invalid tool schema")
    assert backup.requests == []


async def test_when_every_channel_fails_the_client_gets_the_last_error(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    backup: FakeUpstream,
    tmp_path: Path,
    http: aiohttp.ClientSession,
) -> None:
    gateway = await two_channels(
        start_gateway, tmp_path, openai_channel("primary", dead_url()), openai_channel("backup", backup.url)
    )
    backup.default = Reply.json(wire.error("Server busy"), status=503)
    async with http.post(gateway.url + "/anthropic/v1/messages", json=BODY, headers=auth()) as response:
        await assert_anthropic_error(response, 529, "overloaded_error", "[backup] Server busy")
