"""`axonhub keys`: create, list, switch and retire the API keys clients present to AxonHub.

A secret is `ah-` + 32 random bytes (URL-safe base64), printed once on stdout (everything else goes
to stderr, so `SECRET=$(axonhub keys create NAME)` works); the config file keeps only its SHA-256.
`create` and `rotate` also save the secret, for `axonhub run`, in the user's credentials file
(mode 0600, see `axonhub.credentials`) unless `--no-save`; `revoke` removes it from there.
Every write goes through `axonhub.config_edit` (locked, validated, atomic, comments kept), and a
running `axonhub serve` picks the change up within a second.

`use-profile KEY PROFILE` on a key whose `profiles` list is non-empty and lacks PROFILE adds it to
the list (and says so): the list is what the key may switch between, and whoever can run this
command can edit the file anyway, so refusing would only send them to an editor.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from axonhub.cli.common import config_option, echo_json, json_option, load, reraise_as_click
from axonhub.config import Config, Key, hash_secret
from axonhub.config_edit import EditError, block, edit_config, kept_tail, section, yaml_str
from axonhub.errors import AxonHubError
from axonhub.limits.model import MICRO_USD, usd, utc_iso
from axonhub.schema import CONFIG_SCHEMA

T = TypeVar("T")

SECRET_PREFIX = "ah-"  # noqa: S105 - a prefix, not a secret
NAME_PATTERN = re.compile(CONFIG_SCHEMA["properties"]["keys"]["items"]["properties"]["name"]["pattern"])
CONTEXT = {"help_option_names": ["-h", "--help"]}


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def apply_edit(config_path: Path, change: Callable[[CommentedMap], T]) -> T:
    """Run one locked, validated, atomic edit; any refusal becomes a one-line CLI error."""
    try:
        return edit_config(config_path, change)
    except AxonHubError as exc:
        raise reraise_as_click(exc) from exc


def check_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """click callback: names are what the schema allows (letters, digits, `.`, `_`, `-`)."""
    if not NAME_PATTERN.fullmatch(value):
        raise click.BadParameter(
            f"{value!r}: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def key_entries(document: CommentedMap) -> Any:
    """The `keys` list of the document, in block style (created when missing)."""
    return block(section(document, "keys", CommentedSeq))


def find_key(document: CommentedMap, name: str) -> Any:
    """The YAML mapping of key `name`, or EditError naming the keys there are."""
    entries = document.get("keys") or []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    known = ", ".join(str(e.get("name")) for e in entries if isinstance(e, dict)) or "none"
    raise EditError(f"no key named '{name}' (keys: {known})")


def require_profile(document: CommentedMap, name: str) -> None:
    profiles = document.get("profiles") or {}
    if name not in profiles:
        raise EditError(f"no profile named '{name}' (profiles: {', '.join(map(str, profiles)) or 'none'})")


def set_field(entry: CommentedMap, field: str, value: Any, after: tuple[str, ...]) -> None:
    """Set `field`, placing a new one after the first of `after` present (else at the end)."""
    if field in entry:
        entry[field] = value
        return
    keys = list(entry)
    anchor = next((keys.index(a) + 1 for a in after if a in entry), len(keys))
    with kept_tail(entry):
        entry.insert(anchor, field, value)


def key_summary(key: Key) -> dict[str, Any]:
    """What may be shown about a key: never the secret, never its hash."""
    return {
        "name": key.name,
        "project": key.project,
        "enabled": key.enabled,
        "active_profile": key.active_profile,
        "profiles": list(key.profiles),
        "created_at": key.created_at or None,
    }


def get_key(config: Config, name: str) -> Key:
    key = config.key_by_name(name)
    if key is None:
        known = ", ".join(k.name for k in config.keys) or "none"
        raise click.ClickException(f"no key named '{name}' (keys: {known})")
    return key


def print_secret(name: str, secret: str, verb: str, saved_to: Path | None) -> None:
    click.echo(f"{verb} key '{name}'. Its secret is shown only this once:", err=True)
    click.echo(secret)
    if saved_to is not None:
        click.echo(
            f"Saved for `axonhub run claude|codex` in {saved_to} (readable only by you).\n"
            "Other clients send it as `x-api-key` or `Authorization: Bearer`.",
            err=True,
        )
    else:
        click.echo(
            "Store it now. Clients send it as `x-api-key` or `Authorization: Bearer` "
            "(Claude Code: ANTHROPIC_AUTH_TOKEN).",
            err=True,
        )


def save_secret(name: str, secret: str, config_path: Path) -> Path:
    from axonhub.credentials import save

    try:
        return save(name, secret, config_path)
    except AxonHubError as exc:
        raise reraise_as_click(exc) from exc


save_option = click.option(
    "--save/--no-save",
    default=True,
    show_default=True,
    help="Save the secret for `axonhub run` in ~/.config/axonhub/credentials (mode 0600).",
)


@click.group(name="keys", context_settings=CONTEXT)
def keys_group() -> None:
    """Manage the API keys clients use to call AxonHub."""


@keys_group.command("create")
@click.argument("name", callback=check_name)
@click.option("--project", default="default", show_default=True, help="Project the key's usage is counted under.")
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="A profile the key may use (repeatable); the first becomes its active profile.",
)
@save_option
@config_option
@json_option
def create(name: str, project: str, profiles: tuple[str, ...], save: bool, config_path: Path, as_json: bool) -> None:
    """Create a key; its secret is printed once, only its hash goes in the config."""
    secret = new_secret()
    created_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def change(document: CommentedMap) -> None:
        entries = key_entries(document)
        if any(isinstance(e, dict) and e.get("name") == name for e in entries):
            raise EditError(
                f"a key named '{name}' already exists: `axonhub keys rotate {name}` gives it a new secret "
                f"(`axonhub keys show {name}` shows it), or create one with another name"
            )
        for profile in profiles:
            require_profile(document, profile)
        entry = CommentedMap(name=yaml_str(name), secret_hash=hash_secret(secret), project=yaml_str(project))
        if profiles:
            entry["profiles"] = CommentedSeq(yaml_str(p) for p in dict.fromkeys(profiles))
            entry["active_profile"] = yaml_str(profiles[0])
        entry["created_at"] = yaml_str(created_at)
        with kept_tail(entries, (document, "keys")):
            entries.append(entry)

    apply_edit(config_path, change)
    saved_to = save_secret(name, secret, config_path) if save else None
    if as_json:
        echo_json(
            {
                "name": name,
                "secret": secret,
                "project": project,
                "active_profile": profiles[0] if profiles else None,
                "profiles": list(dict.fromkeys(profiles)),
                "created_at": created_at,
                "saved_to": str(saved_to) if saved_to else None,
            }
        )
        return
    print_secret(name, secret, "Created", saved_to)


@keys_group.command("list")
@config_option
@json_option
def list_keys(config_path: Path, as_json: bool) -> None:
    """List the keys (never their secrets)."""
    config = load(config_path)
    if as_json:
        echo_json([key_summary(k) for k in config.keys])
        return
    if not config.keys:
        click.echo("No keys yet; create one with `axonhub keys create NAME`.", err=True)
        return
    rows: list[tuple[str, ...]] = [("NAME", "PROJECT", "STATE", "ACTIVE PROFILE", "PROFILES", "CREATED")]
    rows += [
        (
            k.name,
            k.project,
            "enabled" if k.enabled else "disabled",
            k.active_profile or "-",
            ",".join(k.profiles) or "-",
            k.created_at or "-",
        )
        for k in config.keys
    ]
    echo_table(rows)


def echo_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@keys_group.command("show")
@click.argument("name")
@config_option
@json_option
def show(name: str, config_path: Path, as_json: bool) -> None:
    """Show one key (never its secret) with its limits and their current use."""
    config = load(config_path)
    key = get_key(config, name)
    summary = key_summary(key)
    rows, source = limits_with_use(config, key)
    if as_json:
        echo_json({**summary, "limits": rows, "use_from": source})
        return
    for field, value in summary.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{field.replace('_', ' '):15} {shown if shown not in (None, '') else '-'}")
    if not rows:
        click.echo(f"{'limits':15} none")
        return
    click.echo(f"{'limits':15} (use {source})")
    for row in rows:
        click.echo("  " + limit_line(row))


def limits_with_use(config: Config, key: Key) -> tuple[list[dict[str, Any]], str]:
    """The key's limits (where each comes from) with their use in the current window, and where the use was read."""
    from axonhub.limits.usage import use_from_trace
    from axonhub.trace import iter_records

    if key.limits.empty:
        return [], "-"
    now = time.time()
    state = config.server.state
    if state.backend == "redis":
        try:
            rows, source = asyncio.run(redis_use(config, key, now)), "from Redis"
        except AxonHubError as exc:
            rows, source = use_from_trace([], key.name, key.limits, config.pricing, now), f"unknown: {exc}"
            for row in rows:
                row["used"] = None
    else:
        trace = config.server.trace
        records = iter_records(trace.path) if trace.enabled else iter(())
        rows = use_from_trace(records, key.name, key.limits, config.pricing, now)
        source = "summed from the trace log" if trace.enabled else "unknown: the trace log is off"
    project = config.projects.get(key.project)
    for row in rows:
        from_project = project is not None and getattr(project.limits, row["limit"]) == getattr(
            key.limits, row["limit"]
        )
        row["from"] = "project" if from_project else "key"
        row["resets_at"] = utc_iso(row["resets_at"]) if row["resets_at"] else None
        if row["limit"].startswith("spend_"):
            row["value"] = row["value"] / MICRO_USD
            row["used"] = row["used"] / MICRO_USD if row["used"] is not None else None
    return rows, source


async def redis_use(config: Config, key: Key, now: float) -> list[dict[str, Any]]:
    from axonhub.limits.limiter import open_state
    from axonhub.limits.usage import key_usage

    state = open_state(config.server.state)
    try:
        return await key_usage(state, key.name, key.limits, now)
    finally:
        await state.close()


def limit_line(row: dict[str, Any]) -> str:
    spend = row["limit"].startswith("spend_")

    def amount(value: Any) -> str:
        if value is None:
            return "-"
        return usd(value) if spend else f"{value:,}"

    resets = f"resets {row['resets_at']}" if row["resets_at"] else ""
    origin = "(project default)" if row["from"] == "project" else ""
    return f"{row['limit']:26} {amount(row['value']):>12}  used {amount(row['used']):>12}  {resets} {origin}".rstrip()


def _set_enabled(config_path: Path, name: str, enabled: bool) -> None:
    def change(document: CommentedMap) -> bool:
        entry = find_key(document, name)
        was = entry.get("enabled", True) is True
        if was != enabled:
            set_field(entry, "enabled", enabled, after=("active_profile", "profiles", "project", "secret_hash"))
        return was

    was = apply_edit(config_path, change)
    state = "enabled" if enabled else "disabled"
    click.echo(f"Key '{name}' {'was already' if was == enabled else 'is now'} {state}.")


@keys_group.command("disable")
@click.argument("name")
@config_option
def disable(name: str, config_path: Path) -> None:
    """Stop accepting a key (it stays in the file; `enable` brings it back)."""
    _set_enabled(config_path, name, False)


@keys_group.command("enable")
@click.argument("name")
@config_option
def enable(name: str, config_path: Path) -> None:
    """Accept a disabled key again."""
    _set_enabled(config_path, name, True)


@keys_group.command("revoke")
@click.argument("name")
@config_option
def revoke(name: str, config_path: Path) -> None:
    """Delete a key for good; its secret stops working at once."""

    def change(document: CommentedMap) -> None:
        entry = find_key(document, name)
        entries = document["keys"]
        with kept_tail(entries, (document, "keys")):
            entries.remove(entry)

    apply_edit(config_path, change)
    from axonhub.credentials import forget

    try:
        forgotten = forget(name, config_path)
    except AxonHubError as exc:
        raise reraise_as_click(exc) from exc
    click.echo(f"Key '{name}' revoked" + (" (and its saved secret removed)." if forgotten else "."))


@keys_group.command("rotate")
@click.argument("name")
@save_option
@config_option
@json_option
def rotate(name: str, save: bool, config_path: Path, as_json: bool) -> None:
    """Give a key a new secret (printed once); the old secret stops working."""
    secret = new_secret()

    def change(document: CommentedMap) -> None:
        find_key(document, name)["secret_hash"] = hash_secret(secret)

    apply_edit(config_path, change)
    saved_to = save_secret(name, secret, config_path) if save else None
    if as_json:
        echo_json({"name": name, "secret": secret, "saved_to": str(saved_to) if saved_to else None})
        return
    print_secret(name, secret, "Rotated", saved_to)


@keys_group.command("use-profile")
@click.argument("name")
@click.argument("profile")
@config_option
def use_profile(name: str, profile: str, config_path: Path) -> None:
    """Switch the profile a key uses; a running server follows within a second.

    If the key lists the profiles it may use and PROFILE is not one of them, it is added.
    """

    def change(document: CommentedMap) -> bool:
        require_profile(document, profile)
        entry = find_key(document, name)
        allowed = entry.get("profiles")
        added = bool(allowed) and profile not in allowed
        if added:
            with kept_tail(allowed):
                allowed.append(yaml_str(profile))
        set_field(entry, "active_profile", yaml_str(profile), after=("profiles", "project", "secret_hash"))
        return added

    added = apply_edit(config_path, change)
    note = " (added to its profiles)" if added else ""
    click.echo(f"Key '{name}' now uses profile '{profile}'{note}.")


@keys_group.command("add-profile")
@click.argument("name")
@click.argument("profiles", nargs=-1, required=True)
@config_option
def add_profile(name: str, profiles: tuple[str, ...], config_path: Path) -> None:
    """Let a key switch to more profiles; a key with no active profile gets the first as active."""

    def change(document: CommentedMap) -> list[str]:
        for profile in profiles:
            require_profile(document, profile)
        entry = find_key(document, name)
        allowed = entry.get("profiles")
        if allowed is None:
            allowed = CommentedSeq()
            set_field(entry, "profiles", allowed, after=("project", "secret_hash"))
        added = [p for p in dict.fromkeys(profiles) if p not in allowed]
        with kept_tail(allowed):
            allowed.extend(yaml_str(p) for p in added)
        if entry.get("active_profile") is None:
            set_field(entry, "active_profile", yaml_str(profiles[0]), after=("profiles", "project", "secret_hash"))
        return added

    added = apply_edit(config_path, change)
    shown = ", ".join(added) if added else "nothing new"
    click.echo(f"Key '{name}': added {shown}; its profiles are now {_profiles_of(config_path, name)}.")


@keys_group.command("remove-profile")
@click.argument("name")
@click.argument("profile")
@config_option
def remove_profile(name: str, profile: str, config_path: Path) -> None:
    """Take a profile away from a key (not its active one: switch that first)."""

    def change(document: CommentedMap) -> None:
        entry = find_key(document, name)
        if entry.get("active_profile") == profile:
            others = [str(p) for p in entry.get("profiles") or [] if p != profile]
            switch = (
                f"`axonhub keys use-profile {name} {others[0]}`"
                if others
                else f"`axonhub keys use-profile {name} OTHER` or `axonhub keys clear-profile {name}`"
            )
            raise EditError(f"'{profile}' is key '{name}''s active profile; switch it first with {switch}")
        allowed = entry.get("profiles")
        if not isinstance(allowed, CommentedSeq) or profile not in allowed:
            allowed = allowed or []
            raise EditError(
                f"key '{name}' does not list profile '{profile}' (its profiles: {', '.join(allowed) or 'none'})"
            )
        with kept_tail(allowed):
            allowed.remove(profile)

    apply_edit(config_path, change)
    click.echo(f"Key '{name}': removed '{profile}'; its profiles are now {_profiles_of(config_path, name)}.")


@keys_group.command("clear-profile")
@click.argument("name")
@config_option
def clear_profile(name: str, config_path: Path) -> None:
    """Give a key no active profile: the model names its clients ask for pass through unchanged."""

    def change(document: CommentedMap) -> None:
        entry = find_key(document, name)
        if entry.get("active_profile") is not None:
            entry["active_profile"] = None

    apply_edit(config_path, change)
    click.echo(f"Key '{name}' has no active profile now: model names pass through unchanged.")


def _profiles_of(config_path: Path, name: str) -> str:
    key = get_key(load(config_path), name)
    return ", ".join(f"{p} (active)" if p == key.active_profile else p for p in key.profiles) or "none"
