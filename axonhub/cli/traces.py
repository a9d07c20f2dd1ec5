"""`axonhub traces tail|list|show` and `axonhub usage`: read the JSONL trace log, rotated files too.

Every command finds the log through the config (`--config`) or takes it from `--file`, skips a
damaged line instead of dying, and says on stderr how many it skipped. Only what upstreams reported
is counted as tokens and cost: count_tokens exchanges (estimates) are shown, never summed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from axonhub.cli.common import config_option, echo_json, fail, json_option, load
from axonhub.trace_reader import ReadStats, TraceFollower, is_error, read_files, trace_files
from axonhub.trace_record import TraceRecord
from axonhub.trace_stats import (
    GROUP_FIELDS,
    Totals,
    group_totals,
    is_count,
    parse_since,
    record_time,
    records_of_trace,
    since_filter,
    usage_of,
    without_replays,
)

if TYPE_CHECKING:
    from axonhub.config import Price

FOLLOW_POLL_S = 0.25
Record = TraceRecord


# ---------------------------------------------------------------------------------------------
# Options and shared plumbing
# ---------------------------------------------------------------------------------------------


def file_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--file",
        "trace_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="AXONHUB_TRACE_FILE",
        show_envvar=True,
        help="Read this trace log instead of the one the config names.",
    )(func)


def since_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--since",
        callback=_parse_since,
        default=None,
        metavar="WHEN",
        help="Only exchanges from then on: 30m, 2h, 7d or an ISO date (UTC).",
    )(func)


def _parse_since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def trace_path(config_path: Path, trace_file: Path | None) -> Path:
    """`--file`, else the config's `server.trace.path`."""
    if trace_file is not None:
        return trace_file
    return load(config_path).server.trace.path


def pricing_for(config_path: Path, trace_file: Path | None) -> Mapping[str, Price]:
    """The config's prices; with `--file` and no readable config, none."""
    from axonhub.config import load_config
    from axonhub.errors import ConfigError

    if trace_file is None:
        return load(config_path).pricing
    try:
        return load_config(config_path).pricing
    except ConfigError:
        return {}


def existing_files(path: Path) -> list[Path]:
    files = trace_files(path)
    if not files:
        raise fail(f"no trace log at {path} (is `server.trace.enabled` on, and has the server served a request?)")
    return files


def report_damaged(stats: ReadStats) -> None:
    if stats.damaged:
        click.echo(f"{stats.damaged} damaged line{'s' if stats.damaged != 1 else ''} skipped", err=True)


def echo_jsonl(record: TraceRecord) -> None:
    click.echo(json.dumps(record, ensure_ascii=False, separators=(",", ":")))


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def short_time(record: TraceRecord) -> str:
    moment = record_time(record)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def short_trace(trace_id: object) -> str:
    return str(trace_id or "-")[:8]


def model_route(record: TraceRecord) -> str:
    """`requested → resolved @ channel`, shortened when nothing was remapped."""
    requested = record.get("requested_model") or "-"
    resolved = record.get("resolved_model") or requested
    route = requested if resolved == requested else f"{requested} → {resolved}"
    channel = record.get("channel")
    return f"{route} @ {channel}" if channel else route


def token_text(usage: Mapping[str, int]) -> str:
    text = f"in {usage['input']} out {usage['output']}"
    if usage["cache_read"] or usage["cache_write"]:
        text += f" cache r {usage['cache_read']} w {usage['cache_write']}"
    return text


def ms_text(record: TraceRecord) -> str:
    total = (record.get("timings") or {}).get("total_ms")
    return f"{round(total)} ms" if isinstance(total, int | float) else "- ms"


def usage_text(record: TraceRecord) -> str:
    """The upstream's usage; for count_tokens the count it answered (an estimate, not usage)."""
    if is_count(record):
        counted = record.get("counted_tokens")
        return f"counted {counted}" if isinstance(counted, int) else "no usage"
    return token_text(usage_of(record)) if record.get("usage") else "no usage"


def profile_text(record: TraceRecord) -> str:
    """`profile cheap rule 2 (thinking requested)`, or `` when no profile routed the exchange."""
    profile = record.get("profile")
    if not profile:
        return ""
    rule = record.get("rule")
    text = f"profile {profile} " + (f"rule {rule}" if isinstance(rule, int) else "no rule")
    condition = record.get("rule_condition")
    return text + (f" ({condition})" if condition else "")


def exchange_line(record: TraceRecord, *, with_profile: bool = False) -> str:
    """One readable line: time, trace, model → resolved @ channel, [profile,] status, tokens, ms."""
    kind = record.get("kind")
    parts = [
        short_time(record),
        short_trace(record.get("trace_id")),
        *([f"[{kind}]"] if kind not in (None, "messages") else []),
        model_route(record),
        *([text] if with_profile and (text := profile_text(record)) else []),
        str(record.get("status", "-")),
        usage_text(record),
        ms_text(record),
    ]
    line = "  ".join(parts)
    error = record.get("error")
    if error:
        line += f"  {error.get('type')}: {error.get('message')}"
    return click.style(line, fg="red") if is_error(record) else line


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned text columns, numbers right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([fmt(headers).rstrip(), *(fmt(r).rstrip() for r in rows)])


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).replace("$", "", 1).isdigit()


def cost_text(totals: Totals) -> str:
    return f"${totals.cost:.4f}" if totals.cost is not None else "-"


# ---------------------------------------------------------------------------------------------
# traces tail
# ---------------------------------------------------------------------------------------------


@click.group(name="traces")
def traces_group() -> None:
    """Read the trace log: one JSON line per exchange, grouped by trace (a Claude Code session)."""


def record_filter(key: str | None, trace: str | None, errors: bool) -> Callable[[TraceRecord], bool]:
    def keep(record: TraceRecord) -> bool:
        return (
            (key is None or record.get("key") == key)
            and (trace is None or str(record.get("trace_id") or "").startswith(trace))
            and (not errors or is_error(record))
        )

    return keep


def emit(records: Iterable[Record], as_json: bool) -> None:
    for record in records:
        if as_json:
            echo_jsonl(record)
        else:
            click.echo(exchange_line(record))


@traces_group.command("tail")
@click.option("-f", "--follow", is_flag=True, help="Keep printing exchanges as they are written.")
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--key", default=None, help="Only this key's exchanges.")
@click.option("--trace", default=None, metavar="ID", help="Only this trace (an id or its unique start).")
@click.option("--errors", is_flag=True, help="Only failed exchanges.")
@config_option
@file_option
@json_option
def tail(
    follow: bool,
    count: int,
    key: str | None,
    trace: str | None,
    errors: bool,
    config_path: Path,
    trace_file: Path | None,
    as_json: bool,
) -> None:
    """The latest exchanges, one line each (JSON lines with --json); -f follows the log live."""
    path = trace_path(config_path, trace_file)
    keep = record_filter(key, trace, errors)
    stats = ReadStats()
    if not follow:
        emit(deque(filter(keep, read_files(existing_files(path), stats)), maxlen=count), as_json)
        report_damaged(stats)
        return
    follower = TraceFollower(path, stats, at_end=False)
    rotated = [p for p in trace_files(path) if p != path]
    history = [*read_files(rotated, stats), *follower.poll()]
    shown = deque(filter(keep, history), maxlen=count)
    emit(shown, as_json)
    report_damaged(stats)
    if not shown:
        what = "no exchanges yet" if not history else "no matching exchanges yet"
        click.echo(f"{what} in {path}; waiting for new ones (Ctrl-C to stop)…", err=True)
    try:
        for batch in poll_forever(follower):
            emit(filter(keep, batch), as_json)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()


def poll_forever(follower: TraceFollower) -> Iterator[list[Record]]:
    reported = follower.stats.damaged
    while True:
        batch = follower.poll()
        if follower.stats.damaged != reported:
            click.echo(f"{follower.stats.damaged - reported} damaged line(s) skipped", err=True)
            reported = follower.stats.damaged
        if batch:
            yield batch
        else:
            time.sleep(FOLLOW_POLL_S)


# ---------------------------------------------------------------------------------------------
# traces list / show
# ---------------------------------------------------------------------------------------------


@traces_group.command("list")
@since_option
@config_option
@file_option
@json_option
def list_traces(since: datetime | None, config_path: Path, trace_file: Path | None, as_json: bool) -> None:
    """One row per trace (session): first and last seen, requests, tokens, errors."""
    stats = ReadStats()
    files = existing_files(trace_path(config_path, trace_file))
    records = since_filter(without_replays(read_files(files, stats)), since)
    traces = group_totals(records, "trace")
    if as_json:
        echo_json([{"trace_id": t.name, **_without_name(t.as_dict())} for t in traces])
    elif traces:
        headers = ["TRACE", "FIRST", "LAST", "REQUESTS", "COUNTS", "IN", "OUT", "ERRORS"]
        click.echo(table(headers, [trace_row(t) for t in traces]))
    else:
        click.echo("no exchanges" + (" in that period" if since else ""))
    report_damaged(stats)


def _without_name(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("name", "cost_usd", "unpriced_requests")}


def trace_row(totals: Totals) -> list[str]:
    return [
        totals.name,
        totals.first[:19].replace("T", " "),
        totals.last[:19].replace("T", " "),
        str(totals.requests),
        str(totals.token_counts),
        str(totals.tokens["input"]),
        str(totals.tokens["output"]),
        str(totals.errors),
    ]


@traces_group.command("show")
@click.argument("trace_id", metavar="ID")
@click.option("--bodies/--no-bodies", default=True, show_default=True, help="Print the recorded bodies.")
@click.option(
    "--body-lines",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    metavar="N",
    help="Show at most N lines of each body (0: all of it).",
)
@config_option
@file_option
@json_option
def show(
    trace_id: str, bodies: bool, body_lines: int, config_path: Path, trace_file: Path | None, as_json: bool
) -> None:
    """The requests of one trace as a timeline, with profile, rule and recorded bodies.

    ID may be the unique start of the id. Bodies are recorded with `server.trace.bodies: errors|all`.
    """
    stats = ReadStats()
    records = read_files(existing_files(trace_path(config_path, trace_file)), stats)
    try:
        full_id, found = records_of_trace(records, trace_id)
    except LookupError as exc:
        report_damaged(stats)
        raise fail(str(exc)) from None
    if as_json:
        echo_json({"trace_id": full_id, "requests": found})
    else:
        for line in timeline(full_id, found, body_lines if bodies else None):
            click.echo(line)
    report_damaged(stats)


def timeline(trace_id: str, records: list[Record], body_lines: int | None = None) -> Iterator[str]:
    """The trace's summary, then each exchange; `body_lines` None leaves the bodies out."""
    totals = group_totals(records, "trace")[0]
    sources = sorted({str(r.get("trace_source")) for r in records})
    yield f"trace {trace_id} ({', '.join(sources)})"
    counts = f", {totals.token_counts} token counts" if totals.token_counts else ""
    yield (
        f"  {totals.requests} requests{counts}, {totals.errors} errors, {token_text(totals.tokens)}, "
        f"{short_time(records[0])} … {short_time(records[-1])}"
    )
    start = record_time(records[0])
    for record in records:
        moment = record_time(record)
        offset = (moment - start).total_seconds() if moment and start else 0.0
        line = exchange_line(record, with_profile=True)
        yield f"+{offset:7.1f}s  {line}  {record.get('stop_reason') or ''}".rstrip()
        yield from attempt_lines(record)
        if body_lines is not None:
            yield from body_text(record, body_lines)


BODY_INDENT = " " * 12


def body_text(record: TraceRecord, max_lines: int) -> Iterator[str]:
    """The recorded request and response bodies, pretty-printed and cut at `max_lines` (0: whole)."""
    for name in ("request_body", "response_body"):
        if name not in record:
            continue
        lines = json.dumps(record[name], indent=2, ensure_ascii=False).splitlines()
        yield f"{BODY_INDENT}{name.replace('_', ' ')}:"
        shown = lines if not max_lines else lines[:max_lines]
        yield from (f"{BODY_INDENT}  {line}" for line in shown)
        if len(shown) < len(lines):
            yield f"{BODY_INDENT}  … {len(lines) - len(shown)} more lines (--body-lines 0 shows all)"


def attempt_lines(record: TraceRecord) -> Iterator[str]:
    """The upstream attempts, shown when there was more than one or one failed."""
    attempts = record.get("attempts") or []
    if len(attempts) < 2 and not any(a.get("error") for a in attempts):
        return
    for i, attempt in enumerate(attempts, 1):
        error = f"  {attempt['error']}" if attempt.get("error") else ""
        yield (
            f"            attempt {i}: {attempt.get('channel')} ({attempt.get('upstream_model')}) "
            f"{attempt.get('status')} {round(attempt.get('latency_ms') or 0)} ms{error}"
        )


# ---------------------------------------------------------------------------------------------
# usage
# ---------------------------------------------------------------------------------------------


@click.command("usage")
@since_option
@click.option(
    "--by", type=click.Choice(sorted(GROUP_FIELDS)), default="model", show_default=True, help="Group the totals by."
)
@config_option
@file_option
@json_option
def usage(since: datetime | None, by: str, config_path: Path, trace_file: Path | None, as_json: bool) -> None:
    """Token totals, and cost where the config prices the model (`pricing:`, USD per million tokens)."""
    path = trace_path(config_path, trace_file)
    pricing = pricing_for(config_path, trace_file)
    stats = ReadStats()
    records = list(since_filter(without_replays(read_files(existing_files(path), stats)), since))
    counts = sum(map(is_count, records))
    rows = group_totals([r for r in records if not is_count(r)], by, pricing)
    total = overall(rows)
    total.token_counts = counts
    if as_json:
        echo_json(
            {
                "by": by,
                "since": since.isoformat() if since else None,
                "rows": [_without_counts(t.as_dict()) for t in rows],
                "total": total.as_dict(),
            }
        )
    else:
        click.echo(usage_table(by, rows, total))
    report_damaged(stats)


def overall(rows: list[Totals]) -> Totals:
    total = Totals("TOTAL")
    for row in rows:
        total.first = min(total.first, row.first) if total.first else row.first
        total.last = max(total.last, row.last)
        total.requests += row.requests
        total.errors += row.errors
        total.unpriced_requests += row.unpriced_requests
        for name, value in row.tokens.items():
            total.tokens[name] += value
        if row.cost is not None:
            total.cost = (total.cost or 0.0) + row.cost
    return total


def usage_table(by: str, rows: list[Totals], total: Totals) -> str:
    headers = [by.upper(), "REQUESTS", "ERRORS", "IN", "OUT", "CACHE_READ", "CACHE_WRITE", "REASONING", "COST"]
    body = [
        [
            t.name,
            str(t.requests),
            str(t.errors),
            *(str(t.tokens[n]) for n in ("input", "output", "cache_read", "cache_write", "reasoning")),
            cost_text(t),
        ]
        for t in [*rows, total]
    ]
    text = table(headers, body)
    if total.unpriced_requests:
        text += f"\n({total.unpriced_requests} requests with tokens have no price in the config's `pricing:`)"
    if total.token_counts:
        text += (
            f"\n({total.token_counts} count_tokens requests not counted: their numbers are estimates, "
            "not upstream usage)"
        )
    return text


def _without_counts(data: dict[str, Any]) -> dict[str, Any]:
    """A usage row: count_tokens exchanges are left out of the rows (the total says how many)."""
    return {k: v for k, v in data.items() if k != "token_counts"}
