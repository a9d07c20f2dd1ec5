"""The format matrix: every client format on every channel format, streamed and not, through the server.

Each row drives the official SDK of the client's format (`anthropic`, `openai` for Chat,
`google-genai`) against a gateway whose one channel is a fake upstream of the channel's format, and
asserts both sides: what the client got (text, reasoning where its format shows it, tool calls, stop
reason, usage, the SDK's error class) and what the upstream received, read back into one neutral
shape so every pair is held to the same expectation. Same-format pairs take the fast path; the rest
go through the IR.

What a pair cannot carry is asserted too: an OpenAI Chat client is shown no reasoning from another
provider (Chat has no field for it; only a Chat channel's own `reasoning_content` reaches it, on the
fast path).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory, base_config
from tests.fakes.upstream import FakeUpstream
from tests.matrix.channels import CHANNELS, INPUT, OUTPUT, Answer, Seen
from tests.matrix.clients import BUDGET, CLIENTS, OPENAI, SYSTEM, Client, Got

PAIRS = [(client, channel) for client in CLIENTS for channel in CHANNELS]
SCENARIOS = ["text", "tool round trip", "reasoning", "upstream error"]
ROWS = [
    pytest.param(
        client, channel, stream, scenario, id=f"{client}-on-{channel}-{'stream' if stream else 'json'}-{scenario}"
    )
    for client, channel in PAIRS
    for stream in (True, False)
    for scenario in SCENARIOS
]


def shows_reasoning(client: str, channel: str) -> bool:
    """Chat clients see reasoning only from a Chat channel (its `reasoning_content`, relayed as it came)."""
    return client != OPENAI or channel == OPENAI


@pytest.fixture(autouse=True)
def channel_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MATRIX_KEY", "sk-matrix-upstream-secret-000")


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        await client.close()


def matrix_config(channel: str, url: str, trace: Path) -> dict[str, Any]:
    config = base_config(url, trace)
    spec = {"name": "primary", **CHANNELS[channel].config(url), "api_key": "${FAKE_MATRIX_KEY}", "models": ["m"]}
    config["channels"] = [spec]
    return config


@pytest.mark.slow
@pytest.mark.parametrize(("client_format", "channel", "stream", "scenario"), ROWS)
async def test_pair(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    clients: list[Client],
    client_format: str,
    channel: str,
    stream: bool,
    scenario: str,
) -> None:
    gateway = await start_gateway(matrix_config(channel, upstream.url, tmp_path / "trace.jsonl"))
    fake = CHANNELS[channel]
    client: Client = CLIENTS[client_format](gateway.url)
    clients.append(client)

    def seen(index: int) -> Seen:
        return fake.read(upstream.requests[index].json())

    match scenario:
        case "text":
            client.user("Say hello")
            upstream.enqueue(fake.reply(Answer(text="Hello there"), stream))
            got = await client.ask(stream)
            assert got == Got("Hello there", "", [], client.normal_stop, (INPUT, OUTPUT))
            assert seen(0) == Seen(SYSTEM, [("user", "Say hello")], 50)

        case "tool round trip":
            client.user("Weather in Paris?")
            upstream.enqueue(fake.reply(Answer(call=("get_weather", {"city": "Paris"})), stream))
            first = await client.ask(stream, tools=True)
            assert (first.calls, first.stop) == ([("get_weather", {"city": "Paris"})], client.tool_stop)
            client.results("18C")
            upstream.enqueue(fake.reply(Answer(text="It is 18C."), stream))
            second = await client.ask(stream, tools=True)
            assert (second.text, second.calls, second.stop) == ("It is 18C.", [], client.normal_stop)
            turn2 = seen(1)
            assert (turn2.system, turn2.turns, turn2.tools) == (
                SYSTEM,
                [("user", "Weather in Paris?"), ("call", "get_weather", {"city": "Paris"}), ("result", "18C", True)],
                ("get_weather",),
            )

        case "reasoning":
            client.user("What is six times seven?")
            upstream.enqueue(fake.reply(Answer(reasoning="Let me think.", text="42"), stream))
            got = await client.ask(stream, reasoning=True, max_tokens=4 * BUDGET)
            expected_reasoning = "Let me think." if shows_reasoning(client_format, channel) else ""
            assert (got.text, got.reasoning, got.stop) == ("42", expected_reasoning, client.normal_stop)
            asked = seen(0)
            assert (asked.reasoning, asked.max_tokens, asked.turns) == (
                True,
                4 * BUDGET,
                [("user", "What is six times seven?")],
            )

        case "upstream error":
            client.user("Say hello")
            upstream.enqueue(fake.rate_limited("slow down"))
            with pytest.raises(client.rate_limited) as raised:
                await client.ask(stream)
            assert client.status(raised.value) == 429
            assert len(upstream.requests) == 1  # a 429 is not retried on the same channel

        case _:
            raise AssertionError(scenario)
