"""`axonhub statusline`: the command for Claude Code's `statusLine` setting.

Claude Code passes a JSON object on stdin (its `session_id` among others) and shows the first line
printed. `axonhub run claude` installs this for its session (`--settings`); to have it always, put
in ~/.claude/settings.json:

    {"statusLine": {"type": "command", "command": "axonhub statusline --config /path/to/axonhub.yml"}}

It never fails loudly: Claude Code blanks the line on a non-zero exit, so a problem is printed as
the status text itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from axonhub.cli.common import config_option
from axonhub.launcher import TRACE_ENV
from axonhub.paths import cache_dir
from axonhub.statusline import SessionState, load_state, read_new, render, save_state, session_key


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="The session to show (default: `session_id` of the JSON on stdin, as Claude Code passes it).",
)
def statusline(config_path: Path, session_id: str | None) -> None:
    """Print what AxonHub serves this Claude Code session: model @ channel, tokens, cost."""
    if session_id is None:
        session_id = _session_from_stdin()
    launch = os.environ.get(TRACE_ENV, "")
    if not session_id and not launch:
        click.echo("AxonHub · no session id on stdin")
        return
    try:
        click.echo(status_text(config_path, session_id or "", launch))
    except Exception as exc:  # a status line must never fail: its text says what went wrong
        click.echo(f"AxonHub · {exc}"[:200])


def _session_from_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    try:
        data = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        return ""
    session = data.get("session_id") if isinstance(data, dict) else None
    return session if isinstance(session, str) else ""


def status_text(config_path: Path, session_id: str, launch_trace: str) -> str:
    # One cache per set of trace ids read: the session's, and the launch's when `axonhub run` set one.
    ids = "+".join(i for i in (session_id, launch_trace) if i)
    state_path = cache_dir() / "statusline" / f"{session_key(ids)}.json"
    state = load_state(state_path)
    signature = _signature(config_path)
    if signature != state.config_signature or not state.trace_path:
        _refresh_config(state, config_path)
        state.config_signature = signature
    read_new(state, Path(state.trace_path), (session_id, launch_trace))
    save_state(state_path, state)
    return render(state)


def _signature(path: Path) -> list[int]:
    try:
        info = path.stat()
    except OSError:
        return []
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def _refresh_config(state: SessionState, config_path: Path) -> None:
    """The trace path and prices from the config (read only when the file changed)."""
    from axonhub.cli.common import load

    config = load(config_path)
    state.trace_path = str(config.server.trace.path)
    state.pricing = {
        model: {"input": p.input, "output": p.output, "cache_read": p.cache_read, "cache_write": p.cache_write}
        for model, p in config.pricing.items()
    }
