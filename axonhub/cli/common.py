"""Helpers shared by the CLI commands: the --config option, error conversion, JSON output.

Nothing heavy is imported here at module level: a command pays for the config machinery
(YAML, jsonschema) only when it loads a config.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from axonhub.paths import CONFIG_ENV, ConfigLocation, find_config, not_found_hint

if TYPE_CHECKING:
    from axonhub.config import Config
    from axonhub.errors import AxonHubError, ConfigError

F = TypeVar("F", bound=Callable[..., Any])

_LOCATION = "axonhub.config_location"


def _locate(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """The config file: --config, else AXONHUB_CONFIG, else ./axonhub.yml, else the user-level one."""
    source = ctx.get_parameter_source(param.name or "config_path")
    env = source is click.core.ParameterSource.ENVIRONMENT
    location = find_config(value, "env" if env else "option")
    ctx.meta[_LOCATION] = location
    return location.path


def config_option(func: F) -> F:
    """`--config PATH` with the AXONHUB_CONFIG environment fallback and the default search."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=CONFIG_ENV,
        show_envvar=True,
        callback=_locate,
        help="The AxonHub YAML config file [default: ./axonhub.yml, else ~/.config/axonhub/axonhub.yml].",
    )(func)


def config_location() -> ConfigLocation | None:
    """How the running command's config file was chosen (None outside a command with --config)."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().meta.get(_LOCATION) if ctx else None


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


class CLIError(click.ClickException):
    """A one-line error with exit code 1; the traceback only with `axonhub --debug`."""


def fail(message: str) -> CLIError:
    return CLIError(message)


def load(path: Path) -> Config:
    """Load the config or exit with every error on its own line."""
    from axonhub.config import load_config
    from axonhub.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(config_error_text(exc)) from exc


def missing_config(exc: ConfigError) -> str | None:
    """For a config file that does not exist: where it was looked for and what to do; else None."""
    if len(exc.errors) != 1 or not exc.errors[0].startswith("config file not found"):
        return None
    location = config_location()
    if location is None:
        return exc.errors[0]
    if not location.found:
        return not_found_hint(location)
    return f"{exc.errors[0]} ({location.describe()})"


def config_error_text(exc: ConfigError) -> str:
    hint = missing_config(exc)
    if hint is not None:
        return hint
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
    from axonhub.errors import ConfigError, GatewayError

    if isinstance(exc, ConfigError):
        return fail(config_error_text(exc))
    if isinstance(exc, GatewayError):
        return fail(exc.client_message(True))  # the CLI's user is the operator: hints included
    return fail(str(exc))


def executable() -> str:
    """How to run this same `axonhub` again, as the user typed it (`.venv/bin/axonhub`, `axonhub`)."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "axonhub"
    if os.path.basename(argv0) == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m axonhub"
    on_path = shutil.which("axonhub")
    if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
        return "axonhub"
    return shlex.quote(argv0)


def config_args() -> str:
    """` --config PATH` when the running command was given its config file, else ``."""
    location = config_location()
    if location is None or location.source not in ("option", "env"):
        return ""
    return f" --config {shlex.quote(str(location.path))}"
