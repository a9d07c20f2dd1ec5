"""`axonhub dashboard` (a one-time login link) and `axonhub traces replay` (two answers side by side).

Both talk to a running `axonhub serve` as its admin: the admin token is read from the file the
config names (`server.dashboard.token_file`), or taken from AXONHUB_ADMIN_TOKEN; it is never
printed and never taken on the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from axonhub.cli.common import config_option, echo_json, fail, json_option, load
from axonhub.config import Config


def gateway_url(config: Config, url: str | None) -> str:
    """`--url`, else the config's listen address (a wildcard address is reached on loopback)."""
    if url:
        return url.rstrip("/")
    host = config.server.host
    if host in ("0.0.0.0", ""):  # noqa: S104 - a listen address, read here to reach the server
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"


def admin_token(config: Config) -> str:
    from axonhub.dashboard.access import read_token

    from_env = os.environ.get("AXONHUB_ADMIN_TOKEN", "").strip()
    if from_env:
        return from_env
    path = config.server.dashboard.token_file
    try:
        return read_token(path)
    except OSError:
        raise fail(
            f"no admin token at {path}: start `axonhub serve` once with this config (it creates the file), "
            "or set AXONHUB_ADMIN_TOKEN"
        ) from None


def url_option(func: Any) -> Any:
    return click.option(
        "--url",
        envvar="AXONHUB_URL",
        show_envvar=True,
        default=None,
        help="The running gateway (default: the config's server.host and server.port).",
    )(func)


@click.command("dashboard")
@click.option("--open", "open_browser", is_flag=True, help="Open the link in the default browser.")
@url_option
@config_option
def dashboard(open_browser: bool, url: str | None, config_path: Path) -> None:
    """Print a one-time login link to the dashboard of the gateway this config runs."""
    from axonhub.dashboard.access import login_url

    config = load(config_path)
    if not config.server.dashboard.enabled:
        raise fail("the dashboard is disabled (server.dashboard.enabled: false)")
    link = login_url(gateway_url(config, url), admin_token(config))
    click.echo(link)
    click.echo("(valid 15 minutes, once; the session it opens lasts 12 hours)", err=True)
    if open_browser:
        webbrowser.open(link)


# ---------------------------------------------------------------------------------------------
# traces replay
# ---------------------------------------------------------------------------------------------


@click.command("replay")
@click.argument("request_id", required=False)
@click.option("--session", "session", metavar="TRACE_ID", help="Replay every model call of this session, in order.")
@click.option("--profile", required=True, help="The profile to replay under.")
@click.option("--key", default=None, help="Replay as this key (default: the key that made the request).")
@url_option
@config_option
@json_option
def replay(
    request_id: str | None,
    session: str | None,
    profile: str,
    key: str | None,
    url: str | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Re-send a recorded request (or a whole session) through the running gateway under another
    profile and print both answers side by side.

    The request must have been recorded with `server.trace.bodies: all`. Replays are traced as
    replays (`replay_of`, a trace of their own) and never counted in `axonhub usage`.
    """
    if bool(request_id) == bool(session):
        raise click.UsageError("give either a REQUEST_ID or --session TRACE_ID")
    config = load(config_path)
    payload = {"profile": profile, "key": key, "request_id": request_id, "session": session}
    lines = _post_replay(gateway_url(config, url), admin_token(config), payload)
    if as_json:
        collected: dict[str, Any] = {"pairs": []}
        for line in lines:
            if line["type"] == "start":
                collected.update({k: v for k, v in line.items() if k != "type"})
            elif line["type"] == "pair":
                collected["pairs"].append({k: v for k, v in line.items() if k != "type"})
            elif line["type"] == "done":
                collected["totals"] = line["totals"]
        echo_json(collected)
        return
    width = max(80, shutil.get_terminal_size((120, 40)).columns)
    for line in lines:
        if line["type"] == "start":
            click.echo(
                f"replay {line['trace_id']}: {line['requests']} request(s) under profile "
                f"{line['profile']} as key {line['key']}"
            )
        elif line["type"] == "pair":
            click.echo("\n".join(side_by_side(line, width)))
        elif line["type"] == "done":
            click.echo("\n".join(totals_lines(line["totals"])))


def admin_post(base_url: str, token: str, path: str, payload: dict[str, Any], refused: str) -> Any:
    """POST `payload` to the gateway's admin API at `path`: the open response, or one clear CLI error
    (`refused (status): why`, or that the gateway cannot be reached)."""
    request = urllib.request.Request(  # noqa: S310 - the gateway's own http(s) URL
        base_url + path,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        return opener.open(request)
    except urllib.error.HTTPError as exc:
        raise fail(f"{refused} ({exc.code}): {_error_of(exc)}") from None
    except urllib.error.URLError as exc:
        raise fail(f"cannot reach the gateway at {base_url} ({exc.reason}); is `axonhub serve` running?") from None


def _post_replay(base_url: str, token: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    response = admin_post(base_url, token, "/dashboard/api/replay", payload, "replay refused")
    with response:
        for raw in response:
            if raw.strip():
                yield json.loads(raw)


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error"))
    except ValueError:
        return exc.reason


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _number(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{round(value)}{suffix}" if isinstance(value, int | float) else str(value)


def _cost(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):.6f}" if abs(value) < 0.01 else f"{sign}${abs(value):.4f}"


def answer_lines(title: str, answer: dict[str, Any], width: int) -> list[str]:
    """One answer as a column of lines at most `width` wide."""
    usage = answer.get("usage") or {}
    lines = [
        title,
        f"{answer.get('profile') or 'no profile'} → {answer.get('resolved_model') or '-'}"
        f" @ {answer.get('channel') or '-'}",
        f"status {answer.get('status')} · stop {answer.get('stop_reason') or '-'}",
        f"tokens in {_number(usage.get('input'))} out {_number(usage.get('output'))} "
        f"cache read {_number(usage.get('cache_read'))}",
        f"latency {_number(answer.get('latency_ms'), ' ms')} (first byte {_number(answer.get('ttfb_ms'), ' ms')})",
        f"cost {_cost(answer.get('cost_usd'))}",
    ]
    error = answer.get("error")
    if error:
        lines.append(f"error {error.get('type')}: {error.get('message')}")
    if answer.get("note"):
        lines.append(f"({answer['note']})")
    if answer.get("text"):
        lines += ["text:", *_wrap(answer["text"], width - 2, "  ")]
    for call in answer.get("tool_calls") or []:
        arguments = json.dumps(call.get("arguments"), ensure_ascii=False)
        lines += [f"tool call {call.get('name')}:", *_wrap(arguments, width - 2, "  ")]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]


def _wrap(text: str, width: int, indent: str) -> list[str]:
    out: list[str] = []
    for paragraph in text.splitlines() or [""]:
        out += textwrap.wrap(paragraph, width, initial_indent=indent, subsequent_indent=indent) or [indent]
    return out[:60] + ([f"{indent}… ({len(out) - 60} more lines)"] if len(out) > 60 else [])


def side_by_side(pair: dict[str, Any], width: int) -> list[str]:
    column = (width - 3) // 2
    left = answer_lines("recorded", pair["original"], column)
    right = answer_lines("replay", pair["replay"], column)
    difference = pair["difference"]
    head = (
        f"#{pair['index'] + 1} {pair['original'].get('request_id')}  "
        f"Δ in {_number(difference.get('input'))} out {_number(difference.get('output'))} "
        f"latency {_number(difference.get('latency_ms'), ' ms')} cost {_cost(difference.get('cost_usd'))}"
    )
    rows = [f"{a:<{column}} │ {b}".rstrip() for a, b in _zip_longest(left, right)]
    return ["", head, "─" * min(width, 160), *rows]


def _zip_longest(a: list[str], b: list[str]) -> Iterator[tuple[str, str]]:
    for i in range(max(len(a), len(b))):
        yield (a[i] if i < len(a) else "", b[i] if i < len(b) else "")


def totals_lines(totals: dict[str, Any]) -> list[str]:
    def row(name: str, side: dict[str, Any]) -> str:
        return (
            f"{name:<11}{_number(side.get('input')):>10}{_number(side.get('output')):>10}"
            f"{_number(side.get('cache_read')):>12}{_number(side.get('latency_ms'), ' ms'):>13}"
            f"{_cost(side.get('cost_usd')):>12}"
        )

    return [
        "",
        f"{totals['requests']} request(s): same stop reason {totals['same_stop_reasons']}, "
        f"same tools called {totals['same_tools']}",
        f"{'':<11}{'input':>10}{'output':>10}{'cache read':>12}{'latency':>13}{'cost':>12}",
        row("recorded", totals["original"]),
        row("replay", totals["replay"]),
        row("difference", totals["difference"]),
    ]
