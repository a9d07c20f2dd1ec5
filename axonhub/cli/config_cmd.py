"""`axonhub config check|path|init`: validate the file, say which file is used, create one."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import click

from axonhub.cli.common import config_location, config_option, echo_json, fail, json_option, warn
from axonhub.paths import CONFIG_ENV, not_found_hint, user_config


@click.group(name="config", context_settings={"help_option_names": ["-h", "--help"]})
def config_group() -> None:
    """Find, create and check the config file.

    \b
    Every command uses, in this order: --config PATH, $AXONHUB_CONFIG, ./axonhub.yml,
    then the user-level ~/.config/axonhub/axonhub.yml ($XDG_CONFIG_HOME/axonhub/axonhub.yml).
    """


@config_group.command("check")
@config_option
@json_option
def check(config_path: Path, as_json: bool) -> None:
    """Validate the config; exit 1 and list every error (with its line) when it is invalid."""
    from axonhub.cli.common import missing_config
    from axonhub.config import load_config
    from axonhub.config_advice import config_advice
    from axonhub.errors import ConfigError

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        errors = [hint] if (hint := missing_config(exc)) else exc.errors
        if as_json:
            echo_json({"valid": False, "path": str(config_path), "errors": errors, "warnings": []})
        else:
            click.echo(f"{config_path}: invalid", err=True)
            for line in errors:
                click.echo(f"  {line}", err=True)
        raise SystemExit(1) from None
    warnings = [*config.warnings, *config_advice(config)]
    if as_json:
        echo_json(
            {
                "valid": True,
                "path": str(config_path),
                "digest": config.digest,
                "channels": len(config.channels),
                "profiles": len(config.profiles),
                "keys": len(config.keys),
                "errors": [],
                "warnings": warnings,
            }
        )
        return
    for message in warnings:
        warn(message)
    click.echo(
        f"{config_path}: valid ({len(config.channels)} channels, {len(config.profiles)} profiles, "
        f"{len(config.keys)} keys)"
    )


@config_group.command("path")
@config_option
@json_option
def path(config_path: Path, as_json: bool) -> None:
    """Print the config file commands use here, and why that one; exit 1 when there is none."""
    location = config_location()
    assert location is not None
    if as_json:
        echo_json(
            {
                "path": str(location.path.absolute()),
                "source": location.source,
                "exists": location.path.is_file(),
                "looked_in": [str(p) for p in location.looked_in],
            }
        )
    elif location.found:
        click.echo(str(location.path.absolute()))
        click.echo(f"({location.describe()})", err=True)
    else:
        click.echo(not_found_hint(location), err=True)
    if not location.found or not location.path.is_file():
        raise SystemExit(1)


@config_group.command("init")
@click.option(
    "--path",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it [default: the user-level ~/.config/axonhub/axonhub.yml].",
)
def init(target: Path | None) -> None:
    """Write the default config (commented, no keys yet) where every command finds it."""
    target = target or user_config()
    if target.exists():
        raise fail(f"{target} already exists; `axonhub config check --config {target}` checks it")
    text = resources.files("axonhub").joinpath("default_config.yml").read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    click.echo(str(target))
    hint = "" if target.resolve() == user_config().resolve() else f" (use it with --config {target} or {CONFIG_ENV})"
    click.echo(f"Wrote the default config{hint}; next: `axonhub keys create NAME`.", err=True)
