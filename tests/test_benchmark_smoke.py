"""The benchmark harness runs end to end (a short smoke run): mock, gateway, every scenario, the JSON line.

Speed is never asserted here: only that the harness works and reports every figure it promises.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    f"{path}_{name}"
    for path in ("translate", "fast")
    for name in (
        "json_c1_p50_added_ms",
        "json_c1_p99_added_ms",
        "json_rps",
        "json_cpu_ms",
        "stream_ttfb_added_ms",
        "stream_total_added_ms",
        "chunk_cost_us",
        "slow_streams_p99_late_ms",
        "slow_streams_max_late_ms",
    )
} | {
    "translate_80kb_json_c1_p50_added_ms",
    "translate_80kb_stream_ttfb_added_ms",
    "fast_80kb_json_c1_p50_added_ms",
    "remapped_80kb_json_c1_p50_added_ms",
    "rss_idle_mb",
    "rss_load_mb",
    "rss_soak_growth_mb",
}


@pytest.mark.slow
def test_the_smoke_run_reports_every_figure_and_a_table() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *table, summary_line = done.stdout.strip().splitlines()
    summary = json.loads(summary_line)
    assert summary["axonhub_bench"] == 1
    assert set(summary["figures"]) == FIGURES
    measured = {k for k, v in summary["figures"].items() if isinstance(v["axonhub"], int | float)}
    assert measured == FIGURES
    assert summary["trace_lines"] > 0  # the gateway ran with its trace on
    assert table[0].startswith("| figure | target | direct floor | AxonHub |")
    assert len([row for row in table if row.startswith("| ")]) == len(FIGURES) + 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_aiohttp_floor_runs_as_a_peer_on_json_streams_and_the_per_chunk_scenarios() -> None:
    mock_port, floor_port = _free_port(), _free_port()
    floor = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "aiohttp_floor.py"),
            "--port",
            str(floor_port),
            "--upstream",
            f"http://127.0.0.1:{mock_port}/v1",
        ],
        cwd=ROOT,
    )
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "run.py"),
                "--smoke",
                "--mock-port",
                str(mock_port),
                "--peer",
                f"http://127.0.0.1:{floor_port}",
                "--peer-shapes",
                "--only",
                "translate json c1,translate stream c1,chunk",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
    finally:
        floor.terminate()
        floor.wait(timeout=10)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])["figures"]
    for name in ("json_c1_p50_added_ms", "stream_ttfb_added_ms", "chunk_cost_us"):
        assert isinstance(figures[f"translate_{name}"]["peer"], int | float), name
    assert figures["fast_chunk_cost_us"]["peer"] is None  # the fast-path scenarios never go to a peer
