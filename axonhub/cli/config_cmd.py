"""`axonhub config check`: validate the YAML file and report every error with its path."""

from __future__ import annotations

from pathlib import Path

import click

from axonhub.cli.common import config_option, echo_json, json_option, warn
from axonhub.config import load_config
from axonhub.errors import ConfigError


@click.group(name="config")
def config_group() -> None:
    """Inspect the config file."""


@config_group.command("check")
@config_option
@json_option
def check(config_path: Path, as_json: bool) -> None:
    """Validate the config; exit 1 and list every error when it is invalid."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        if as_json:
            echo_json({"valid": False, "path": str(config_path), "errors": exc.errors, "warnings": []})
        else:
            click.echo(f"{config_path}: invalid", err=True)
            for line in exc.errors:
                click.echo(f"  {line}", err=True)
        raise SystemExit(1) from None
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
                "warnings": list(config.warnings),
            }
        )
        return
    for message in config.warnings:
        warn(message)
    click.echo(
        f"{config_path}: valid ({len(config.channels)} channels, {len(config.profiles)} profiles, "
        f"{len(config.keys)} keys)"
    )
