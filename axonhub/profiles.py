"""Pure model-name resolution: key → active profile → rule → model → channels. No IO.

`resolve()` is what the server does for every request and what `axonhub profiles test` prints, so
the two can never disagree.

Claude Code's model ids. Claude Code sends dated ids (`claude-sonnet-4-5-20250929`) and, for the
1M-token context, a bracket suffix (`claude-opus-4-8[1m]`). Rules are tried in up to three passes,
each over the whole rule list in order, and the first pass with a matching rule wins:

1. the id as sent;
2. the id without its bracket suffix (`claude-opus-4-8`), when it has one;
3. that id without its `-YYYYMMDD` date (`claude-sonnet-4-5`), when it has one.

So a rule written for the id exactly as sent always wins over a looser one, and `match:
claude-sonnet-4-5` also catches `claude-sonnet-4-5-20250929[1m]`. Families (haiku/sonnet/opus) are
plain regex rules: `regex: "claude-.*haiku.*"` covers `claude-haiku-4-5`, its dated ids and the
older `claude-3-5-haiku-20241022`.

The bracket suffix is a Claude Code notation, not a model name any provider knows: channels are
matched on the resolved name as it is and then without the suffix, and the name sent upstream never
carries it (`Route.variant` keeps it for whoever needs it).

Order of channels: lowest `priority` first, then heaviest `weight`, then file order (dispatch
shuffles equal priorities by weight per request). A channel may rename the model upstream
(`aliases`). A disabled key resolves to nothing: the server answers it with a 401.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axonhub.config import Channel, Config, Key, Profile, Rule
from axonhub.errors import AuthenticationFailed, ChannelUnavailable, NotFound

_VARIANT = re.compile(r"^(?P<base>.+?)(?P<variant>\[[0-9A-Za-z._-]+\])$")
_DATE = re.compile(r"^(?P<base>.+)-(?P<date>20\d{6})$")


@dataclass(frozen=True, slots=True)
class Candidate:
    channel: Channel
    upstream_model: str


@dataclass(frozen=True, slots=True)
class Route:
    requested_model: str
    profile: str | None
    rule_index: int | None  # 0-based index in the profile's rules; the CLI shows it 1-based
    rule: str | None
    resolved_model: str
    candidates: tuple[Candidate, ...]
    matched_as: str | None = None  # the form of the id the rule matched, when not the id as sent
    variant: str | None = None  # the bracket suffix of the requested id, e.g. "[1m]"
    skipped: tuple[str, ...] = ()  # why channels serving the model were left out


@dataclass(frozen=True, slots=True)
class RuleMatch:
    index: int
    target: str
    matched_as: str


def split_variant(model: str) -> tuple[str, str | None]:
    """`claude-opus-4-8[1m]` -> (`claude-opus-4-8`, `[1m]`); other names -> (name, None)."""
    found = _VARIANT.match(model)
    return (found["base"], found["variant"]) if found else (model, None)


def id_forms(model: str) -> list[str]:
    """The forms of a requested id that rules are tried on, most specific first."""
    forms = [model]
    base, variant = split_variant(model)
    if variant:
        forms.append(base)
    undated = _DATE.match(base)
    if undated:
        forms.append(undated["base"])
    return forms


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


def match_profile(profile: Profile, model: str) -> RuleMatch | None:
    """The first rule matching the first form of `model` that any rule matches."""
    for form in id_forms(model):
        for index, rule in enumerate(profile.rules):
            target = apply_rule(rule, form)
            if target is not None:
                return RuleMatch(index, target, form)
    return None


def active_profile(key: Key | None, config: Config) -> Profile | None:
    if key is None or key.active_profile is None:
        return None
    return config.profiles.get(key.active_profile)


def serving_channels(model: str, config: Config) -> list[Channel]:
    """Enabled channels whose `models` serve `model`, lowest priority first, then heaviest."""
    order = {ch.name: i for i, ch in enumerate(config.channels)}
    found = [ch for ch in config.channels if ch.enabled and ch.models.matches(model)]
    return sorted(found, key=lambda ch: (ch.priority, -ch.weight, order[ch.name]))


def upstream_name(channel: Channel, model: str) -> str:
    """The name `channel` knows `model` by: its alias, else the name without a bracket suffix."""
    if model in channel.aliases:
        return channel.aliases[model]
    base, _ = split_variant(model)
    return channel.aliases.get(base, base)


def resolve(model: str, key: Key | None, config: Config) -> Route:
    """Everything the gateway decides about a request's model, or NotFound/ChannelUnavailable."""
    if key is not None and not key.enabled:
        raise AuthenticationFailed(f"API key '{key.name}' is disabled")
    return resolve_with_profile(model, active_profile(key, config), config)


def resolve_with_profile(model: str, profile: Profile | None, config: Config) -> Route:
    """`resolve` for a given profile (None: no profile, the name passes through)."""
    found = match_profile(profile, model) if profile is not None else None
    resolved = found.target if found else model
    channels = serving_channels(resolved, config)
    if not channels:
        channels = serving_channels(split_variant(resolved)[0], config)
    usable = [ch for ch in channels if ch.unavailable_reason is None]
    if not usable:
        raise _no_channel(model, profile, found, resolved, channels)
    return Route(
        requested_model=model,
        profile=profile.name if profile else None,
        rule_index=found.index if found else None,
        rule=profile.rules[found.index].describe() if profile and found else None,
        resolved_model=resolved,
        candidates=tuple(Candidate(ch, upstream_name(ch, resolved)) for ch in usable),
        matched_as=found.matched_as if found and found.matched_as != model else None,
        variant=split_variant(model)[1],
        skipped=tuple(str(ch.unavailable_reason) for ch in channels if ch.unavailable_reason),
    )


def _no_channel(
    model: str, profile: Profile | None, found: RuleMatch | None, resolved: str, channels: list[Channel]
) -> NotFound | ChannelUnavailable:
    if channels:
        found_reasons = [ch.unavailability for ch in channels]
        reasons = "; ".join(why for why, _ in filter(None, found_reasons))
        hints = "; ".join(hint for _, hint in filter(None, found_reasons) if hint)
        return ChannelUnavailable(f"no channel can serve '{resolved}' right now: {reasons}", hint=hints or None)
    if profile is None:
        return NotFound(f"model '{model}' is not served by any channel (no profile is active)")
    if found is None:
        return NotFound(
            f"model '{model}' is not served by any channel (no rule of profile '{profile.name}' matched it)"
        )
    return NotFound(
        f"model '{model}' is not served by any channel (profile '{profile.name}' rule {found.index + 1} "
        f"resolved it to '{resolved}')"
    )
