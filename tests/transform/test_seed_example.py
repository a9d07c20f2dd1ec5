"""The seed's example end to end on OpenAI-compatible channels, then a live profile switch from the CLI.

Claude Code asks for `claude-sonnet-4-5` and gets `deepseek-reasoner`, for `claude-haiku-4-5` and gets
`deepseek-chat`, both through the DeepSeek channel's Chat Completions API; `axonhub keys use-profile`
then sends both to another channel while the gateway keeps running.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import anthropic
from click.testing import CliRunner

from axonhub.cli import main
from tests.conftest import SECRET, Gateway, GatewayFactory
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform.conftest import BACKUP_KEY, DEEPSEEK_KEY, openai_channel, transform_config

KIMI_PROFILE = {
    "description": "everything on Kimi",
    "rules": [
        {"regex": "claude-(opus|sonnet)-.*", "model": "kimi-k2-thinking"},
        {"regex": "claude-.*haiku.*", "model": "kimi-k2"},
    ],
}


async def ask(sdk: anthropic.AsyncAnthropic, model: str) -> tuple[str, str]:
    """Sonnet streams (the main turn), haiku does not (a side job); returns (model echoed, text)."""
    params = {"model": model, "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}]}
    if "haiku" in model:
        reply = await sdk.messages.create(**params)  # type: ignore[call-overload]
    else:
        async with sdk.messages.stream(**params) as events:  # type: ignore[arg-type]
            reply = await events.get_final_message()
    return reply.model, "".join(b.text for b in reply.content if b.type == "text")


async def wait_for_digest(gateway: Gateway, http: aiohttp.ClientSession, old: str) -> None:
    for _ in range(60):
        async with http.get(gateway.url + "/health") as response:
            if (await response.json())["config"]["digest"] != old:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not pick up the edited config within 3 s")


async def test_the_seeds_example_on_deepseek_then_a_live_switch_to_another_channel(
    start_gateway: GatewayFactory, upstream: FakeUpstream, backup: FakeUpstream, tmp_path: Path
) -> None:
    deepseek = openai_channel("deepseek", upstream.url)
    kimi = openai_channel(
        "kimi", backup.url, "moonshot", api_key="${FAKE_BACKUP_KEY}", models=["kimi-k2", "kimi-k2-thinking"]
    )
    config = transform_config([deepseek, kimi], tmp_path / "trace.jsonl", kimi=KIMI_PROFILE)
    # the CLI below runs in this process beside the gateway: the dashboard index's log lines (printed by
    # its thread at any moment) would land in the CLI's captured output
    config["server"]["dashboard"] = {"enabled": False}
    gateway = await start_gateway(config, watch=True)
    upstream.enqueue(
        Reply.sse(wire.text_stream("deep thoughts", model="deepseek-reasoner", reasoning=("hmm",))),
        Reply.json(wire.completion("quick answer", model="deepseek-chat")),
    )
    backup.enqueue(
        Reply.sse(wire.text_stream("kimi thoughts", model="kimi-k2-thinking", reasoning=("hmm",))),
        Reply.json(wire.completion("kimi quick", model="kimi-k2")),
    )
    sdk = anthropic.AsyncAnthropic(base_url=gateway.url + "/anthropic", api_key=SECRET, max_retries=0)
    async with sdk, aiohttp.ClientSession() as http:
        assert await ask(sdk, "claude-sonnet-4-5") == ("claude-sonnet-4-5", "deep thoughts")
        assert await ask(sdk, "claude-haiku-4-5") == ("claude-haiku-4-5", "quick answer")
        assert [(r.path, r.json()["model"], r.json().get("stream")) for r in upstream.requests] == [
            ("/chat/completions", "deepseek-reasoner", True),
            ("/chat/completions", "deepseek-chat", None),
        ]
        assert {r.headers["Authorization"] for r in upstream.requests} == {f"Bearer {DEEPSEEK_KEY}"}

        result = CliRunner().invoke(
            main, ["keys", "use-profile", "alice", "kimi", "--config", str(gateway.config.source)]
        )
        assert (result.exit_code, result.output) == (0, "Key 'alice' now uses profile 'kimi'.\n")
        await wait_for_digest(gateway, http, gateway.config.digest)

        assert await ask(sdk, "claude-sonnet-4-5") == ("claude-sonnet-4-5", "kimi thoughts")
        assert await ask(sdk, "claude-haiku-4-5-20251001") == ("claude-haiku-4-5-20251001", "kimi quick")
    assert [r.json()["model"] for r in backup.requests] == ["kimi-k2-thinking", "kimi-k2"]
    assert {r.headers["Authorization"] for r in backup.requests} == {f"Bearer {BACKUP_KEY}"}
    assert len(upstream.requests) == 2  # nothing more went to DeepSeek
