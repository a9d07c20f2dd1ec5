"""Tool loops with reasoning across every pair, and across a profile switch between the turns.

Turn 1: the channel reasons and calls a tool; the client (its official SDK) runs it. Turn 2: the
client sends the call, its result and whatever it kept of the reasoning. What reaches the channel on
turn 2 must carry that reasoning back in the provider's own terms when the same provider answers
(Anthropic's signed thinking block byte for byte, DeepSeek's `reasoning_content`, OpenAI's
`encrypted_content`, Gemini's `thoughtSignature` on its call), and carry none of it when the key's profile switched the
conversation to another provider in between: another provider's reasoning would be refused, or
worse, misread. Either way the call and its result arrive paired.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from axonhub.appkeys import CONFIG_HOLDER
from axonhub.config import load_config
from tests.conftest import GatewayFactory, base_config, write_config
from tests.fakes import gemini as g_wire
from tests.fakes.upstream import FakeUpstream
from tests.matrix.channels import ANTHROPIC, CHANNELS, ENCRYPTED, GEMINI, OPENAI, RESPONSES, SIGNATURE, Answer
from tests.matrix.clients import BUDGET, CLIENTS, SYSTEM, Client

pytestmark = [pytest.mark.slow]

THOUGHT = "Let me think."
CONVERSATION = [("user", "Weather in Paris?"), ("call", "get_weather", {"city": "Paris"}), ("result", "18C", True)]
STAND_IN = ("thoughtSignature", "skip_thought_signature_validator")
# What the same provider gets back on turn 2, per (client, channel).
CARRIED: dict[tuple[str, str], list[tuple[Any, ...]]] = {
    (ANTHROPIC, ANTHROPIC): [("thinking", THOUGHT, SIGNATURE)],
    (ANTHROPIC, OPENAI): [("reasoning_content", THOUGHT)],
    (ANTHROPIC, GEMINI): [("thoughtSignature", g_wire.SIGNATURE)],
    (ANTHROPIC, RESPONSES): [("encrypted_content", ENCRYPTED)],
    (RESPONSES, ANTHROPIC): [("thinking", THOUGHT, SIGNATURE)],
    (RESPONSES, OPENAI): [("reasoning_content", THOUGHT)],
    (RESPONSES, RESPONSES): [("encrypted_content", ENCRYPTED)],
    (RESPONSES, GEMINI): [("thoughtSignature", g_wire.SIGNATURE)],
    (GEMINI, RESPONSES): [("encrypted_content", ENCRYPTED)],
    (GEMINI, ANTHROPIC): [("thinking", THOUGHT, SIGNATURE)],
    (GEMINI, OPENAI): [("reasoning_content", THOUGHT)],
    (GEMINI, GEMINI): [("thoughtSignature", g_wire.SIGNATURE)],
    # Chat has no field that brings reasoning back: Anthropic's tool loop goes on without thinking,
    # Gemini 3 gets its stand-in, and a Chat client that does not echo `reasoning_content` sends none.
    (OPENAI, ANTHROPIC): [],
    (OPENAI, OPENAI): [],
    (OPENAI, GEMINI): [STAND_IN],
    (OPENAI, RESPONSES): [],
}


@pytest.fixture(autouse=True)
def channel_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MATRIX_KEY", "sk-matrix-upstream-secret-000")


@pytest.fixture
async def second() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        await client.close()


def two_channel_config(
    first: str, first_url: str, then: str, then_url: str, trace: Path, profile: str
) -> dict[str, Any]:
    """Channel `a` (format `first`) serves m-a, channel `b` (format `then`) serves m-b; profile `first`
    sends `m` to m-a, profile `then` to m-b; alice's active profile is `profile`."""
    config = base_config(first_url, trace)
    config["channels"] = [
        {"name": "a", **CHANNELS[first].config(first_url), "api_key": "${FAKE_MATRIX_KEY}", "models": ["m-a"]},
        {"name": "b", **CHANNELS[then].config(then_url), "api_key": "${FAKE_MATRIX_KEY}", "models": ["m-b"]},
    ]
    config["profiles"] = {
        "first": {"rules": [{"match": "m", "model": "m-a"}]},
        "then": {"rules": [{"match": "m", "model": "m-b"}]},
    }
    config["keys"][0]["active_profile"] = profile
    return config


async def turn_one(client: Client, upstream: FakeUpstream, channel: str, stream: bool) -> None:
    client.user("Weather in Paris?")
    upstream.enqueue(
        CHANNELS[channel].reply(Answer(reasoning=THOUGHT, call=("get_weather", {"city": "Paris"})), stream)
    )
    first = await client.ask(stream, tools=True, reasoning=True, max_tokens=4 * BUDGET)
    assert first.calls == [("get_weather", {"city": "Paris"})]
    client.results("18C")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize(("client_format", "channel"), list(CARRIED), ids=[f"{c}-on-{ch}" for c, ch in CARRIED])
async def test_turn_two_carries_the_reasoning_back_to_the_same_provider(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    clients: list[Client],
    client_format: str,
    channel: str,
    stream: bool,
) -> None:
    config = two_channel_config(channel, upstream.url, channel, upstream.url, tmp_path / "t.jsonl", "first")
    gateway = await start_gateway(config)
    client: Client = CLIENTS[client_format](gateway.url)
    clients.append(client)
    await turn_one(client, upstream, channel, stream)
    upstream.enqueue(CHANNELS[channel].reply(Answer(text="It is 18C."), stream))
    assert (await client.ask(stream, tools=True, reasoning=True, max_tokens=4 * BUDGET)).text == "It is 18C."
    turn2 = CHANNELS[channel].read(upstream.requests[1].json())
    assert (turn2.system, turn2.turns) == (SYSTEM, CONVERSATION)
    assert turn2.carried == CARRIED[(client_format, channel)]


SWITCHES = [(c, a, b) for c in CLIENTS for a in CHANNELS for b in CHANNELS if a != b]


@pytest.mark.parametrize(
    ("client_format", "first", "then"), SWITCHES, ids=[f"{c}-{a}-then-{b}" for c, a, b in SWITCHES]
)
async def test_a_profile_switch_between_turns_leaves_the_first_providers_reasoning_behind(
    start_gateway: GatewayFactory,
    upstream: FakeUpstream,
    second: FakeUpstream,
    tmp_path: Path,
    clients: list[Client],
    client_format: str,
    first: str,
    then: str,
) -> None:
    trace = tmp_path / "t.jsonl"
    gateway = await start_gateway(two_channel_config(first, upstream.url, then, second.url, trace, "first"))
    client: Client = CLIENTS[client_format](gateway.url)
    clients.append(client)
    await turn_one(client, upstream, first, True)
    switched = two_channel_config(first, upstream.url, then, second.url, trace, "then")
    gateway.server.app[CONFIG_HOLDER].swap(load_config(write_config(tmp_path / "switched.yml", switched)))
    second.enqueue(CHANNELS[then].reply(Answer(text="It is 18C."), True))
    assert (await client.ask(True, tools=True, reasoning=True, max_tokens=4 * BUDGET)).text == "It is 18C."
    assert [len(upstream.requests), len(second.requests)] == [1, 1]
    turn2 = CHANNELS[then].read(second.requests[0].json())
    assert (turn2.system, turn2.turns) == (SYSTEM, CONVERSATION)
    assert turn2.carried == ([STAND_IN] if then == GEMINI else [])
