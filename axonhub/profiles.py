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

Conditions. A rule may also say `when:` — the request asks for thinking, its estimated input
tokens exceed N, it carries images, it offers a given tool, a given client sent it, a header has a
given value (all of them must hold). A rule whose conditions do not hold is skipped, so the first
rule whose name *and* conditions match wins; a rule with `when:` and no `match`/`regex` applies to
any model name. The conditions read `RequestFeatures`, computed once per request by the pipeline
(`axonhub.features`); `Route.condition` says which condition decided.

Rules are numbered from 1 (`Route.rule_number`), in the trace, `config check` and the CLI alike.

The bracket suffix is a Claude Code notation, not a model name any provider knows: channels are
matched on the resolved name as it is and then without the suffix, and the name sent upstream never
carries it (`Route.variant` keeps it for whoever needs it).

Order of channels: lowest `priority` first, then heaviest `weight`, then file order (dispatch
shuffles equal priorities by weight per request). A channel may rename the model upstream
(`aliases`). A disabled key resolves to nothing: the server answers it with a 401.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from axonhub.config import Channel, Config, Key, Profile, Rule, When
from axonhub.errors import AuthenticationFailed, ChannelUnavailable, NotFound
from axonhub.features import NO_FEATURES, RequestFeatures

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
    rule_number: int | None  # 1-based, as `profiles show` numbers the rules
    rule: str | None
    resolved_model: str
    candidates: tuple[Candidate, ...]
    matched_as: str | None = None  # the form of the id the rule matched, when not the id as sent
    variant: str | None = None  # the bracket suffix of the requested id, e.g. "[1m]"
    skipped: tuple[str, ...] = ()  # why channels serving the model were left out
    condition: str | None = None  # the rule's `when:` as this request met it, e.g. "thinking requested"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    number: int  # 1-based
    target: str
    matched_as: str
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule as `profiles test` explains it: did its name match, did its conditions hold, why."""

    number: int
    rule: Rule
    name_matched: bool
    condition_held: bool
    reason: str


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
    if rule.regex is None:
        return rule.model  # a rule with only `when:` is for any model name
    found = rule.regex.fullmatch(model)
    if found is None:
        return None
    try:
        return found.expand(rule.model)
    except (re.error, IndexError):
        return rule.model


def match_profile(profile: Profile, model: str, features: RequestFeatures = NO_FEATURES) -> RuleMatch | None:
    """The first rule matching the first form of `model` that any rule matches, whose conditions hold."""
    for form in id_forms(model):
        for index, rule in enumerate(profile.rules):
            target = apply_rule(rule, form)
            if target is None:
                continue
            held, reason = check_when(rule.when, features)
            if held:
                return RuleMatch(index + 1, target, form, reason if rule.when else None)
    return None


def check_when(when: When | None, features: RequestFeatures) -> tuple[bool, str]:
    """Whether every condition holds for the request, and the reason: what held, else what did not."""
    if when is None:
        return True, "no conditions"
    checks = _condition_checks(when, features)
    failed = [text for held, text in checks if not held]
    if failed:
        return False, "; ".join(failed)
    return True, ", ".join(text for _, text in checks)


def _condition_checks(when: When, f: RequestFeatures) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    if when.thinking is not None:
        checks.append((f.thinking == when.thinking, "thinking requested" if f.thinking else "no thinking requested"))
    if when.tokens_above is not None:
        above = f.input_tokens > when.tokens_above
        checks.append((above, f"estimated input tokens {f.input_tokens} {'>' if above else '<='} {when.tokens_above}"))
    if when.images is not None:
        checks.append((f.images == when.images, "images present" if f.images else "no images"))
    if when.tools:
        offered = [t for t in when.tools if t.lower() in f.tools]
        checks.append((bool(offered), f"tool {offered[0]} offered" if offered else f"no tool {'|'.join(when.tools)}"))
    if when.clients:
        checks.append((f.client in when.clients, f"client {f.client}"))
    for name, wanted in when.headers.items():
        value = _header(f.headers, name)
        checks.append((value == wanted, f"header {name}: {value}" if value is not None else f"no header {name}"))
    return checks


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def explain(profile: Profile, model: str, features: RequestFeatures) -> list[RuleCheck]:
    """Every rule checked against the request in the order `match_profile` tries them, up to the winner."""
    checks: list[RuleCheck] = []
    for form in id_forms(model):
        for index, rule in enumerate(profile.rules):
            if apply_rule(rule, form) is None:
                continue
            held, reason = check_when(rule.when, features)
            checks.append(RuleCheck(index + 1, rule, True, held, reason))
            if held:
                return checks
    return checks


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


def resolve(model: str, key: Key | None, config: Config, features: RequestFeatures = NO_FEATURES) -> Route:
    """Everything the gateway decides about a request's model, or NotFound/ChannelUnavailable."""
    if key is not None and not key.enabled:
        raise AuthenticationFailed(f"API key '{key.name}' is disabled")
    return resolve_with_profile(model, active_profile(key, config), config, features)


def resolve_with_profile(
    model: str, profile: Profile | None, config: Config, features: RequestFeatures = NO_FEATURES
) -> Route:
    """`resolve` for a given profile (None: no profile, the name passes through)."""
    found = match_profile(profile, model, features) if profile is not None else None
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
        rule_number=found.number if found else None,
        rule=profile.rules[found.number - 1].describe() if profile and found else None,
        resolved_model=resolved,
        candidates=tuple(Candidate(ch, upstream_name(ch, resolved)) for ch in usable),
        matched_as=found.matched_as if found and found.matched_as != model else None,
        variant=split_variant(model)[1],
        skipped=tuple(str(ch.unavailable_reason) for ch in channels if ch.unavailable_reason),
        condition=found.condition if found else None,
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
        f"model '{model}' is not served by any channel (profile '{profile.name}' rule {found.number} "
        f"resolved it to '{resolved}')"
    )
