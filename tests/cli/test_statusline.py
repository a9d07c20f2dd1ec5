"""`axonhub statusline` fed the JSON Claude Code passes on stdin, on a trace log that grows and rotates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from axonhub.cli import main

SESSION = "0b5a1d3e-7f6c-4e1a-9c2b-111111111111"
OTHER = "0b5a1d3e-7f6c-4e1a-9c2b-222222222222"


def claude_code_input(session: str) -> str:
    """What Claude Code 2.x passes to a statusLine command (its documented shape)."""
    return json.dumps(
        {
            "hook_event_name": "Status",
            "session_id": session,
            "transcript_path": f"/home/u/.claude/projects/p/{session}.jsonl",
            "cwd": "/home/u/p",
            "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8 (1M context)"},
            "workspace": {"current_dir": "/home/u/p", "project_dir": "/home/u/p"},
            "version": "2.1.197",
            "output_style": {"name": "default"},
            "cost": {"total_cost_usd": 1.23, "total_duration_ms": 5000, "total_api_duration_ms": 4000},
            "exceeds_200k_tokens": False,
        }
    )


def record(n: int, session: str = SESSION, kind: str = "messages", **extra: Any) -> str:
    data = {
        "v": 2,
        "time": f"2026-05-01T10:00:{n:02d}.000+00:00",
        "request_id": f"req_{n}",
        "trace_id": session,
        "kind": kind,
        "requested_model": "claude-opus-4-8",
        "resolved_model": "deepseek-reasoner",
        "channel": "deepseek",
        "status": 200,
        "usage": None
        if kind == "count_tokens"
        else {"input": 1000, "output": 100, "cache_read": 5000, "cache_write": 0},
        **extra,
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "axonhub.yml"
    data = {
        "server": {"trace": {"path": "trace.jsonl"}},
        "pricing": {"deepseek-reasoner": {"input": 0.55, "output": 2.19, "cache_read": 0.14}},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def status(config: Path, session: str = SESSION, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(
        main, ["statusline", "--config", str(config)], input=claude_code_input(session), env=env
    )
    assert result.exit_code == 0, result.output
    return result


def test_it_shows_the_resolved_model_channel_upstream_tokens_and_cost_of_the_session(config: Path) -> None:
    log = config.parent / "trace.jsonl"
    log.write_text(
        record(1)
        + record(2, kind="count_tokens", counted_tokens=90000)  # /context estimates never count
        + record(3, session=OTHER)
        + record(4, resolved_model="deepseek-chat", channel="deepseek-backup", usage={"input": 10, "output": 5})
    )
    # (1000*0.55 + 100*2.19 + 5000*0.14) per million for reasoner; deepseek-chat has no price
    assert status(config).stdout == "deepseek-chat @ deepseek-backup · in 1.0k out 105 cached 5.0k · $0.0015\n"
    assert status(config, OTHER).stdout == "deepseek-reasoner @ deepseek · in 1.0k out 100 cached 5.0k · $0.0015\n"


def test_it_reads_only_what_was_added_and_follows_rotation(config: Path) -> None:
    log = config.parent / "trace.jsonl"
    log.write_text(record(1))
    assert status(config).stdout.endswith("in 1.0k out 100 cached 5.0k · $0.0015\n")
    with log.open("a") as handle:
        handle.write(record(2) + record(3)[:40])  # a line still being written is not read yet
    assert "in 2.0k out 200" in status(config).stdout
    with log.open("a") as handle:
        handle.write(record(3)[40:])
    log.rename(config.parent / "trace.jsonl.1")  # rotated: the old file keeps its inode
    log.write_text(record(4, status=529, usage=None, error={"type": "overloaded_error", "message": "busy"}))
    assert status(config).stdout == (
        "deepseek-reasoner @ deepseek (last: 529 overloaded_error) · in 3.0k out 300 cached 15.0k · $0.0044\n"
    )
    # Lines already read are not read again: damage them in place and the totals stay.
    rotated = config.parent / "trace.jsonl.1"
    rotated.write_bytes(rotated.read_bytes().replace(b'"output":100', b'"output":999'))
    assert "in 3.0k out 300" in status(config).stdout


def test_a_session_the_gateway_did_not_group_is_found_by_the_launchs_trace_id(config: Path) -> None:
    (config.parent / "trace.jsonl").write_text(record(1, session="launch-1234"))
    assert status(config).stdout == "AxonHub · no requests yet this session\n"
    launched = status(config, env={"AXONHUB_TRACE_ID": "launch-1234"})
    assert launched.stdout.startswith("deepseek-reasoner @ deepseek · in 1.0k")


def test_a_problem_is_the_status_text_never_a_failure(tmp_path: Path) -> None:
    broken = tmp_path / "axonhub.yml"
    broken.write_text("server: {port: 0}\n")
    result = status(broken)
    assert result.stdout.startswith("AxonHub · invalid config")
    nothing = CliRunner().invoke(main, ["statusline", "--config", str(broken)], input="not json")
    assert (nothing.exit_code, nothing.stdout) == (0, "AxonHub · no session id on stdin\n")
