"""Routing by what a request needs: `when:` rules as a table, the features read off real request
shapes, and through the server an image request and a thinking request going to their own channels."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
import pytest

from axonhub.config import Config, build_config, validate
from axonhub.features import NO_FEATURES, RequestFeatures, request_features
from axonhub.formats.registry import FORMATS
from axonhub.formats.spec import WireFormat
from axonhub.profiles import explain, resolve_with_profile
from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

ALL = frozenset({"thinking", "tokens", "images", "tools", "client", "headers"})


def channel(name: str, models: list[str]) -> dict[str, Any]:
    return {"name": name, "type": "anthropic", "base_url": f"http://127.0.0.1:9/{name}", "models": models}


RULES: list[dict[str, Any]] = [
    {"regex": "claude-.*", "when": {"images": True}, "model": "vision"},
    {"regex": "claude-.*", "when": {"thinking": True, "tokens_above": 60000}, "model": "long-thinker"},
    {"regex": "claude-.*", "when": {"thinking": True}, "model": "thinker"},
    {"when": {"tool": ["web_search", "browse"]}, "model": "searcher"},
    {"match": "claude-haiku-4-5", "when": {"client": ["claude-code", "codex"]}, "model": "fast"},
    {"regex": "claude-.*", "when": {"header": {"X-Team": "red"}}, "model": "red-team"},
    {"regex": "claude-.*", "when": {"tokens_above": 100000}, "model": "long"},
    {"regex": "claude-.*", "model": "default"},
]
TARGETS = ["vision", "long-thinker", "thinker", "searcher", "fast", "red-team", "long", "default"]
DOCUMENT: dict[str, Any] = {
    "version": 1,
    "channels": [channel("all", TARGETS)],
    "profiles": {"routed": {"rules": RULES}},
}


@pytest.fixture(scope="module")
def config() -> Config:
    assert validate(DOCUMENT) == []
    return build_config(DOCUMENT, source=None, env={})


def features(**given: Any) -> RequestFeatures:
    return RequestFeatures(**{"headers": MappingProxyType({}), **given})


TABLE: list[tuple[str, str, RequestFeatures, tuple[str, int, str | None]]] = [
    ("plain request", "claude-sonnet-5", NO_FEATURES, ("default", 8, None)),
    ("images win first", "claude-sonnet-5", features(images=True, thinking=True), ("vision", 1, "images present")),
    (
        "both conditions of one rule",
        "claude-opus-4-8",
        features(thinking=True, input_tokens=81234),
        ("long-thinker", 2, "thinking requested, estimated input tokens 81234 > 60000"),
    ),
    (
        "thinking, short",
        "claude-opus-4-8",
        features(thinking=True, input_tokens=500),
        ("thinker", 3, "thinking requested"),
    ),
    (
        "a rule without a name pattern applies to any model",
        "gpt-4o",
        features(tools=frozenset({"websearch", "browse"})),
        ("searcher", 4, "tool browse offered"),
    ),
    (
        "a tool named differently does not match",
        "claude-sonnet-5",
        features(tools=frozenset({"websearch"})),
        ("default", 8, None),
    ),
    ("the client", "claude-haiku-4-5", features(client="codex"), ("fast", 5, "client codex")),
    # the id as sent is tried on every rule before its undated form: the catch-all regex wins
    ("the client, dated id", "claude-haiku-4-5-20251001", features(client="claude-code"), ("default", 8, None)),
    ("another client", "claude-haiku-4-5", features(client="openai-sdk"), ("default", 8, None)),
    ("a header value", "claude-sonnet-5", features(headers={"x-team": "red"}), ("red-team", 6, "header x-team: red")),
    ("another header value", "claude-sonnet-5", features(headers={"x-team": "blue"}), ("default", 8, None)),
    (
        "long without thinking",
        "claude-sonnet-5",
        features(input_tokens=150000),
        ("long", 7, "estimated input tokens 150000 > 100000"),
    ),
    ("exactly the threshold is not above it", "claude-sonnet-5", features(input_tokens=100000), ("default", 8, None)),
]


@pytest.mark.parametrize(("case", "model", "given", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_when_rules_first_match_wins(
    config: Config, case: str, model: str, given: RequestFeatures, expected: tuple[str, int, str | None]
) -> None:
    route = resolve_with_profile(model, config.profiles["routed"], config, given)
    assert (route.resolved_model, route.rule_number, route.condition) == expected


def test_explain_lists_the_rules_skipped_and_why(config: Config) -> None:
    checks = explain(config.profiles["routed"], "claude-sonnet-5", features(thinking=True, input_tokens=10))
    assert [(c.number, c.condition_held, c.reason) for c in checks] == [
        (1, False, "no images"),
        (2, False, "estimated input tokens 10 <= 60000"),
        (3, True, "thinking requested"),
    ]


def test_the_profile_knows_which_features_its_rules_read(config: Config) -> None:
    assert config.profiles["routed"].needs == ALL
    plain = build_config({"profiles": {"p": {"rules": [{"match": "a", "model": "b"}]}}}, source=None, env={})
    assert plain.profiles["p"].needs == frozenset()


CLAUDE_CODE_MAIN = {
    "model": "claude-opus-4-8",
    "max_tokens": 64000,
    "thinking": {"type": "adaptive"},
    "system": [{"type": "text", "text": "You are a Claude agent."}],
    "tools": [
        {"name": "Bash", "description": "run", "input_schema": {"type": "object"}},
        {"name": "WebSearch", "description": "search", "input_schema": {"type": "object"}},
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi " * 400}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
                    ],
                }
            ],
        },
    ],
}
CLAUDE_CODE_WEB_SEARCH = {
    "model": "claude-sonnet-5",
    "max_tokens": 1000,
    "thinking": {"type": "disabled"},
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}],
    "messages": [{"role": "user", "content": "Perform a web search for: axonhub"}],
}
OPENAI_CHAT = {
    "model": "gpt-5",
    "reasoning_effort": "high",
    "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]},
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
}
RESPONSES = {"model": "gpt-5-codex", "reasoning": {"summary": "auto"}, "input": [], "tools": [{"type": "web_search"}]}


@pytest.mark.parametrize(
    ("wire_format", "body", "headers", "expected"),
    [
        (
            "anthropic",
            CLAUDE_CODE_MAIN,
            {"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)", "X-Team": "red"},
            {"thinking": True, "images": True, "tools": {"bash", "websearch"}, "client": "claude-code"},
        ),
        (
            "anthropic",
            CLAUDE_CODE_WEB_SEARCH,
            {"User-Agent": "Anthropic/Python 0.40.0"},
            {"thinking": False, "images": False, "tools": {"web_search"}, "client": "anthropic-sdk"},
        ),
        (
            "openai_chat",
            OPENAI_CHAT,
            {"User-Agent": "OpenAI/Python 1.50.0"},
            {"thinking": True, "images": True, "tools": {"lookup"}, "client": "openai-sdk"},
        ),
        (
            "openai_responses",
            RESPONSES,
            {"User-Agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb"},
            {"thinking": True, "images": False, "tools": {"web_search"}, "client": "codex"},
        ),
        (
            "openai_chat",
            {"model": "m", "messages": []},
            {"User-Agent": "curl/8"},
            {"thinking": False, "images": False, "tools": set(), "client": "other"},
        ),
    ],
)
def test_features_are_read_off_each_wire_format(
    wire_format: str, body: dict[str, Any], headers: dict[str, str], expected: dict[str, Any]
) -> None:
    found = request_features(FORMATS[WireFormat(wire_format)], body, headers, ALL)
    assert {
        "thinking": found.thinking,
        "images": found.images,
        "tools": set(found.tools),
        "client": found.client,
    } == expected


def test_the_token_estimate_is_the_count_tokens_estimate_and_only_computed_when_asked() -> None:
    from axonhub.tokens import estimate_request_tokens

    anthropic = FORMATS[WireFormat.ANTHROPIC]
    estimate = estimate_request_tokens(anthropic.codec.parse_request(CLAUDE_CODE_MAIN))
    assert estimate > 300
    assert request_features(anthropic, CLAUDE_CODE_MAIN, {}, frozenset({"tokens"})).input_tokens == estimate
    assert request_features(anthropic, CLAUDE_CODE_MAIN, {}, frozenset({"thinking"})).input_tokens == 0
    assert request_features(anthropic, CLAUDE_CODE_MAIN, {}, frozenset()) is NO_FEATURES


def test_routing_and_the_plan_share_one_parse_of_the_request() -> None:
    from axonhub.pipeline import Inbound, Planner
    from axonhub.tokens import estimate_request_tokens

    anthropic = FORMATS[WireFormat.ANTHROPIC]
    endpoint = next(e for e in anthropic.endpoints if e.name == "messages")
    raw = json.dumps(CLAUDE_CODE_MAIN).encode()
    planner = Planner(Inbound(anthropic, endpoint, raw, CLAUDE_CODE_MAIN, {}), ping_interval=0)
    found = request_features(anthropic, CLAUDE_CODE_MAIN, {}, frozenset({"tokens"}), planner.estimated_tokens)
    assert found.input_tokens == estimate_request_tokens(anthropic.codec.parse_request(CLAUDE_CODE_MAIN))
    parsed = planner.ir_request()
    assert planner.ir_request() is parsed and planner.estimated_tokens() == found.input_tokens
    # the estimate handed over is the one used: the body is not parsed again for it
    assert request_features(anthropic, {}, {}, frozenset({"tokens"}), lambda: 12_345).input_tokens == 12_345


# ---------------------------------------------------------------------------------------------
# Through the server
# ---------------------------------------------------------------------------------------------

PNG_1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def routed_config(upstream: FakeUpstream, trace: Path) -> dict[str, Any]:
    def anthropic(name: str, models: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "type": "anthropic",
            "base_url": upstream.url,
            "api_key": "${FAKE_ANTHROPIC_KEY}",
            "models": models,
        }

    data = base_config(upstream.url, trace)
    # `main` serves every Claude name, the other two as a backup (priority 1), so a request for
    # claude-vision can only have gone to `vision` when the profile sent it there.
    data["channels"] = [
        anthropic("vision", ["claude-vision"]),
        anthropic("thinking", ["claude-thinker"]),
        {**anthropic("main", [{"regex": "claude-.*"}]), "priority": 1},
    ]
    data["profiles"] = {
        "passthrough": {"rules": []},
        "routed": {
            "rules": [
                {"regex": "claude-.*", "when": {"images": True}, "model": "claude-vision"},
                {"regex": "claude-.*", "when": {"thinking": True}, "model": "claude-thinker"},
            ]
        },
    }
    data["keys"][0]["active_profile"] = "routed"
    return data


def request(content: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": content}], **extra}


async def test_an_image_request_and_a_thinking_request_go_to_their_own_channels(
    start_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.default = Reply.json(wire.message())
    gateway = await start_gateway(routed_config(upstream, tmp_path / "trace.jsonl"))
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1x1}}
    bodies = [
        request(
            [{"type": "text", "text": "what is this?"}, image], thinking={"type": "enabled", "budget_tokens": 1024}
        ),
        request("think hard", thinking={"type": "enabled", "budget_tokens": 1024}),
        request("just answer", thinking={"type": "disabled"}),
    ]
    headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            async with http.post(gateway.url + "/anthropic/v1/messages", json=body, headers=headers) as response:
                assert response.status == 200, await response.text()
    await gateway.server.close()  # flushes the trace
    assert [r.json()["model"] for r in upstream.requests] == ["claude-vision", "claude-thinker", "claude-sonnet-5"]
    traced = [json.loads(line) for line in gateway.config.server.trace.path.read_text().splitlines()]
    assert [(r["profile"], r["rule"], r["rule_condition"], r["resolved_model"], r["channel"]) for r in traced] == [
        ("routed", 1, "images present", "claude-vision", "vision"),
        ("routed", 2, "thinking requested", "claude-thinker", "thinking"),
        ("routed", None, None, "claude-sonnet-5", "main"),
    ]
    assert {r["v"] for r in traced} == {2}
