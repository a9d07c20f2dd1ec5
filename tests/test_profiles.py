"""Model resolution as a table: key → profile → rule → model → channels, with no IO."""

from __future__ import annotations

from typing import Any

import pytest

from axonhub.config import Config, Key, build_config, validate
from axonhub.errors import AuthenticationFailed, ChannelUnavailable, NotFound
from axonhub.profiles import Route, id_forms, resolve, resolve_with_profile, split_variant

ENV = {"T_ANTHROPIC": "sk-a", "T_DEEPSEEK": "sk-d", "T_BACKUP": "sk-b"}


def channel(name: str, models: list[Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "anthropic", "base_url": f"http://127.0.0.1:9/{name}", "models": models, **extra}


DOCUMENT: dict[str, Any] = {
    "version": 1,
    "channels": [
        channel("anthropic", [{"regex": "claude-.*"}], api_key="${T_ANTHROPIC}"),
        channel("deepseek", ["deepseek-chat", "deepseek-reasoner"], api_key="${T_DEEPSEEK}"),
        channel("backup", ["deepseek-chat"], api_key="${T_BACKUP}", priority=1, aliases={"deepseek-chat": "ds-v3"}),
        channel("light", ["kimi-k2"], weight=1),
        channel("heavy", ["kimi-k2"], weight=5),
        channel("first-in-file", ["glm-4"]),
        channel("second-in-file", ["glm-4"]),
        channel("off", ["gpt-4o"], enabled=False),
        channel("no-secret", ["qwen-max"], api_key="${T_NEVER_SET}"),
    ],
    "profiles": {
        "seed": {
            "rules": [
                {"regex": "claude-(opus|sonnet)-.*", "model": "deepseek-reasoner"},
                {"regex": "claude-.*haiku.*", "model": "deepseek-chat"},
            ]
        },
        "exact": {
            "rules": [
                {"match": "claude-sonnet-4-5-20250929", "model": "deepseek-reasoner"},
                {"match": "claude-sonnet-4-5", "model": "deepseek-chat"},
                {"match": "claude-opus-4-8", "model": "kimi-k2"},
            ]
        },
        "groups": {"rules": [{"regex": r"ds-(chat|reasoner)", "model": r"deepseek-\1"}]},
        "order": {
            "rules": [
                {"regex": "claude-.*", "model": "deepseek-chat"},
                {"match": "claude-opus-4-8", "model": "deepseek-reasoner"},
            ]
        },
        "anchored": {"rules": [{"regex": "sonnet", "model": "deepseek-chat"}]},
        "bracketed": {"rules": [{"match": "claude-opus-4-8[1m]", "model": "kimi-k2"}]},
        "dead-end": {"rules": [{"match": "claude-sonnet-4-5", "model": "no-such-model"}]},
        "unavailable": {"rules": [{"match": "claude-sonnet-4-5", "model": "qwen-max"}]},
    },
    "keys": [
        {"name": "seeded", "secret_hash": "sha256:" + "1" * 64, "active_profile": "seed"},
        {"name": "plain", "secret_hash": "sha256:" + "2" * 64},
        {"name": "off", "secret_hash": "sha256:" + "3" * 64, "active_profile": "seed", "enabled": False},
    ],
}


@pytest.fixture(scope="module")
def config() -> Config:
    assert validate(DOCUMENT) == []
    return build_config(DOCUMENT, source=None, env=ENV)


def route(config: Config, profile: str | None, model: str) -> Route:
    return resolve_with_profile(model, config.profiles[profile] if profile else None, config)


def shape(r: Route) -> tuple[str, int | None, str, str]:
    """(resolved model, 1-based rule number, first channel, its upstream model name)."""
    first = r.candidates[0]
    return (
        r.resolved_model,
        r.rule_number,
        first.channel.name,
        first.upstream_model,
    )


TABLE = [
    # exact names, and an exact rule written for the dated id wins over the undated one
    ("exact", "claude-sonnet-4-5", ("deepseek-chat", 2, "deepseek", "deepseek-chat")),
    ("exact", "claude-sonnet-4-5-20250929", ("deepseek-reasoner", 1, "deepseek", "deepseek-reasoner")),
    # Claude Code's dated and [1m] ids fall back to the undated, unsuffixed name
    ("exact", "claude-sonnet-4-5-20250101", ("deepseek-chat", 2, "deepseek", "deepseek-chat")),
    ("exact", "claude-opus-4-8[1m]", ("kimi-k2", 3, "heavy", "kimi-k2")),
    ("exact", "claude-sonnet-4-5-20250929[1m]", ("deepseek-reasoner", 1, "deepseek", "deepseek-reasoner")),
    ("exact", "claude-sonnet-4-5-20250101[1m]", ("deepseek-chat", 2, "deepseek", "deepseek-chat")),
    # a rule written for the suffixed id as sent matches it first
    ("bracketed", "claude-opus-4-8[1m]", ("kimi-k2", 1, "heavy", "kimi-k2")),
    ("bracketed", "claude-opus-4-8", ("claude-opus-4-8", None, "anthropic", "claude-opus-4-8")),
    # regex families, with dated, suffixed and old-style ids
    ("seed", "claude-sonnet-4-5", ("deepseek-reasoner", 1, "deepseek", "deepseek-reasoner")),
    ("seed", "claude-opus-4-8[1m]", ("deepseek-reasoner", 1, "deepseek", "deepseek-reasoner")),
    ("seed", "claude-haiku-4-5-20251001", ("deepseek-chat", 2, "deepseek", "deepseek-chat")),
    ("seed", "claude-3-5-haiku-20241022", ("deepseek-chat", 2, "deepseek", "deepseek-chat")),
    # regex groups in the target
    ("groups", "ds-reasoner", ("deepseek-reasoner", 1, "deepseek", "deepseek-reasoner")),
    # order: the first matching rule wins even when a later one is exact
    ("order", "claude-opus-4-8", ("deepseek-chat", 1, "deepseek", "deepseek-chat")),
    # anchoring: a regex must match the whole name
    ("anchored", "claude-sonnet-4-5", ("claude-sonnet-4-5", None, "anthropic", "claude-sonnet-4-5")),
    ("anchored", "sonnet", ("deepseek-chat", 1, "deepseek", "deepseek-chat")),
    # no rule matches: the name passes through unchanged
    ("seed", "deepseek-chat", ("deepseek-chat", None, "deepseek", "deepseek-chat")),
    # no profile at all
    (
        None,
        "claude-sonnet-4-5-20250929",
        ("claude-sonnet-4-5-20250929", None, "anthropic", "claude-sonnet-4-5-20250929"),
    ),
    # passing through, the [1m] suffix never reaches the upstream
    (None, "claude-opus-4-8[1m]", ("claude-opus-4-8[1m]", None, "anthropic", "claude-opus-4-8")),
]


@pytest.mark.parametrize(("profile", "model", "expected"), TABLE)
def test_resolution_table(config: Config, profile: str | None, model: str, expected: tuple[Any, ...]) -> None:
    assert shape(route(config, profile, model)) == expected


def test_the_form_a_rule_matched_and_the_suffix_are_recorded(config: Config) -> None:
    r = route(config, "exact", "claude-sonnet-4-5-20250101[1m]")
    assert (r.matched_as, r.variant, r.rule) == (
        "claude-sonnet-4-5",
        "[1m]",
        "match claude-sonnet-4-5 -> deepseek-chat",
    )
    assert route(config, "exact", "claude-sonnet-4-5").matched_as is None


def test_a_key_resolves_through_its_active_profile(config: Config) -> None:
    key = config.key_by_name("seeded")
    r = resolve("claude-haiku-4-5", key, config)
    assert (r.profile, r.resolved_model, r.rule_number) == ("seed", "deepseek-chat", 2)


def test_a_key_without_a_profile_passes_the_name_through(config: Config) -> None:
    r = resolve("claude-haiku-4-5", config.key_by_name("plain"), config)
    assert (r.profile, r.rule, r.resolved_model) == (None, None, "claude-haiku-4-5")
    assert [c.channel.name for c in r.candidates] == ["anthropic"]


def test_a_disabled_key_resolves_to_the_servers_401(config: Config) -> None:
    with pytest.raises(AuthenticationFailed, match="API key 'off' is disabled"):
        resolve("claude-haiku-4-5", config.key_by_name("off"), config)


def test_no_key_at_all_is_the_same_as_no_profile(config: Config) -> None:
    assert resolve("glm-4", None, config).profile is None


def test_channels_are_ordered_by_priority_then_weight_then_file_order(config: Config) -> None:
    assert [c.channel.name for c in route(config, None, "deepseek-chat").candidates] == ["deepseek", "backup"]
    assert [c.channel.name for c in route(config, None, "kimi-k2").candidates] == ["heavy", "light"]
    assert [c.channel.name for c in route(config, None, "glm-4").candidates] == ["first-in-file", "second-in-file"]


def test_a_channel_alias_renames_the_model_for_its_upstream_only(config: Config) -> None:
    r = route(config, None, "deepseek-chat")
    assert [(c.channel.name, c.upstream_model) for c in r.candidates] == [
        ("deepseek", "deepseek-chat"),
        ("backup", "ds-v3"),
    ]


def test_nothing_serving_the_model_names_the_model_the_profile_and_the_resolved_name(config: Config) -> None:
    with pytest.raises(NotFound) as info:
        route(config, "dead-end", "claude-sonnet-4-5-20250929")
    assert info.value.message == (
        "model 'claude-sonnet-4-5-20250929' is not served by any channel "
        "(profile 'dead-end' rule 1 resolved it to 'no-such-model')"
    )


def test_nothing_serving_an_unmatched_model_says_no_rule_matched(config: Config) -> None:
    with pytest.raises(NotFound, match="no rule of profile 'seed' matched it"):
        route(config, "seed", "gemini-2.5-pro")
    with pytest.raises(NotFound, match="no profile is active"):
        route(config, None, "gemini-2.5-pro")


def test_a_disabled_channel_does_not_serve(config: Config) -> None:
    with pytest.raises(NotFound, match="'gpt-4o' is not served by any channel"):
        route(config, None, "gpt-4o")


def test_a_channel_without_its_secret_is_unavailable_with_the_variable_named_in_the_operator_hint(
    config: Config,
) -> None:
    with pytest.raises(ChannelUnavailable) as info:
        route(config, "unavailable", "claude-sonnet-4-5")
    assert info.value.message == (
        "no channel can serve 'qwen-max' right now: channel 'no-secret' is unavailable: its API key is not configured"
    )
    assert "T_NEVER_SET is not set" in (info.value.hint or "")


def test_an_unavailable_channel_is_skipped_when_another_serves_the_model() -> None:
    document = {**DOCUMENT, "channels": [*DOCUMENT["channels"], channel("spare", ["qwen-max"])]}
    config = build_config(document, source=None, env=ENV)
    r = route(config, None, "qwen-max")
    assert [c.channel.name for c in r.candidates] == ["spare"]
    assert len(r.skipped) == 1 and "T_NEVER_SET" in r.skipped[0]


@pytest.mark.parametrize(
    ("model", "forms"),
    [
        ("claude-sonnet-4-5", ["claude-sonnet-4-5"]),
        ("claude-sonnet-4-5-20250929", ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]),
        ("claude-opus-4-8[1m]", ["claude-opus-4-8[1m]", "claude-opus-4-8"]),
        (
            "claude-sonnet-4-5-20250929[1m]",
            ["claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
        ),
        ("gpt-4o-2024-08-06", ["gpt-4o-2024-08-06"]),
    ],
)
def test_the_forms_of_an_id_rules_are_tried_on(model: str, forms: list[str]) -> None:
    assert id_forms(model) == forms


def test_split_variant_leaves_names_without_a_suffix_alone() -> None:
    assert split_variant("claude-opus-4-8[1m]") == ("claude-opus-4-8", "[1m]")
    assert split_variant("[1m]") == ("[1m]", None)
    assert split_variant("deepseek-chat") == ("deepseek-chat", None)


def test_a_key_object_not_in_the_config_still_resolves_by_its_profile(config: Config) -> None:
    key = Key(name="adhoc", secret_hash="sha256:" + "9" * 64, active_profile="groups")
    assert resolve("ds-chat", key, config).resolved_model == "deepseek-chat"


def test_a_suffix_kept_by_a_regex_target_is_dropped_for_channels_and_upstream() -> None:
    document = {**DOCUMENT, "profiles": {"kimi": {"rules": [{"regex": r"claude-opus-4-8(.*)", "model": r"kimi-k2\1"}]}}}
    config = build_config(document, source=None, env=ENV)
    r = route(config, "kimi", "claude-opus-4-8[1m]")
    assert (r.resolved_model, r.variant) == ("kimi-k2[1m]", "[1m]")
    assert [(c.channel.name, c.upstream_model) for c in r.candidates] == [("heavy", "kimi-k2"), ("light", "kimi-k2")]
