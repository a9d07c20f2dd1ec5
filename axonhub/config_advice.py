"""Warnings about a valid config that will not do what it says: shown by `config check`, `serve`
and `profiles add-rule`. Pure functions of a loaded `Config`.

- A profile rule whose target no enabled channel serves: the request would fail with a 404 that
  Claude Code shows as its own generic "issue with the selected model", the reason only in the trace.
- A `base_url` that is probably missing (or repeating) its `/v1`: OpenAI-compatible channels get
  `/chat/completions` appended to it, Anthropic channels `/v1/messages`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from axonhub.config import Channel, Config, Rule
from axonhub.config_errors import did_you_mean
from axonhub.profiles import serving_channels, split_variant

_GROUP_REF = re.compile(r"\\(\d|g<)")
_VERSIONED = re.compile(r"/v\d+[a-z]*(/|$)")
# OpenAI-compatible types whose API root carries a version segment (DeepSeek answers without one).
_NEEDS_VERSION = frozenset({"openai", "openrouter", "moonshot"})


def config_advice(config: Config) -> list[str]:
    """Every warning about `config`: rules first, then channels."""
    advice = [text for name in config.profiles for text in profile_advice(config, name)]
    return advice + [text for i, channel in enumerate(config.channels) for text in base_url_advice(i, channel)]


def profile_advice(config: Config, profile: str) -> list[str]:
    rules = config.profiles[profile].rules
    return [text for number in range(1, len(rules) + 1) for text in rule_advice(config, profile, number)]


def rule_advice(config: Config, profile: str, number: int) -> list[str]:
    """Warnings about rule `number` (1-based) of `profile`."""
    rule = config.profiles[profile].rules[number - 1]
    target = rule.model
    if _GROUP_REF.search(target) or _served(config, target):
        return []
    return [f"profiles.{profile} rule {number} ({rule.describe()}): {_unserved(config, rule)}"]


def _served(config: Config, model: str) -> bool:
    return bool(serving_channels(model, config) or serving_channels(split_variant(model)[0], config))


def _unserved(config: Config, rule: Rule) -> str:
    names = {name for ch in config.channels for name in (*ch.models.exact, *ch.aliases)}
    disabled = [ch.name for ch in config.channels if not ch.enabled and ch.models.matches(rule.model)]
    if disabled:
        return f"'{rule.model}' is served only by disabled channel(s) {', '.join(disabled)}"
    return (
        f"no channel serves '{rule.model}'{did_you_mean(rule.model, names)}; requests it matches would fail "
        "(add the model to a channel's `models`, or fix the rule's target)"
    )


def base_url_advice(index: int, channel: Channel) -> list[str]:
    path = urlsplit(channel.base_url).path.rstrip("/")
    where = f"channels[{index}].base_url ({channel.name})"
    if channel.type == "anthropic" and path.endswith("/v1"):
        root = channel.base_url.removesuffix("/v1")
        return [f"{where}: requests go to {channel.base_url}/v1/messages; give the API root without /v1 ({root})"]
    if channel.type in _NEEDS_VERSION and not _VERSIONED.search(path + "/"):
        return [
            f"{where}: requests go to {channel.base_url}/chat/completions; OpenAI-compatible APIs usually "
            f"end in /v1 (did you mean {channel.base_url}/v1?)"
        ]
    return []
