"""The gateway's CPU per request, thread by thread: the event loop and the threads that work after it.

Starts the mock upstream and `axonhub serve` the way `run.py` does (gateway pinned to the last core,
trace, JSON logs and dashboard on), drives the translation path at concurrency 32 for `--rounds`
runs of `--seconds`, and reads every thread's user + system time and context switches from
/proc/<pid>/task over the runs. Thread names come from the gateway's own `threading` names, which
it does not give the OS; so a thread is named by the order it was started in when py-spy is not at
hand (`--names`: `py-spy dump`, when installed and allowed to attach).

    .venv/bin/python benchmarks/threads.py
    .venv/bin/python benchmarks/threads.py --gateway-root /tmp/older-checkout   # a before/after
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
import run  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tasks(pid: int) -> dict[int, tuple[int, int, int]]:
    """Per thread id: (CPU ticks, voluntary, involuntary context switches)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        switches = [int(m) for m in re.findall(r"voluntary_ctxt_switches:\s+(\d+)", status)]
        out[int(tid)] = (int(fields[11]) + int(fields[12]), switches[0], switches[1])
    return out


def names(pid: int) -> dict[int, str]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    try:
        text = subprocess.run(
            [spy, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found = {}
    for match in re.finditer(r'Thread (0x[0-9A-Fa-f]+|\d+) \([^)]*\): "([^"]+)"', text):
        tid = match.group(1)
        found[int(tid, 16) if tid.startswith("0x") else int(tid)] = match.group(2)
    return found


async def main_async(args: argparse.Namespace) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    load_cpus, gateway_cpus = {cpus[0]}, {cpus[-1]}
    os.sched_setaffinity(0, load_cpus)
    workdir = Path(tempfile.mkdtemp(prefix="axonhub-threads-"))
    secret = "ah-" + secrets.token_urlsafe(32)
    root = args.gateway_root or run.ROOT
    procs = run.Processes(workdir, run.free_port(), run.free_port(), secret, load_cpus, gateway_cpus, root=root)
    procs.start()
    try:
        assert procs.gateway is not None
        pid = procs.gateway.pid
        headers = {"content-type": "application/json", "x-api-key": secret, "anthropic-version": "2023-06-01"}
        body = run.small_body("bench-openai", False)
        raw = loadgen.build_request("127.0.0.1", procs.gateway_port, "/v1/messages", headers, body)
        await loadgen.run_load("127.0.0.1", procs.gateway_port, raw, concurrency=32, seconds=2.0, expect=b"word")
        totals: dict[int, tuple[int, ...]] = {}
        requests, wall = 0, 0.0
        for _ in range(args.rounds):
            before, began = tasks(pid), time.perf_counter()
            result = await loadgen.run_load(
                "127.0.0.1", procs.gateway_port, raw, concurrency=32, seconds=args.seconds, expect=b"word"
            )
            wall += time.perf_counter() - began
            after = tasks(pid)
            requests += len(result.samples)
            for tid, now in after.items():
                delta = tuple(a - b for a, b in zip(now, before.get(tid, (0, 0, 0)), strict=True))
                totals[tid] = tuple(a + b for a, b in zip(totals.get(tid, (0, 0, 0)), delta, strict=True))
        named = names(pid) if args.names else {}
        ticks = sum(t[0] for t in totals.values())
        per_request = ticks / TICK / requests * 1e3
        print(f"gateway {root}: {requests / wall:.0f} requests/s, {per_request:.3f} ms CPU per request")
        print("| thread | CPU per request | share | voluntary switches/s | involuntary/s |")
        print("| --- | --- | --- | --- | --- |")
        for n, (tid, (cpu, voluntary, involuntary)) in enumerate(sorted(totals.items())):
            if not cpu and voluntary < 10:
                continue
            name = named.get(tid) or ("main" if tid == pid else f"thread {n}")
            print(
                f"| {name} | {cpu / TICK / requests * 1e6:.1f} us | {100 * cpu / max(ticks, 1):.1f} % "
                f"| {voluntary / wall:.0f} | {involuntary / wall:.0f} |"
            )
    finally:
        procs.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs added up (default 3)")
    parser.add_argument("--gateway-root", help="run `axonhub serve` from this checkout instead")
    parser.add_argument("--names", action="store_true", help="name the threads with `py-spy dump`")
    args = parser.parse_args()
    if args.gateway_root:
        args.gateway_root = Path(args.gateway_root).resolve()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
