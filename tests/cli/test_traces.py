"""`axonhub traces tail|list|show` and `axonhub usage` on a fixture log (a rotated file, a torn line)."""

from __future__ import annotations

import json
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from axonhub.cli import main
from axonhub.trace_reader import upgrade
from axonhub.trace_stats import parse_since

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
CONFIG = FIXTURES / "axonhub.yml"
A = "5f0c7a2e-1b3d-4c8e-9f10-aaaaaaaaaaaa"
B = "9d41e3b7-2c5a-4e6f-8a90-bbbbbbbbbbbb"
DAMAGED = "1 damaged line skipped\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [*args], catch_exceptions=False)


def fixture_records() -> list[dict[str, Any]]:
    lines = (FIXTURES / "axonhub-trace.jsonl.1").read_text().splitlines()
    lines += (FIXTURES / "axonhub-trace.jsonl").read_text().splitlines()[1:]  # the first line is torn
    return [upgrade(json.loads(line)) for line in lines]  # version-1 records, read as version 2


LINE_1 = (
    "2026-05-01 10:00:00  5f0c7a2e  claude-sonnet-5 → deepseek-chat @ deepseek  200  "
    "in 1000 out 200 cache r 5000 w 0  1500 ms"
)
LINE_2 = (
    "2026-05-01 10:00:05  5f0c7a2e  [count_tokens]  claude-sonnet-5 → deepseek-chat @ deepseek  200  no usage  40 ms"
)
LINE_3 = (
    "2026-05-01 10:01:00  5f0c7a2e  claude-sonnet-5 → deepseek-chat @ deepseek  200  "
    "in 2000 out 300 cache r 6000 w 100  2500 ms"
)
LINE_4 = "2026-05-01 11:00:00  9d41e3b7  claude-opus-4-8 @ anthropic  200  in 500 out 50 cache r 0 w 2000  900 ms"
LINE_5 = (
    "2026-05-01 11:00:30  req_0005  claude-opus-4-8 @ anthropic  529  no usage  300 ms  "
    "overloaded_error: upstream overloaded"
)


def test_tail_prints_one_line_per_exchange_from_the_rotated_file_on() -> None:
    result = run("traces", "tail", "-c", str(CONFIG))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [LINE_1, LINE_2, LINE_3, LINE_4, LINE_5]
    assert result.stderr == DAMAGED


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["-n", "2"], [LINE_4, LINE_5]),
        (["--key", "alice"], [LINE_1, LINE_2, LINE_3]),
        (["--trace", "9d41"], [LINE_4]),
        (["--errors"], [LINE_5]),
        (["--key", "bob", "-n", "1"], [LINE_5]),
        (["--key", "nobody"], []),
    ],
)
def test_tail_filters(options: list[str], expected: list[str]) -> None:
    result = run("traces", "tail", "-c", str(CONFIG), *options)
    assert (result.exit_code, result.stdout.splitlines()) == (0, expected)


def test_tail_json_prints_the_records_as_json_lines() -> None:
    result = run("traces", "tail", "-c", str(CONFIG), "--json")
    assert [json.loads(line) for line in result.stdout.splitlines()] == fixture_records()
    assert result.stderr == DAMAGED


def test_list_shows_one_row_per_trace() -> None:
    result = run("traces", "list", "-c", str(CONFIG))
    assert result.exit_code == 0
    assert result.stdout == (
        "TRACE                                 FIRST                LAST                 REQUESTS  COUNTS  IN    OUT  ERRORS\n"
        f"{A}  2026-05-01 10:00:00  2026-05-01 10:01:00         2       1  3000  500       0\n"
        f"{B}  2026-05-01 11:00:00  2026-05-01 11:00:00         1       0   500   50       0\n"
        "req_0005                              2026-05-01 11:00:30  2026-05-01 11:00:30         1       0     0    0       1\n"
    )
    assert result.stderr == DAMAGED


def tokens(i: int, o: int, cr: int = 0, cw: int = 0) -> dict[str, int]:
    return {"input": i, "output": o, "cache_read": cr, "cache_write": cw, "reasoning": 0}


def test_list_json_and_since() -> None:
    result = run("traces", "list", "-c", str(CONFIG), "--json", "--since", "2026-05-01T10:00:30")
    assert json.loads(result.stdout) == [
        {
            "trace_id": A,
            "first": "2026-05-01T10:01:00.000+00:00",
            "last": "2026-05-01T10:01:00.000+00:00",
            "requests": 1,
            "errors": 0,
            "token_counts": 0,
            "tokens": tokens(2000, 300, 6000, 100),
        },
        {
            "trace_id": B,
            "first": "2026-05-01T11:00:00.000+00:00",
            "last": "2026-05-01T11:00:00.000+00:00",
            "requests": 1,
            "errors": 0,
            "token_counts": 0,
            "tokens": tokens(500, 50, 0, 2000),
        },
        {
            "trace_id": "req_0005",
            "first": "2026-05-01T11:00:30.000+00:00",
            "last": "2026-05-01T11:00:30.000+00:00",
            "requests": 1,
            "errors": 1,
            "token_counts": 0,
            "tokens": tokens(0, 0),
        },
    ]


def test_show_accepts_a_unique_prefix_and_prints_the_timeline_with_attempts() -> None:
    result = run("traces", "show", "5f0c", "-c", str(CONFIG))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"trace {A} (claude_code_header)",
        "  2 requests, 1 token counts, 0 errors, in 3000 out 500 cache r 11000 w 100, "
        "2026-05-01 10:00:00 … 2026-05-01 10:01:00",
        f"+    0.0s  {with_profile(LINE_1, 'profile deepseek rule 1')}  end_turn",
        f"+    5.0s  {with_profile(LINE_2, 'profile deepseek rule 1')}",
        f"+   60.0s  {with_profile(LINE_3, 'profile deepseek rule 1')}  end_turn",
        "            attempt 1: deepseek-backup (deepseek-chat) 529 120 ms  overloaded",
        "            attempt 2: deepseek (deepseek-chat) 200 2330 ms",
    ]
    assert result.stderr == DAMAGED


def with_profile(line: str, profile: str) -> str:
    """A tail line as `traces show` prints it: the profile and rule after the route."""
    route_end = line.index("  200  ")
    return f"{line[:route_end]}  {profile}{line[route_end:]}"


def test_show_json_gives_the_trace_records() -> None:
    result = run("traces", "show", B, "-c", str(CONFIG), "--json")
    assert json.loads(result.stdout) == {"trace_id": B, "requests": [fixture_records()[3]]}


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("zzz", "Error: no trace with an id starting with 'zzz'"),
        ("", "Error: '' matches 3 traces (5f0c7a2e-1b3d-4c8e-9f10-aaaaaaaaaaaa, "),
    ],
)
def test_show_refuses_an_unknown_or_ambiguous_id(prefix: str, message: str) -> None:
    result = run("traces", "show", prefix, "-c", str(CONFIG))
    assert result.exit_code == 1
    assert result.stderr.startswith(DAMAGED + message)


def test_usage_by_model_prices_the_resolved_model() -> None:
    result = run("usage", "-c", str(CONFIG))
    assert result.exit_code == 0
    assert result.stdout == (
        "MODEL            REQUESTS  ERRORS  IN    OUT  CACHE_READ  CACHE_WRITE  REASONING  COST\n"
        "deepseek-chat           2       0  3000  500       11000          100          0  $0.0021\n"
        "claude-opus-4-8         2       1   500   50           0         2000          0  $0.0488\n"
        "TOTAL                   4       1  3500  550       11000         2100          0  $0.0509\n"
        "(1 count_tokens requests not counted: their numbers are estimates, not upstream usage)\n"
    )
    assert result.stderr == DAMAGED


def test_usage_json_by_key() -> None:
    result = run("usage", "-c", str(CONFIG), "--by", "key", "--json")
    assert json.loads(result.stdout) == {
        "by": "key",
        "since": None,
        "rows": [
            {
                "name": "alice",
                "first": "2026-05-01T10:00:00.000+00:00",
                "last": "2026-05-01T10:01:00.000+00:00",
                "requests": 2,
                "errors": 0,
                "tokens": tokens(3000, 500, 11000, 100),
                # (1000*0.27 + 200*1.10 + 5000*0.07) + (2000*0.27 + 300*1.10 + 6000*0.07) per million
                "cost_usd": 0.00213,
                "unpriced_requests": 0,
            },
            {
                "name": "bob",
                "first": "2026-05-01T11:00:00.000+00:00",
                "last": "2026-05-01T11:00:30.000+00:00",
                "requests": 2,
                "errors": 1,
                "tokens": tokens(500, 50, 0, 2000),
                "cost_usd": 0.04875,  # 500*15 + 50*75 + 2000*18.75 per million
                "unpriced_requests": 0,
            },
        ],
        "total": {
            "name": "TOTAL",
            "first": "2026-05-01T10:00:00.000+00:00",
            "last": "2026-05-01T11:00:30.000+00:00",
            "requests": 4,
            "errors": 1,
            "token_counts": 1,
            "tokens": tokens(3500, 550, 11000, 2100),
            "cost_usd": 0.05088,
            "unpriced_requests": 0,
        },
    }


def test_usage_by_trace_channel_and_profile() -> None:
    names = {
        by: [row["name"] for row in json.loads(run("usage", "-c", str(CONFIG), "--by", by, "--json").stdout)["rows"]]
        for by in ("trace", "channel", "profile")
    }
    assert names == {"trace": [A, B, "req_0005"], "channel": ["deepseek", "anthropic"], "profile": ["deepseek", "-"]}


def test_file_overrides_the_config_and_unpriced_models_have_no_cost(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere.jsonl"
    shutil.copy(FIXTURES / "axonhub-trace.jsonl", log)
    shutil.copy(FIXTURES / "axonhub-trace.jsonl.1", tmp_path / "elsewhere.jsonl.1")
    result = run("usage", "--file", str(log), "-c", str(tmp_path / "missing.yml"))
    assert result.exit_code == 0
    assert result.stdout == (
        "MODEL            REQUESTS  ERRORS  IN    OUT  CACHE_READ  CACHE_WRITE  REASONING  COST\n"
        "deepseek-chat           2       0  3000  500       11000          100          0  -\n"
        "claude-opus-4-8         2       1   500   50           0         2000          0  -\n"
        "TOTAL                   4       1  3500  550       11000         2100          0  -\n"
        "(3 requests with tokens have no price in the config's `pricing:`)\n"
        "(1 count_tokens requests not counted: their numbers are estimates, not upstream usage)\n"
    )


def test_a_missing_log_is_one_clear_error(tmp_path: Path) -> None:
    result = run("traces", "list", "--file", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no trace log at {tmp_path / 'none.jsonl'}")


def test_a_bad_since_is_a_usage_error() -> None:
    result = run("usage", "-c", str(CONFIG), "--since", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is neither a duration like 30m, 2h, 7d nor an ISO date" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2026, 5, 1, 11, 30, tzinfo=UTC)),
        ("2h", datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
        ("7d", datetime(2026, 4, 24, 12, 0, tzinfo=UTC)),
        ("2026-04-30", datetime(2026, 4, 30, tzinfo=UTC)),
        ("2026-04-30T08:00:00+02:00", datetime(2026, 4, 30, 6, 0, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_iso_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, now=datetime(2026, 5, 1, 12, 0, tzinfo=UTC)) == expected


# ---------------------------------------------------------------------------------------------
# tail -f, as a user runs it
# ---------------------------------------------------------------------------------------------


def line_of(n: int) -> str:
    stamp = (datetime(2026, 5, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=n)).isoformat(timespec="milliseconds")
    return json.dumps({"v": 1, "time": stamp, "request_id": f"req_{n}", "trace_id": "t", "status": 200}) + "\n"


class Follow:
    """`axonhub traces tail -f --json` in a subprocess; its stdout lines arrive on a queue."""

    def __init__(self, log: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "axonhub", "traces", "tail", "-f", "--json", "-n", "2", "--file", str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def ids(self, count: int, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        return [
            json.loads(self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)))["request_id"]
            for _ in range(count)
        ]

    def stop(self) -> str:
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=10)
        return stderr


def test_tail_follow_prints_new_records_across_rotation_and_deletion(tmp_path: Path) -> None:
    log = tmp_path / "trace.jsonl"
    log.write_text(line_of(0) + line_of(1) + line_of(2))
    follow = Follow(log)
    try:
        assert follow.ids(2) == ["req_1", "req_2"]
        with log.open("a") as handle:
            handle.write(line_of(3))
            handle.write("{torn\n")
        assert follow.ids(1) == ["req_3"]
        with log.open("a") as handle:
            handle.write(line_of(4))  # reaches the old file just before it is rotated
        log.rename(tmp_path / "trace.jsonl.1")
        log.write_text(line_of(5))
        assert follow.ids(2) == ["req_4", "req_5"]
        log.unlink()
        time.sleep(0.5)
        log.write_text(line_of(6))
        assert follow.ids(1) == ["req_6"]
    finally:
        stderr = follow.stop()
    assert "1 damaged line(s) skipped" in stderr


def test_tail_follow_on_an_empty_log_says_it_is_waiting_then_prints_what_comes(tmp_path: Path) -> None:
    log = tmp_path / "trace.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "axonhub", "traces", "tail", "-f", "--json", "--file", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None and process.stdout is not None
        assert select.select([process.stderr], [], [], 30)[0], "tail -f said nothing in 30 s"
        waiting = process.stderr.readline()
        assert waiting == f"no exchanges yet in {log}; waiting for new ones (Ctrl-C to stop)…\n"
        with log.open("a") as handle:
            handle.write(line_of(1))
        assert select.select([process.stdout], [], [], 30)[0], "tail -f printed nothing in 30 s"
        assert json.loads(process.stdout.readline())["request_id"] == "req_1"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_show_prints_the_profile_rule_and_recorded_bodies(tmp_path: Path) -> None:
    log = tmp_path / "trace.jsonl"
    record = {
        **fixture_records()[0],
        "v": 2,
        "rule": 2,
        "rule_condition": "thinking requested",
        "request_body": {"model": "claude-sonnet-5", "messages": [{"role": "user", "content": "hi"}]},
        "response_body": {"content": [{"type": "text", "text": "hello"}]},
    }
    log.write_text(json.dumps(record) + "\n")
    result = run("traces", "show", "5f0c", "--file", str(log))
    lines = result.stdout.splitlines()
    assert lines[2] == (
        "+    0.0s  2026-05-01 10:00:00  5f0c7a2e  claude-sonnet-5 → deepseek-chat @ deepseek  "
        "profile deepseek rule 2 (thinking requested)  200  in 1000 out 200 cache r 5000 w 0  1500 ms  end_turn"
    )
    assert lines[3:] == [
        "            request body:",
        "              {",
        '                "model": "claude-sonnet-5",',
        '                "messages": [',
        "                  {",
        '                    "role": "user",',
        '                    "content": "hi"',
        "                  }",
        "                ]",
        "              }",
        "            response body:",
        "              {",
        '                "content": [',
        "                  {",
        '                    "type": "text",',
        '                    "text": "hello"',
        "                  }",
        "                ]",
        "              }",
    ]
    short = run("traces", "show", "5f0c", "--file", str(log), "--body-lines", "3").stdout.splitlines()
    assert short[3:8] == [
        "            request body:",
        "              {",
        '                "model": "claude-sonnet-5",',
        '                "messages": [',
        "              … 6 more lines (--body-lines 0 shows all)",
    ]
    assert run("traces", "show", "5f0c", "--file", str(log), "--no-bodies").stdout.splitlines()[3:] == []


@pytest.mark.parametrize(
    "edit",
    [{"timings": "fast"}, {"usage": [1, 2]}, {"attempts": {"a": 1}}, {"kind": ["messages"]}, {"time": 5}],
    ids=["timings", "usage", "attempts", "kind", "time"],
)
def test_a_record_with_a_field_of_another_type_is_a_damaged_line_not_a_crash(
    tmp_path: Path, edit: dict[str, Any]
) -> None:
    log = tmp_path / "trace.jsonl"
    good = fixture_records()[0]
    log.write_text(json.dumps({**good, "request_id": "edited", **edit}) + "\n" + json.dumps(good) + "\n")
    for command in (["tail"], ["list"], ["tail", "--json"]):
        result = run("traces", *command, "--file", str(log))
        assert result.exit_code == 0, result.output
        assert "edited" not in result.stdout
        assert "1 damaged line" in result.stderr
