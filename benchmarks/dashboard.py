"""The dashboard on a million-line trace log: index build time, memory, and page and API latency.

    .venv/bin/python benchmarks/dashboard.py                  # 1,000,000 lines in 6 files
    .venv/bin/python benchmarks/dashboard.py --lines 200000   # a quicker look

It writes a log the way the gateway does (rotated files `trace.jsonl.5` … `.1`, then `trace.jsonl`):
Claude Code sessions of a few hundred requests each, single-request SDK traces, count_tokens calls,
failovers and errors, over fourteen days, on four channels and five models. Then it runs
`axonhub serve` on it as a separate process, waits for the index, reads the server's resident
memory, times every page and data API with the admin token, and appends lines to time how soon a
new record is searchable. Nothing leaves 127.0.0.1; the upstreams are never called.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = {
    "deepseek": ["deepseek-chat", "deepseek-reasoner"],
    "anthropic": ["claude-opus-4-8", "claude-sonnet-4-5"],
    "openrouter": ["qwen3-coder"],
    "deepseek-backup": ["deepseek-chat"],
}
KEYS = ["alice", "bob", "carol", "ci-bot", "dave"]
SPAN_DAYS = 14


def record(rng: random.Random, n: int, moment: datetime, trace_id: str, key: str, cc: bool) -> dict[str, Any]:
    channel = rng.choice(["deepseek", "deepseek", "anthropic", "openrouter"])
    model = rng.choice(CHANNELS[channel])
    kind = "count_tokens" if cc and rng.random() < 0.15 else "messages"
    failed = rng.random() < 0.02
    total = rng.lognormvariate(7.2, 0.8) if kind == "messages" else rng.uniform(20, 80)
    attempts = [
        {
            "channel": channel,
            "upstream_model": model,
            "status": 200,
            "latency_ms": round(total * 0.95, 2),
            "error": None,
        }
    ]
    if rng.random() < 0.03:
        attempts.insert(
            0,
            {
                "channel": "deepseek-backup",
                "upstream_model": model,
                "status": 529,
                "latency_ms": 120.0,
                "error": "overloaded",
            },
        )
    return {
        "v": 1,
        "time": moment.isoformat(timespec="milliseconds"),
        "request_id": f"req_{n:024x}",
        "trace_id": trace_id,
        "trace_source": "claude_code_header" if cc else "request",
        "kind": kind,
        "key": key,
        "project": "default",
        "client_format": "anthropic",
        "method": "POST",
        "path": "/v1/messages/count_tokens" if kind == "count_tokens" else "/v1/messages",
        "user_agent": "claude-cli/2.1.197 (external, sdk-cli)" if cc else "AsyncAnthropic/Python 0.40.0",
        "requested_model": "claude-sonnet-4-5",
        "profile": "cheap",
        "rule": 0,
        "resolved_model": model,
        "channel": channel,
        "upstream_model": model,
        "attempts": attempts,
        "stream": cc,
        "status": 529 if failed else 200,
        "stop_reason": None if failed else rng.choice(["end_turn", "tool_use", "tool_use"]),
        "usage": None
        if failed
        else {
            "input": rng.randint(10, 4000),
            "output": rng.randint(5, 2000),
            "cache_read": rng.randint(0, 80_000),
            "cache_write": rng.randint(0, 3000),
            "reasoning": 0,
        },
        "timings": {
            "ttfb_ms": round(total * 0.3, 2),
            "upstream_ms": round(total * 0.97, 2),
            "total_ms": round(total, 2),
            "overhead_ms": round(total * 0.03, 2),
        },
        "error": {"type": "overloaded_error", "message": "upstream overloaded"} if failed else None,
    }


def generate(folder: Path, lines: int, files: int) -> Path:
    """`lines` records over SPAN_DAYS, oldest first, split over `files` files like rotation leaves them."""
    rng = random.Random(13)
    start = datetime.now(UTC) - timedelta(days=SPAN_DAYS)
    step = timedelta(days=SPAN_DAYS) / lines
    path = folder / "trace.jsonl"
    names = [folder / f"trace.jsonl.{i}" for i in range(files - 1, 0, -1)] + [path]
    per_file = lines // files + 1
    open_sessions: list[tuple[str, str, int]] = []
    n = 0
    for name in names:
        with name.open("w", encoding="utf-8") as handle:
            chunk = []
            for _ in range(min(per_file, lines - n)):
                if rng.random() < 0.25:  # an SDK call: its own trace
                    trace_id, key, cc = f"req_{n:024x}", rng.choice(KEYS), False
                else:
                    if not open_sessions or rng.random() < 1 / 250:
                        open_sessions.append((f"{rng.getrandbits(128):032x}", rng.choice(KEYS), rng.randint(50, 600)))
                        open_sessions = open_sessions[-8:]
                    position = rng.randrange(len(open_sessions))
                    trace_id, key, left = open_sessions[position]
                    open_sessions[position] = (trace_id, key, left - 1)
                    if left <= 1:
                        open_sessions.pop(position)
                    cc = True
                chunk.append(json.dumps(record(rng, n, start + step * n, trace_id, key, cc), separators=(",", ":")))
                n += 1
                if len(chunk) == 10_000:
                    handle.write("\n".join(chunk) + "\n")
                    chunk = []
            if chunk:
                handle.write("\n".join(chunk) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    with opener.open(request) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, body


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (the build's cost, whatever else the machine runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--runs", type=int, default=20, help="timed calls per API")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="axonhub-dashboard-bench-"))
    started = time.perf_counter()
    path = generate(folder, args.lines, args.files)
    size = sum(p.stat().st_size for p in folder.glob("trace.jsonl*"))
    print(
        f"generated {args.lines:,} lines in {args.files} files ({size / 2**20:.0f} MiB) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    port = free_port()
    config = folder / "axonhub.yml"
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "server": {"port": port, "trace": {"path": str(path), "keep": args.files}},
                "channels": [
                    {"name": name, "type": "deepseek", "base_url": "http://127.0.0.1:9", "models": models}
                    for name, models in CHANNELS.items()
                ],
                "profiles": {"cheap": {"rules": []}},
                "pricing": {"deepseek-chat": {"input": 0.27, "output": 1.1, "cache_read": 0.07}},
            }
        )
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "axonhub", "serve", "--config", str(config), "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,
    )
    try:
        run(args, folder, port, server.pid, path)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        if not args.keep:
            for item in folder.iterdir():
                item.unlink()
            folder.rmdir()


def run(args: argparse.Namespace, folder: Path, port: int, pid: int, path: Path) -> None:
    base = f"http://127.0.0.1:{port}"
    token_file = folder / "axonhub-admin.token"
    deadline = time.monotonic() + 60
    while not token_file.exists() or not token_file.read_text().strip():
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    token = token_file.read_text().strip()
    before = None
    cpu_before = cpu_seconds(pid)
    while True:
        try:
            _, body = get(base + "/dashboard/api/status", token)
        except OSError:
            time.sleep(0.05)
            continue
        before = before or rss_mib(pid)
        status = json.loads(body)["index"]
        if status["state"] == "ready" and status["records"]:
            break
        time.sleep(0.2)
    print(
        f"index: {status['records']:,} records, {status['sessions']:,} sessions, "
        f"built in {status['build_seconds']:.1f} s "
        f"({args.lines / status['build_seconds']:,.0f} lines/s)"
    )
    print(
        f"index build CPU time: {cpu_seconds(pid) - cpu_before:.1f} s "
        "(the wall time grows when other work shares the cores)"
    )
    after = rss_mib(pid)
    print(f"server memory (RSS): {before:.0f} MiB at start, {after:.0f} MiB with the index (+{after - before:.0f} MiB)")

    _, body = get(base + "/dashboard/api/sessions?limit=50", token)
    sessions = json.loads(body)["sessions"]
    big = max(sessions, key=lambda s: s["requests"])
    _, body = get(base + f"/dashboard/api/sessions/{big['trace_id']}?limit=200", token)
    request_id = json.loads(body)["requests"][0]["request_id"]
    second_page = json.loads(get(base + "/dashboard/api/sessions?limit=50", token)[1])["next"]
    calls = {
        "page (index.html)": "/dashboard/",
        "sessions, first page": "/dashboard/api/sessions?limit=50",
        "sessions, a later page": f"/dashboard/api/sessions?limit=50&cursor={second_page}",
        "sessions, by model (first call scans)": "/dashboard/api/sessions?limit=50&model=qwen3-coder",
        "sessions, search by request id": f"/dashboard/api/sessions?q={request_id}",
        f"a session's timeline ({min(big['requests'], 200)} requests)": (
            f"/dashboard/api/sessions/{big['trace_id']}?limit=200"
        ),
        "a request's detail": f"/dashboard/api/requests/{request_id}",
        "usage, 14 days by model": "/dashboard/api/usage?range=30d&by=model",
        "latency, 14 days by channel": "/dashboard/api/latency?range=30d&by=channel",
        "usage chart (SVG)": "/dashboard/api/charts/usage.svg?range=30d&metric=tokens",
        "channels": "/dashboard/api/channels",
    }
    print(f"\n{'call':<48}{'first ms':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name, url in calls.items():
        first, _ = get(base + url, token)
        times = sorted(get(base + url, token)[0] for _ in range(args.runs))
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:<48}{first:>10.1f}{statistics.median(times):>10.1f}{p95:>10.1f}")

    rng = random.Random(7)
    moment = datetime.now(UTC)
    with path.open("a", encoding="utf-8") as handle:
        for i in range(1000):
            rid = args.lines + i
            handle.write(
                json.dumps(record(rng, rid, moment, "bench-live", "alice", True), separators=(",", ":")) + "\n"
            )
    appended = time.perf_counter()
    last = f"req_{args.lines + 999:024x}"
    while json.loads(get(base + f"/dashboard/api/sessions?q={last}", token)[1])["total"] == 0:
        time.sleep(0.01)
    print(f"\n1,000 appended lines searchable after {(time.perf_counter() - appended) * 1000:.0f} ms (poll: 500 ms)")
    print(f"server memory (RSS) at the end: {rss_mib(pid):.0f} MiB")


if __name__ == "__main__":
    main()
