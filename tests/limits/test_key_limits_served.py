"""Each key limit through the server: its 429 in each client format (Anthropic Messages, OpenAI Chat),
with Retry-After and the rate-limit headers the client's SDK reads, saying which limit and when it
resets; the upstream never sees the refused request; the refusal is traced."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from tests.conftest import OTHER_SECRET, SECRET, Gateway, GatewayFactory, base_config
from tests.errors_shape import assert_anthropic_error, assert_openai_error
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

USAGE = {"input_tokens": 40, "output_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
PRICE = {"claude-sonnet-4-5": {"input": 10_000, "output": 10_000}}  # 70 tokens: $0.70


async def away_from_a_minute_edge() -> None:
    """Per-minute limits count in wall-clock minutes: keep a test inside one."""
    if time.time() % 60 > 50:
        await asyncio.sleep(61 - time.time() % 60)


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def call(gateway: Gateway, client: str, *, stream: bool = False) -> aiohttp.ClientResponse:
    messages = [{"role": "user", "content": "hi"}]
    async with aiohttp.ClientSession() as session:
        if client == "anthropic":
            body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages}
            url, headers = f"{gateway.url}/v1/messages", {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
        else:
            body = {"model": "claude-sonnet-4-5", "messages": messages}
            url, headers = f"{gateway.url}/v1/chat/completions", {"Authorization": f"Bearer {SECRET}"}
        if stream:
            body["stream"] = True
        response = await session.post(url, json=body, headers=headers)
        await response.read()
        return response


def last_record(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text().splitlines()[-1])


async def until_traced(path: Path, count: int) -> None:
    for _ in range(200):
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} records expected in {path}")


# limit -> (its value, the use the first request leaves, how it reads, its header family, resets within a minute)
CASES: dict[str, tuple[float, str, str, str | None, bool]] = {
    "requests_per_minute": (1, "1", "1 request per minute", "requests", True),
    "input_tokens_per_minute": (40, "40", "40 input tokens per minute", "input-tokens", True),
    "output_tokens_per_minute": (30, "30", "30 output tokens per minute", "output-tokens", True),
    "input_tokens_per_day": (40, "40", "40 input tokens per day", "input-tokens", False),
    "output_tokens_per_day": (30, "30", "30 output tokens per day", "output-tokens", False),
    "spend_per_day_usd": (0.5, "$0.70", "$0.50 of spend per day", None, False),
    "spend_per_month_usd": (0.5, "$0.70", "$0.50 of spend per month", None, False),
}
OPENAI_FAMILY = {"requests": "requests", "input-tokens": "tokens", "output-tokens": "tokens"}


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
@pytest.mark.parametrize("limit", sorted(CASES))
async def test_each_key_limit_answers_429_in_the_clients_format(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, client: str, limit: str
) -> None:
    value, used, reads, family, soon = CASES[limit]
    upstream.default = Reply.json(wire.message(usage=USAGE))
    data = base_config(upstream.url, tmp_path / "trace.jsonl", pricing=PRICE)
    data["keys"][0]["limits"] = {limit: value}
    gateway = await start_gateway(data)
    await away_from_a_minute_edge()

    assert (await call(gateway, client)).status == 200
    await until_traced(tmp_path / "trace.jsonl", 1)
    await asyncio.sleep(0.05)  # the settlement of the first exchange
    refused = await call(gateway, client)
    now = time.time()
    await until_traced(tmp_path / "trace.jsonl", 2)

    assert len(upstream.requests) == 1  # the refused request never went upstream
    record = last_record(tmp_path / "trace.jsonl")
    reset_at = record["limit"]["reset_at"]
    assert record["limit"] == {
        "scope": "key",
        "subject": "alice",
        "name": limit,
        "limit": round(value * 1_000_000) if "spend" in limit else value,
        "used": 700_000 if "spend" in limit else int(used),
        "reset_at": reset_at,
    }
    message = f"rate limit: key 'alice' reached its limit {limit} ({reads}; used {used}); it resets at {iso(reset_at)}"
    assert (record["status"], record["error"]) == (429, {"type": "rate_limit", "message": message})
    if client == "anthropic":
        await assert_anthropic_error(refused, 429, "rate_limit_error", message)
    else:
        await assert_openai_error(refused, 429, "rate_limit_error", message, "rate_limit_exceeded")

    headers = {k.lower(): v for k, v in refused.headers.items() if "ratelimit" in k.lower() or "retry" in k.lower()}
    retry_after = int(headers.pop("retry-after"))
    assert abs(retry_after - math.ceil(reset_at - now)) <= 1
    assert abs(int(headers.pop("retry-after-ms")) - (reset_at - now) * 1000) < 1500
    assert headers.pop("x-should-retry") == ("true" if soon else "false")
    expected: dict[str, str] = {}
    if family and client == "anthropic":
        expected = {
            f"anthropic-ratelimit-{family}-limit": str(value),
            f"anthropic-ratelimit-{family}-remaining": "0",
            f"anthropic-ratelimit-{family}-reset": iso(reset_at),
        }
    elif family:
        name = OPENAI_FAMILY[family]
        reset = headers.get(f"x-ratelimit-reset-{name}", "")
        expected = {
            f"x-ratelimit-limit-{name}": str(value),
            f"x-ratelimit-remaining-{name}": "0",
            f"x-ratelimit-reset-{name}": reset,
        }
        assert reset.endswith("s") and reset[:-1].replace("h", "").replace("m", "").isdigit()
    assert headers == expected


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
async def test_concurrent_requests_refuse_a_request_while_the_key_has_its_streams_open(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, client: str
) -> None:
    events = wire.stream_events(wire.message(usage=USAGE))
    upstream.enqueue(Reply.sse([*events[:3], 0.6, *events[3:]]))
    upstream.default = Reply.json(wire.message(usage=USAGE))
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["keys"][0]["limits"] = {"concurrent_requests": 1}
    gateway = await start_gateway(data)
    streaming = asyncio.ensure_future(call(gateway, client, stream=True))
    for _ in range(100):
        if upstream.requests:
            break
        await asyncio.sleep(0.01)
    refused = await call(gateway, client)
    message = (
        "rate limit: key 'alice' reached its limit concurrent_requests (1 concurrent request; used 1); "
        "it frees up when one of its requests in flight ends"
    )
    if client == "anthropic":
        await assert_anthropic_error(refused, 429, "rate_limit_error", message)
    else:
        await assert_openai_error(refused, 429, "rate_limit_error", message, "rate_limit_exceeded")
    assert (refused.headers["retry-after"], refused.headers["x-should-retry"]) == ("1", "true")
    assert (await streaming).status == 200
    await until_traced(tmp_path / "trace.jsonl", 2)
    await asyncio.sleep(0.05)
    assert (await call(gateway, client)).status == 200  # the slot came back when the stream ended


async def test_the_sdks_see_a_rate_limit_error_with_the_message(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message(usage=USAGE))
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["keys"][0]["limits"] = {"output_tokens_per_day": 1}
    gateway = await start_gateway(data)
    message = [{"role": "user", "content": "x"}]
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=SECRET, max_retries=0) as claude:
        await claude.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=message)  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        with pytest.raises(anthropic.RateLimitError, match="output_tokens_per_day"):
            await claude.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=message)  # type: ignore[arg-type]
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=SECRET, max_retries=3) as gpt:
        with pytest.raises(openai.RateLimitError, match="output_tokens_per_day"):  # x-should-retry false: no retries
            await gpt.chat.completions.create(model="claude-sonnet-4-5", messages=message)  # type: ignore[arg-type]
    assert len(upstream.requests) == 1


async def test_project_defaults_apply_and_a_key_may_lift_them(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message(usage=USAGE))
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["projects"] = {
        "demo": {"limits": {"requests_per_minute": 1}},
        "default": {"limits": {"requests_per_minute": 1}},
    }
    data["keys"][1]["limits"] = {"requests_per_minute": None}  # bob (project default) has no limit
    gateway = await start_gateway(data)
    await away_from_a_minute_edge()
    assert [(await call(gateway, "anthropic")).status for _ in range(2)] == [200, 429]  # alice, project demo
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=OTHER_SECRET) as bob:
        for _ in range(3):
            await bob.messages.create(
                model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )


async def test_limits_follow_a_live_edit_of_the_config(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    from tests.conftest import write_config

    upstream.default = Reply.json(wire.message(usage=USAGE))
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    data["keys"][0]["limits"] = {"requests_per_minute": 1}
    gateway = await start_gateway(data, watch=True)
    await away_from_a_minute_edge()
    assert [(await call(gateway, "anthropic")).status for _ in range(2)] == [200, 429]
    data["keys"][0]["limits"] = {"requests_per_minute": 3}
    write_config(tmp_path / "axonhub.yml", data)
    for _ in range(100):  # the watcher polls every half second
        response = await call(gateway, "anthropic")
        if response.status == 200:
            break
        await asyncio.sleep(0.05)
    assert response.status == 200
    assert (await call(gateway, "anthropic")).status == 200
    assert (await call(gateway, "anthropic")).status == 429  # 3 in this minute
