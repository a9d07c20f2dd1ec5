"""`axonhub profiles`: edit model profiles and see exactly how a request would be routed.

Rule numbers are 1-based everywhere (`show` prints them, `add-rule --at`, `remove-rule` and
`move-rule` take them, `config check` and the trace's `rule` use them); the file itself is an
ordinary YAML list. Writes go through `axonhub.config_edit` (locked, validated, atomic, comments
kept).

`profiles test` calls the server's own `profiles.resolve` on the config file and sends nothing.
The request it routes is described by options (`--thinking`, `--tokens N`, `--images`, `--tool`,
`--client`, `--header`) or taken from the trace (`--request ID`, whose body is there when
`server.trace.bodies` recorded it). Channel availability depends on environment variables
(`api_key: ${VAR}`), read here from the shell running the command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from axonhub.cli.common import config_option, echo_json, fail, json_option, load, warn
from axonhub.cli.keys import CONTEXT, apply_edit, check_name, echo_table, get_key, require_profile
from axonhub.config import Config, Profile, Rule
from axonhub.config_advice import rule_advice
from axonhub.config_edit import EditError, block, kept_tail, section, yaml_str, yaml_verbatim
from axonhub.errors import GatewayError
from axonhub.features import RequestFeatures
from axonhub.profiles import Route, RuleCheck, active_profile, explain, resolve, resolve_with_profile
from axonhub.schema import CLIENTS


def rule_fields(rule: Rule) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if rule.match is not None:
        fields["match"] = rule.match
    elif rule.regex is not None:
        fields["regex"] = rule.regex.pattern
    if rule.when is not None:
        fields["when"] = rule.when.describe()
    fields["model"] = rule.model
    return fields


def users_of(config: Config, profile: str) -> list[dict[str, Any]]:
    """Keys that use `profile`, actively or as one they may switch to."""
    return [
        {"name": k.name, "active": k.active_profile == profile}
        for k in config.keys
        if k.active_profile == profile or profile in k.profiles
    ]


def profile_summary(config: Config, profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "description": profile.description,
        "rules": [{"number": i, **rule_fields(r)} for i, r in enumerate(profile.rules, start=1)],
        "keys": users_of(config, profile.name),
    }


def get_profile(config: Config, name: str) -> Profile:
    profile = config.profiles.get(name)
    if profile is None:
        raise fail(f"no profile named '{name}' (profiles: {', '.join(config.profiles) or 'none'})")
    return profile


def profile_rules(document: CommentedMap, name: str) -> Any:
    """The YAML `rules` list of profile `name`, in block style."""
    require_profile(document, name)
    entry = document["profiles"][name]
    if entry.get("rules") is None:
        entry["rules"] = CommentedSeq()
    return block(entry["rules"])


def check_position(number: int, count: int, what: str) -> int:
    """A 1-based rule number as a 0-based index, or EditError naming the valid range."""
    if not 1 <= number <= count:
        valid = f"1..{count}" if count else "none: the profile has no rules"
        raise EditError(f"{what} {number} is out of range ({valid})")
    return number - 1


@click.group(name="profiles", context_settings=CONTEXT)
def profiles_group() -> None:
    """Manage model profiles: ordered rules that rename the models clients ask for."""


@profiles_group.command("list")
@config_option
@json_option
def list_profiles(config_path: Path, as_json: bool) -> None:
    """List the profiles, their rule counts and the keys using them."""
    config = load(config_path)
    summaries = [profile_summary(config, p) for p in config.profiles.values()]
    if as_json:
        echo_json(summaries)
        return
    rows: list[tuple[str, ...]] = [("NAME", "RULES", "KEYS", "DESCRIPTION")]
    rows += [
        (s["name"], str(len(s["rules"])), ",".join(k["name"] for k in s["keys"]) or "-", s["description"])
        for s in summaries
    ]
    echo_table(rows)


@profiles_group.command("show")
@click.argument("name")
@config_option
@json_option
def show(name: str, config_path: Path, as_json: bool) -> None:
    """Show a profile's numbered rules and the keys using it."""
    config = load(config_path)
    summary = profile_summary(config, get_profile(config, name))
    if as_json:
        echo_json(summary)
        return
    click.echo(f"profile {name}" + (f": {summary['description']}" if summary["description"] else ""))
    for number, rule in enumerate(config.profiles[name].rules, start=1):
        click.echo(f"  {number}. {rule.describe()}")
    if not summary["rules"]:
        click.echo("  (no rules: every model name passes through unchanged)")
    users = [k["name"] + (" (active)" if k["active"] else "") for k in summary["keys"]]
    click.echo(f"keys: {', '.join(users) or 'none'}")


@profiles_group.command("create")
@click.argument("name", callback=check_name)
@click.option("--from", "source", metavar="OTHER", help="Start with a copy of OTHER's rules.")
@click.option("--description", help="A line saying what the profile is for.")
@config_option
def create(name: str, source: str | None, description: str | None, config_path: Path) -> None:
    """Create a profile, empty or as a copy of another."""

    def change(document: CommentedMap) -> None:
        profiles = block(section(document, "profiles", CommentedMap))
        if name in profiles:
            raise EditError(f"a profile named '{name}' already exists")
        entry = CommentedMap()
        rules = CommentedSeq()
        if source is not None:
            require_profile(document, source)
            rules.extend(CommentedMap(r.items()) for r in profiles[source].get("rules") or [])
        if description is not None:
            entry["description"] = yaml_str(description)
        elif source is not None and "description" in profiles[source]:
            entry["description"] = profiles[source]["description"]
        entry["rules"] = block(rules) if rules else rules
        with kept_tail(profiles, (document, "profiles")):
            profiles[yaml_str(name)] = entry

    apply_edit(config_path, change)
    click.echo(f"Profile '{name}' created" + (f" from '{source}'." if source else "."))


@profiles_group.command("delete")
@click.argument("name")
@config_option
def delete(name: str, config_path: Path) -> None:
    """Delete a profile; refused while a key may use it (the message says how to free it)."""

    def change(document: CommentedMap) -> None:
        require_profile(document, name)
        steps = freeing_steps(document, name)
        if steps:
            raise EditError(f"profile '{name}' is still used; free it first:\n  " + "\n  ".join(steps))
        profiles = document["profiles"]
        with kept_tail(profiles, (document, "profiles")):
            del profiles[name]

    apply_edit(config_path, change)
    click.echo(f"Profile '{name}' deleted.")


def freeing_steps(document: CommentedMap, name: str) -> list[str]:
    """The commands that take profile `name` away from every key that may use it."""
    steps = []
    for key in document.get("keys") or []:
        if not isinstance(key, dict):
            continue
        key_name = str(key.get("name"))
        listed = name in (key.get("profiles") or [])
        if key.get("active_profile") == name:
            others = [str(p) for p in key.get("profiles") or [] if p != name]
            switch = f"use-profile {key_name} {others[0]}" if others else f"clear-profile {key_name}"
            steps.append(f"axonhub keys {switch}    (key '{key_name}' uses it now)")
        if listed:
            steps.append(f"axonhub keys remove-profile {key_name} {name}    (key '{key_name}' may switch to it)")
    return steps


WHEN_HELP = (
    "A condition on the request (repeatable, all must hold): thinking, thinking=false, tokens_above=N, "
    "images, images=false, tool=NAME, client=NAME, header=NAME:VALUE."
)


def parse_when(conditions: tuple[str, ...]) -> CommentedMap | None:
    """`--when` options as the YAML `when:` mapping; click.BadParameter naming a wrong one."""
    if not conditions:
        return None
    when = CommentedMap()
    for text in conditions:
        name, has_value, value = text.partition("=")
        name = name.strip().replace("-", "_")
        if name in ("thinking", "images"):
            when[name] = _flag(value) if has_value else True
        elif name == "tokens_above" and value.strip().isdigit():
            when[name] = int(value)
        elif name in ("tool", "client") and value.strip():
            if name == "client" and value.strip() not in CLIENTS:
                raise click.BadParameter(f"client={value}: one of {', '.join(CLIENTS)}", param_hint="--when")
            _append(when, name, value.strip())
        elif name == "header" and ":" in value:
            header, _, wanted = value.partition(":")
            when.setdefault("header", CommentedMap())[yaml_str(header.strip().lower())] = yaml_str(wanted.strip())
        else:
            raise click.BadParameter(f"{text!r}: {WHEN_HELP}", param_hint="--when")
    return when


def _flag(value: str) -> bool:
    if value.strip().lower() in ("true", "yes", "1"):
        return True
    if value.strip().lower() in ("false", "no", "0"):
        return False
    raise click.BadParameter(f"{value!r}: true or false", param_hint="--when")


def _append(when: CommentedMap, name: str, value: str) -> None:
    current = when.get(name)
    if current is None:
        when[name] = yaml_str(value)
    else:
        when[name] = CommentedSeq([*(current if isinstance(current, list) else [current]), yaml_str(value)])
        when[name].fa.set_flow_style()


@profiles_group.command("add-rule")
@click.argument("name")
@click.option("--match", "exact", metavar="MODEL", help="Match this exact model name.")
@click.option("--regex", metavar="PATTERN", help="Match model names this regex matches in full.")
@click.option("--when", "conditions", multiple=True, metavar="COND", help=WHEN_HELP)
@click.option("--to", "target", required=True, metavar="MODEL", help="The model to use; regex groups as \\1.")
@click.option("--at", "position", type=int, metavar="N", help="Insert as rule N (1-based; default: last).")
@config_option
def add_rule(
    name: str,
    exact: str | None,
    regex: str | None,
    conditions: tuple[str, ...],
    target: str,
    position: int | None,
    config_path: Path,
) -> None:
    """Add a rule: matching requests get MODEL instead. The first matching rule wins.

    A rule names the models it is for (--match or --regex), the requests it applies to (--when),
    or both: `--regex 'claude-.*' --when thinking --to deepseek-reasoner`.
    """
    if exact is not None and regex is not None:
        raise click.UsageError("give --match or --regex, not both")
    if exact is None and regex is None and not conditions:
        raise click.UsageError("give --match MODEL, --regex PATTERN or --when COND (or several)")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise fail(f"invalid regex {regex!r}: {exc}") from None
    rule = CommentedMap()
    if exact is not None:
        rule["match"] = yaml_str(exact)
    elif regex is not None:
        rule["regex"] = yaml_verbatim(regex)
    when = parse_when(conditions)
    if when is not None:
        when.fa.set_flow_style()
        rule["when"] = when
    rule["model"] = yaml_str(target)

    def change(document: CommentedMap) -> int:
        rules = profile_rules(document, name)
        index = len(rules) if position is None else check_position(position, len(rules) + 1, "position")
        with kept_tail(rules):
            rules.insert(index, rule)
        return index + 1

    number = apply_edit(config_path, change)
    config = load(config_path)
    added = config.profiles[name].rules[number - 1]
    click.echo(f"Profile '{name}' rule {number}: {added.describe()}")
    for advice in rule_advice(config, name, number):
        warn(advice)


@profiles_group.command("remove-rule")
@click.argument("name")
@click.argument("number", type=int)
@config_option
def remove_rule(name: str, number: int, config_path: Path) -> None:
    """Remove rule NUMBER (as `profiles show` numbers them)."""

    def change(document: CommentedMap) -> None:
        rules = profile_rules(document, name)
        index = check_position(number, len(rules), "rule")
        with kept_tail(rules):
            del rules[index]

    apply_edit(config_path, change)
    click.echo(f"Profile '{name}': rule {number} removed.")


@profiles_group.command("move-rule")
@click.argument("name")
@click.argument("number", type=int)
@click.option("--to", "destination", type=int, required=True, metavar="N", help="Its new number (1-based).")
@config_option
def move_rule(name: str, number: int, destination: int, config_path: Path) -> None:
    """Move rule NUMBER so that it becomes rule N; the others keep their order."""

    def change(document: CommentedMap) -> None:
        rules = profile_rules(document, name)
        source = check_position(number, len(rules), "rule")
        target = check_position(destination, len(rules), "position")
        with kept_tail(rules):
            rules.insert(target, rules.pop(source))

    apply_edit(config_path, change)
    click.echo(f"Profile '{name}': rule {number} is now rule {destination}.")


@profiles_group.command("test")
@click.argument("model", required=False)
@click.option("--key", "key_name", metavar="NAME", help="Route as this key would (its active profile).")
@click.option("--profile", "profile_name", metavar="NAME", help="Route with this profile.")
@click.option("--thinking", is_flag=True, help="The request asks for thinking / reasoning.")
@click.option("--tokens", type=click.IntRange(min=0), metavar="N", help="Its estimated input tokens.")
@click.option("--images", is_flag=True, help="It carries images.")
@click.option("--tool", "tools", multiple=True, metavar="NAME", help="A tool it offers (repeatable).")
@click.option("--client", type=click.Choice(CLIENTS), help="The client that sends it.")
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="A header it carries (repeatable).")
@click.option(
    "--request",
    "request_id",
    metavar="ID",
    help="Route a recorded request (its body is in the trace with `server.trace.bodies: all`).",
)
@click.option(
    "--file",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The trace log for --request (default: the config's).",
)
@config_option
@json_option
def test(
    model: str | None,
    key_name: str | None,
    profile_name: str | None,
    thinking: bool,
    tokens: int | None,
    images: bool,
    tools: tuple[str, ...],
    client: str | None,
    headers: tuple[str, ...],
    request_id: str | None,
    trace_file: Path | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Show what the server would do with a request for MODEL, which rule decides and why; sends nothing."""
    from axonhub.cli.recorded import recorded_request

    if key_name and profile_name:
        raise click.UsageError("give --key or --profile, not both")
    config = load(config_path)
    given = RequestFeatures(
        thinking=thinking,
        input_tokens=tokens or 0,
        images=images,
        tools=frozenset(t.lower() for t in tools),
        client=client or "other",
        headers=_headers(headers),
    )
    notes: list[str] = []
    if request_id is not None:
        recorded = recorded_request(config, request_id, trace_file)
        model = model or recorded.model
        key_name = key_name or (None if profile_name else recorded.key)
        given = recorded.merged(given, tokens_given=tokens is not None, client_given=client is not None)
        notes = recorded.notes
    if not model:
        raise click.UsageError("give MODEL (or --request ID)")
    key = get_key(config, key_name) if key_name else None
    profile = active_profile(key, config) if key else (get_profile(config, profile_name) if profile_name else None)
    try:
        route = resolve(model, key, config, given) if key else resolve_with_profile(model, profile, config, given)
    except GatewayError as err:
        if as_json:
            error = {"type": str(err.kind), "message": err.client_message(True)}
            echo_json({"model": model, "key": key_name, "error": error})
            raise SystemExit(1) from None
        raise fail(err.client_message(True)) from None
    checks = explain(profile, model, given) if profile is not None else []
    for note in notes:
        warn(note)
    if as_json:
        echo_json(route_json(route, key_name, config, given, checks))
    else:
        print_route(route, key_name, config, given, checks)


def _headers(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        name, colon, wanted = value.partition(":")
        if not colon or not name.strip():
            raise click.BadParameter(f"{value!r}: NAME:VALUE", param_hint="--header")
        out[name.strip().lower()] = wanted.strip()
    return out


def features_json(features: RequestFeatures) -> dict[str, Any]:
    return {
        "thinking": features.thinking,
        "input_tokens": features.input_tokens,
        "images": features.images,
        "tools": sorted(features.tools),
        "client": features.client,
        "headers": dict(features.headers),
    }


def features_text(features: RequestFeatures) -> str:
    parts = ["thinking" if features.thinking else "no thinking", f"~{features.input_tokens} input tokens"]
    parts.append("images" if features.images else "no images")
    if features.tools:
        parts.append("tools " + ", ".join(sorted(features.tools)))
    parts.append(f"client {features.client}")
    parts += [f"{k}: {v}" for k, v in features.headers.items()]
    return ", ".join(parts)


def route_json(
    route: Route, key_name: str | None, config: Config, features: RequestFeatures, checks: list[RuleCheck]
) -> dict[str, Any]:
    rule = None
    if route.profile is not None and route.rule_number is not None:
        rule = {"number": route.rule_number, **rule_fields(config.profiles[route.profile].rules[route.rule_number - 1])}
        rule["because"] = route.condition
    return {
        "model": route.requested_model,
        "key": key_name,
        "request": features_json(features),
        "profile": route.profile,
        "rule": rule,
        "checked": [
            {"number": c.number, **rule_fields(c.rule), "applies": c.condition_held, "reason": c.reason}
            for c in checks
            if c.rule.when is not None
        ],
        "matched_as": route.matched_as,
        "resolved_model": route.resolved_model,
        "channels": [
            {
                "name": c.channel.name,
                "type": c.channel.type,
                "base_url": c.channel.base_url,
                "priority": c.channel.priority,
                "weight": c.channel.weight,
                "upstream_model": c.upstream_model,
            }
            for c in route.candidates
        ],
        "skipped": list(route.skipped),
    }


def print_route(
    route: Route, key_name: str | None, config: Config, features: RequestFeatures, checks: list[RuleCheck]
) -> None:
    data = route_json(route, key_name, config, features, checks)
    lines = [("model", route.requested_model)]
    if key_name:
        lines.append(("key", key_name))
    profile = config.profiles.get(route.profile) if route.profile else None
    if profile is not None and profile.needs:
        lines.append(("request", features_text(features)))
    lines.append(("profile", route.profile or "none (model names pass through unchanged)"))
    for check in checks:
        if check.rule.when is not None and not check.condition_held:
            lines.append(("checked", f"{check.number}. {check.rule.describe()}  (does not apply: {check.reason})"))
    if route.profile is not None:
        rule = "none matched: the name passes through"
        if data["rule"] is not None:
            rule = f"{route.rule_number}. {route.rule}"
            rule += f"  (matched as {route.matched_as})" if route.matched_as else ""
            rule += f"  (because: {route.condition})" if route.condition else ""
        lines.append(("rule", rule))
    lines.append(("resolved", route.resolved_model))
    for i, ch in enumerate(data["channels"]):
        detail = f"{ch['name']} ({ch['type']}, priority {ch['priority']}, weight {ch['weight']})"
        lines.append(("channel" if i == 0 else "", f"{detail} -> upstream model {ch['upstream_model']}"))
    lines += [("skipped", reason) for reason in route.skipped]
    for label, value in lines:
        click.echo(f"{label:9} {value}")
