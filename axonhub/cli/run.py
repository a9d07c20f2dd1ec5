"""`axonhub run claude|codex [-- ARGS]` and `axonhub env claude|codex`: an agent through AxonHub.

`run` checks that the gateway answers, then replaces itself with the agent, its settings in the
agent's environment only (`axonhub.launcher`): the user's shell and other tools are untouched.
`env` prints the same settings as shell commands for `eval`.

The AxonHub key comes from `AXONHUB_API_KEY` when it is set, else from the secrets `keys create`
saved in the user's credentials file (`axonhub.credentials`); it is never taken on the command
line and never written to the config. Of the saved secrets, only one whose hash is an enabled key
of the config in use is sent.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from axonhub import launcher
from axonhub.cli.common import config_args, config_option, executable, fail, load, reraise_as_click, warn

if TYPE_CHECKING:
    from axonhub.config import Config

CONTEXT = {"help_option_names": ["-h", "--help"]}
HEALTH_TIMEOUT_S = 3.0
STARTUP_GRACE_S = 5.0  # how long `run` waits for a gateway that refuses connections


def launch_options(func: Any) -> Any:
    for option in reversed(
        [
            click.argument("agent", type=click.Choice(launcher.AGENTS)),
            click.option("--key", "key_name", metavar="NAME", help="Use this key's saved secret."),
            click.option("--host", envvar="AXONHUB_HOST", help="The gateway's address (default: server.host)."),
            click.option("--port", type=click.IntRange(1, 65535), envvar="AXONHUB_PORT", help="Its port."),
            config_option,
        ]
    ):
        func = option(func)
    return func


@click.command(context_settings={**CONTEXT, "ignore_unknown_options": True, "allow_interspersed_args": False})
@launch_options
@click.option(
    "--statusline/--no-statusline",
    default=True,
    show_default=True,
    help="Claude Code: show what AxonHub serves in its status line, for this session only.",
)
@click.argument("agent_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
def run(
    agent: str,
    key_name: str | None,
    host: str | None,
    port: int | None,
    config_path: Path,
    statusline: bool,
    agent_args: tuple[str, ...],
) -> None:
    """Start AGENT (claude or codex) through AxonHub; ARGS go to the agent as they are.

    \b
      axonhub run claude
      axonhub run claude -- -p "explain this repo" --model sonnet
      axonhub run codex -- exec "fix the failing test"
    """
    config = load(config_path)
    root = launcher.base_url(host or config.server.host, port or config.server.port)
    check_gateway(root, config_path, host, port)
    name, secret = pick_secret(config, config_path, key_name)
    args = list(agent_args[1:] if agent_args[:1] == ("--",) else agent_args)
    settings = agent_launch(agent, root, secret, config, config_path, statusline, args)
    program = shutil.which(settings.program)
    if program is None:
        raise fail(f"`{settings.program}` is not on PATH; install it: {launcher.INSTALL_HINTS[agent]}")
    click.echo(f"{agent} through AxonHub at {root} with key '{name}'", err=True)
    sys.stderr.flush()
    try:
        os.execve(program, settings.argv(args), settings.child_env(os.environ))  # noqa: S606 - no shell wanted
    except OSError as exc:
        raise fail(f"cannot start {program}: {exc.strerror or exc}") from None


@click.command(context_settings=CONTEXT)
@launch_options
def env(agent: str, key_name: str | None, host: str | None, port: int | None, config_path: Path) -> None:
    """Print shell commands that point AGENT at AxonHub in this shell: eval "$(axonhub env claude)".

    The same settings `axonhub run` gives the agent; they include the key's secret, so the output
    is for `eval`, not for a file others can read. Codex gets a shell function carrying its
    `-c` overrides.
    """
    config = load(config_path)
    root = launcher.base_url(host or config.server.host, port or config.server.port)
    name, secret = pick_secret(config, config_path, key_name)
    settings = agent_launch(agent, root, secret, config, config_path, False, [])
    click.echo(f"# {agent} through AxonHub at {root} with key '{name}': eval this output in a POSIX shell")
    click.echo(settings.shell(), nl=False)


def agent_launch(
    agent: str,
    root: str,
    secret: str,
    config: Config,
    config_path: Path,
    statusline: bool,
    args: list[str],
) -> launcher.Launch:
    trace_id = f"launch-{uuid.uuid4()}"
    if not config.server.trace.claude_code_trace_enabled:
        warn(
            "server.trace.claude_code_trace_enabled is off: the gateway groups this launch's requests by the "
            "launch, not by the agent's own session"
        )
    if agent == "codex":
        return launcher.codex(root, secret, trace_id)
    command = statusline_command(config_path) if statusline else None
    return launcher.claude(root, secret, trace_id, os.environ, command, args)


def statusline_command(config_path: Path) -> str:
    """`axonhub statusline` as Claude Code runs it: this Python, this config, from any directory."""
    return shlex.join([sys.executable, "-m", "axonhub", "statusline", "--config", str(config_path.resolve())])


def check_gateway(root: str, config_path: Path, host: str | None = None, port: int | None = None) -> None:
    """Exit with how to start the gateway when nothing (or not AxonHub) answers at `root`.

    A gateway started a moment ago (`axonhub serve &` then `axonhub run claude`) gets a few
    seconds to come up.
    """
    where = config_args() + (f" --host {host}" if host else "") + (f" --port {port}" if port else "")
    start = f"`{executable()} serve{where}`"
    deadline = time.monotonic() + STARTUP_GRACE_S
    while True:
        try:
            with urllib.request.urlopen(f"{root}/health", timeout=HEALTH_TIMEOUT_S) as response:  # noqa: S310
                health = json.load(response)
            break
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError) and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            reason = getattr(exc.reason, "strerror", None) or exc.reason
            raise fail(
                f"AxonHub is not answering at {root} ({reason}); start it in another terminal with {start}"
            ) from None
        except (OSError, ValueError) as exc:
            raise fail(
                f"AxonHub is not answering at {root} ({exc}); start it in another terminal with {start}"
            ) from None
    if not isinstance(health, dict) or health.get("status") != "ok":
        raise fail(f"something other than AxonHub answers at {root}; start AxonHub with {start} (or pick --port)")
    served = (health.get("config") or {}).get("path")
    if served and Path(served).resolve() != config_path.resolve():
        warn(f"the gateway at {root} serves {served}, not {config_path}: its keys may differ")


def pick_secret(config: Config, config_path: Path, key_name: str | None) -> tuple[str, str]:
    """(key name, secret): AXONHUB_API_KEY, else the saved secret of an enabled key of `config`."""
    from axonhub.config import hash_secret
    from axonhub.credentials import credentials_path, load_saved
    from axonhub.errors import AxonHubError

    exported = os.environ.get(launcher.KEY_ENV, "").strip()
    if exported:
        key = config.keys_by_hash.get(hash_secret(exported))
        if key is None or not key.enabled or (key_name and key.name != key_name):
            raise fail(f"{launcher.KEY_ENV} is set but is not an enabled key of {config_path}; unset it")
        return key.name, exported
    try:
        saved = load_saved()
    except AxonHubError as exc:
        raise reraise_as_click(exc) from exc
    usable = [s for s in saved if (k := config.keys_by_hash.get(hash_secret(s.secret))) is not None and k.enabled]
    if key_name is not None:
        usable = [s for s in usable if s.name == key_name]
    if not usable:
        raise fail(_no_key(config_path, key_name, credentials_path()))
    here = str(config_path.resolve())
    if len(usable) > 1:
        usable = [s for s in usable if s.config == here] or usable
    if len({s.name for s in usable}) > 1:
        names = ", ".join(sorted({s.name for s in usable}))
        raise fail(f"several keys are saved for {config_path} ({names}); choose one with --key NAME")
    return usable[0].name, usable[0].secret


def _no_key(config_path: Path, key_name: str | None, saved_in: Path) -> str:
    exe, where = executable(), config_args()
    if key_name:
        return (
            f"no saved secret for key '{key_name}' of {config_path} in {saved_in}; "
            f"`{exe} keys rotate{where} {key_name}` gives it a new one and saves it"
        )
    return (
        f"no saved key for {config_path} in {saved_in}; create one with `{exe} keys create{where} NAME` "
        f"(its secret is saved for `axonhub run`), or export {launcher.KEY_ENV}"
    )
