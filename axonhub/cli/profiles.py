"""`axonhub profiles`: edit model profiles and see exactly how a model name would be routed.

Rule numbers are 1-based everywhere in the CLI (`show` prints them, `add-rule --at`,
`remove-rule` and `move-rule` take them); the file itself is an ordinary YAML list. Writes go
through `axonhub.config_edit` (locked, validated, atomic, comments kept).

`profiles test` calls the server's own `profiles.resolve` on the config file and sends nothing.
Channel availability depends on environment variables (`api_key: ${VAR}`), read here from the
shell running the command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from axonhub.cli.common import config_option, echo_json, fail, json_option, load
from axonhub.cli.keys import CONTEXT, apply_edit, check_name, echo_table, get_key, require_profile
from axonhub.config import Config, Profile, Rule
from axonhub.config_edit import EditError, block, kept_tail, section, yaml_str, yaml_verbatim
from axonhub.errors import GatewayError
from axonhub.profiles import Route, resolve, resolve_with_profile


def rule_fields(rule: Rule) -> dict[str, str]:
    if rule.match is not None:
        return {"match": rule.match, "model": rule.model}
    assert rule.regex is not None
    return {"regex": rule.regex.pattern, "model": rule.model}


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
    """Delete a profile; refused while a key uses it."""

    def change(document: CommentedMap) -> None:
        require_profile(document, name)
        users = [
            str(k.get("name"))
            for k in document.get("keys") or []
            if k.get("active_profile") == name or name in (k.get("profiles") or [])
        ]
        if users:
            raise EditError(
                f"profile '{name}' is used by key(s) {', '.join(users)}; "
                "switch them first with `axonhub keys use-profile KEY PROFILE`"
            )
        profiles = document["profiles"]
        with kept_tail(profiles, (document, "profiles")):
            del profiles[name]

    apply_edit(config_path, change)
    click.echo(f"Profile '{name}' deleted.")


@profiles_group.command("add-rule")
@click.argument("name")
@click.option("--match", "exact", metavar="MODEL", help="Match this exact model name.")
@click.option("--regex", metavar="PATTERN", help="Match model names this regex matches in full.")
@click.option("--to", "target", required=True, metavar="MODEL", help="The model to use; regex groups as \\1.")
@click.option("--at", "position", type=int, metavar="N", help="Insert as rule N (1-based; default: last).")
@config_option
def add_rule(
    name: str, exact: str | None, regex: str | None, target: str, position: int | None, config_path: Path
) -> None:
    """Add a rule: requests for a matching model get MODEL instead. The first matching rule wins."""
    if (exact is None) == (regex is None):
        raise click.UsageError("give exactly one of --match or --regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise fail(f"invalid regex {regex!r}: {exc}") from None
    rule = CommentedMap([("match", yaml_str(exact))] if exact is not None else [("regex", yaml_verbatim(regex or ""))])
    rule["model"] = yaml_str(target)

    def change(document: CommentedMap) -> int:
        rules = profile_rules(document, name)
        index = len(rules) if position is None else check_position(position, len(rules) + 1, "position")
        with kept_tail(rules):
            rules.insert(index, rule)
        return index + 1

    number = apply_edit(config_path, change)
    click.echo(f"Profile '{name}' rule {number}: {'match ' + exact if exact else 'regex ' + str(regex)} -> {target}")


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
@click.argument("model")
@click.option("--key", "key_name", metavar="NAME", help="Route as this key would (its active profile).")
@click.option("--profile", "profile_name", metavar="NAME", help="Route with this profile.")
@config_option
@json_option
def test(model: str, key_name: str | None, profile_name: str | None, config_path: Path, as_json: bool) -> None:
    """Show what the server would do with a request for MODEL; sends nothing."""
    if key_name and profile_name:
        raise click.UsageError("give --key or --profile, not both")
    config = load(config_path)
    try:
        if key_name:
            route = resolve(model, get_key(config, key_name), config)
        else:
            profile = get_profile(config, profile_name) if profile_name else None
            route = resolve_with_profile(model, profile, config)
    except GatewayError as err:
        if as_json:
            error = {"type": str(err.kind), "message": err.client_message(True)}
            echo_json({"model": model, "key": key_name, "error": error})
            raise SystemExit(1) from None
        raise fail(err.client_message(True)) from None
    if as_json:
        echo_json(route_json(route, key_name, config))
    else:
        print_route(route, key_name, config)


def route_json(route: Route, key_name: str | None, config: Config) -> dict[str, Any]:
    rule = None
    if route.profile is not None and route.rule_index is not None:
        rule = {"number": route.rule_index + 1, **rule_fields(config.profiles[route.profile].rules[route.rule_index])}
    return {
        "model": route.requested_model,
        "key": key_name,
        "profile": route.profile,
        "rule": rule,
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


def print_route(route: Route, key_name: str | None, config: Config) -> None:
    data = route_json(route, key_name, config)
    lines = [("model", route.requested_model)]
    if key_name:
        lines.append(("key", key_name))
    lines.append(("profile", route.profile or "none (model names pass through unchanged)"))
    if route.profile is not None:
        rule = "none matched: the name passes through"
        if data["rule"] is not None:
            rule = f"{data['rule']['number']}. {route.rule}"
            rule += f"  (matched as {route.matched_as})" if route.matched_as else ""
        lines.append(("rule", rule))
    lines.append(("resolved", route.resolved_model))
    for i, ch in enumerate(data["channels"]):
        detail = f"{ch['name']} ({ch['type']}, priority {ch['priority']}, weight {ch['weight']})"
        lines.append(("channel" if i == 0 else "", f"{detail} -> upstream model {ch['upstream_model']}"))
    lines += [("skipped", reason) for reason in route.skipped]
    for label, value in lines:
        click.echo(f"{label:9} {value}")
