"""Helpers shared by the CLI commands: the --config option, error conversion, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from axonhub.config import DEFAULT_CONFIG_PATH, Config, load_config
from axonhub.errors import AxonHubError, ConfigError, GatewayError

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """`--config PATH` with the AXONHUB_CONFIG environment fallback."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_CONFIG_PATH,
        envvar="AXONHUB_CONFIG",
        show_default=True,
        show_envvar=True,
        help="The AxonHub YAML config file.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


class CLIError(click.ClickException):
    """A one-line error with exit code 1; the traceback only with `axonhub --debug`."""


def fail(message: str) -> CLIError:
    return CLIError(message)


def load(path: Path) -> Config:
    """Load the config or exit with every error on its own line."""
    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(config_error_text(exc)) from exc


def config_error_text(exc: ConfigError) -> str:
    lines = [f"invalid config {exc.source}:" if exc.source else "invalid config:"]
    lines += [f"  {line}" for line in exc.errors]
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def warn(message: str) -> None:
    click.echo(click.style(f"warning: {message}", fg="yellow"), err=True)


def is_tty() -> bool:
    return sys.stderr.isatty()


def reraise_as_click(exc: AxonHubError) -> CLIError:
    if isinstance(exc, ConfigError):
        return fail(config_error_text(exc))
    if isinstance(exc, GatewayError):
        return fail(exc.client_message(True))  # the CLI's user is the operator: hints included
    return fail(str(exc))
