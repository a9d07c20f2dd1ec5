"""Pure model-name resolution: key → active profile → rule → model → channels. No IO.

`resolve()` is what the server does for every request and what `axonhub profiles test` prints, so
the two can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axonhub.config import Channel, Config, Key, Profile, Rule
from axonhub.errors import ChannelUnavailable, NotFound


@dataclass(frozen=True, slots=True)
class Candidate:
    channel: Channel
    upstream_model: str


@dataclass(frozen=True, slots=True)
class Route:
    requested_model: str
    profile: str | None
    rule_index: int | None
    rule: str | None
    resolved_model: str
    candidates: tuple[Candidate, ...]


def apply_rule(rule: Rule, model: str) -> str | None:
    """The rule's target for `model`, or None when the rule does not match it."""
    if rule.match is not None:
        return rule.model if rule.match == model else None
    assert rule.regex is not None
    found = rule.regex.fullmatch(model)
    if found is None:
        return None
    try:
        return found.expand(rule.model)
    except (re.error, IndexError):
        return rule.model


def apply_profile(profile: Profile | None, model: str) -> tuple[str, int | None]:
    """(resolved model, index of the rule that matched); the name passes unchanged when none does."""
    if profile is not None:
        for index, rule in enumerate(profile.rules):
            target = apply_rule(rule, model)
            if target is not None:
                return target, index
    return model, None


def active_profile(key: Key | None, config: Config) -> Profile | None:
    if key is None or key.active_profile is None:
        return None
    return config.profiles.get(key.active_profile)


def serving_channels(model: str, config: Config) -> list[Channel]:
    """Enabled channels whose `models` serve `model`, lowest priority first, then heaviest."""
    order = {ch.name: i for i, ch in enumerate(config.channels)}
    found = [ch for ch in config.channels if ch.enabled and ch.models.matches(model)]
    return sorted(found, key=lambda ch: (ch.priority, -ch.weight, order[ch.name]))


def resolve(model: str, key: Key | None, config: Config) -> Route:
    """Everything the gateway decides about a request's model, or NotFound/ChannelUnavailable."""
    profile = active_profile(key, config)
    resolved, rule_index = apply_profile(profile, model)
    channels = serving_channels(resolved, config)
    usable = [ch for ch in channels if ch.unavailable_reason is None]
    if not usable:
        if channels:
            raise ChannelUnavailable(str(channels[0].unavailable_reason))
        via = f" (profile '{profile.name}' resolved it to '{resolved}')" if profile else ""
        raise NotFound(f"model '{model}' is not served by any channel{via}")
    rule = profile.rules[rule_index].describe() if profile and rule_index is not None else None
    return Route(
        requested_model=model,
        profile=profile.name if profile else None,
        rule_index=rule_index,
        rule=rule,
        resolved_model=resolved,
        candidates=tuple(Candidate(ch, ch.upstream_model(resolved)) for ch in usable),
    )
