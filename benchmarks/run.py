"""What AxonHub adds to a request, measured against the direct-to-upstream floor in the same run.

    .venv/bin/python benchmarks/run.py                 # the whole table (about 4 minutes)
    .venv/bin/python benchmarks/run.py --smoke         # every scenario once, briefly (CI)
    .venv/bin/python benchmarks/run.py --peer http://127.0.0.1:4000 --peer-key sk-… --peer-model bench-openai

It starts the raw-asyncio mock upstream (`mock_upstream.py`) and `axonhub serve` on a config
pointing at it (shipped defaults: trace on, JSON logs on, to files), pins the gateway to one core
and itself (the load generator, `loadgen.py`) and the mock to another, then runs every scenario
against the mock directly (the floor), through the gateway and through the peer, interleaved
repeat by repeat, and reports the median of the repeats. Besides wall-clock figures it reads the
gateway's own CPU time per request from /proc, which a busy machine disturbs far less. It prints a
table and, last, one JSON line with every figure.

`--peer URL` sends the translation scenarios to another gateway the user started (a LiteLLM proxy,
say) on loopback, with an Anthropic Messages request for `--peer-model`; point that gateway at the
mock, whose address `--mock-port` fixes (`http://127.0.0.1:PORT/v1` is an OpenAI-compatible
upstream). When the peer's process can be found by its port, it is pinned to the gateway's core.

Nothing leaves 127.0.0.1; every loop is bounded in time or count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import loadgen  # noqa: E402

from axonhub.config import hash_secret  # noqa: E402

CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ------------------------------------------------------------------------------------- requests


def small_body(model: str, stream: bool) -> bytes:
    """A 265-byte Anthropic Messages request, as in the issue's measurements."""
    body = {
        "model": model,
        "max_tokens": 1024,
        "system": "You are a terse assistant.",
        "messages": [
            {"role": "user", "content": "Write one short sentence about the sea: twenty words or so, please."}
        ],
        "stream": stream,
    }
    raw = json.dumps(body, separators=(",", ":"))
    pad = 265 - len(raw) - len(',"metadata":{"user_id":""}')
    body["metadata"] = {"user_id": "u" * max(pad, 1)}
    return json.dumps(body, separators=(",", ":")).encode()


def claude_code_body(model: str, stream: bool, size_kb: int = 80) -> bytes:
    """A Claude-Code-sized request: a 6 KB system prompt and two dozen tool schemas (about 80 KB)."""
    tool = {
        "name": "Tool",
        "description": "Run a command in the user's shell and return what it printed. " * 30,
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to run"},
                "timeout": {"type": "number", "description": "Seconds before it is stopped"},
            },
            "required": ["command"],
        },
    }
    count = max(1, (size_kb * 1024 - 8000) // len(json.dumps(tool)))
    body = {
        "model": model,
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You are Claude Code. " * 300, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}],
        "tools": [{**tool, "name": f"Tool{i}"} for i in range(count)],
        "metadata": {"user_id": json.dumps({"session_id": "3f0c1d2e-4b5a-4c6d-8e7f-901a2b3c4d5e"})},
        "stream": stream,
    }
    return json.dumps(body).encode()


# ------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of a process (sched_setaffinity applies to one thread at a time)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.sched_setaffinity(int(task.name), cpus)


def _tree(pid: int) -> list[int]:
    """`pid` and its children (the workers of `serve --workers`)."""
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
    return [pid, *children]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children, all their threads."""
    total = 0
    for one in _tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICK


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children."""
    total = 0
    for one in _tree(pid):
        try:
            total += int(Path(f"/proc/{one}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE / 1e6


def pid_listening_on(port: int) -> int | None:
    """The process holding the listening socket of `port` on loopback, from /proc (Linux)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


@dataclass
class Processes:
    workdir: Path
    mock_port: int
    gateway_port: int
    secret: str
    cpus_load: set[int]
    cpus_gateway: set[int]
    root: Path = ROOT  # the checkout whose `axonhub serve` runs
    slow_words: int = 50  # chunks of a slow stream (one every 100 ms)
    dashboard: bool = True  # the shipped default; its index of the trace grows with the trace
    workers: int = 1  # `serve --workers N`
    mock: subprocess.Popen[bytes] | None = None
    gateway: subprocess.Popen[bytes] | None = None

    def config(self) -> dict[str, Any]:
        mock = f"http://127.0.0.1:{self.mock_port}"

        def openai(name: str, prefix: str, models: list[str]) -> dict[str, Any]:
            return {
                "name": name,
                "type": "openai",
                "base_url": f"{mock}{prefix}/v1",
                "api_key": "${BENCH_KEY}",
                "models": models,
            }

        def anthropic(name: str, prefix: str, models: list[Any]) -> dict[str, Any]:
            return {
                "name": name,
                "type": "anthropic",
                "base_url": f"{mock}{prefix}",
                "api_key": "${BENCH_KEY}",
                "models": models,
            }

        return {
            "version": 1,
            "server": {
                "host": "127.0.0.1",
                "port": self.gateway_port,
                # the shipped example's trace settings: one trace per Claude Code session, no bodies
                "trace": {"path": str(self.workdir / "trace.jsonl"), "claude_code_trace_enabled": True},
                "dashboard": {"enabled": self.dashboard, "token_file": str(self.workdir / "admin.token")},
            },
            "channels": [
                anthropic("anthropic", "", ["claude-bench"]),
                anthropic("anthropic-chunks", "/w200-d1", ["claude-chunks-200"]),
                anthropic("anthropic-chunk", "/w1-d1", ["claude-chunks-1"]),
                anthropic("anthropic-slow", f"/w{self.slow_words}-d100-t", ["claude-slow"]),
                openai("openai", "", ["bench-openai"]),
                openai("openai-chunks", "/w200-d1", ["bench-chunks-200"]),
                openai("openai-chunk", "/w1-d1", ["bench-chunks-1"]),
                openai("openai-slow", f"/w{self.slow_words}-d100-t", ["bench-slow"]),
            ],
            "profiles": {"bench": {"rules": [{"match": "claude-renamed", "model": "claude-bench"}]}},
            "keys": [{"name": "bench", "secret_hash": hash_secret(self.secret), "active_profile": "bench"}],
        }

    def start(self) -> None:
        self.mock = spawn(
            [sys.executable, str(HERE / "mock_upstream.py"), "--port", str(self.mock_port)],
            self.cpus_load,
            stdout=subprocess.DEVNULL,
        )
        (self.workdir / "axonhub.yml").write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = (self.workdir / "axonhub.log").open("wb")
        self.gateway = spawn(
            [
                sys.executable,
                "-m",
                "axonhub",
                "serve",
                "--config",
                str(self.workdir / "axonhub.yml"),
                "--log-format",
                "json",
                *(("--workers", str(self.workers)) if self.workers > 1 else ()),
            ],
            self.cpus_gateway,
            env={**os.environ, "BENCH_KEY": "sk-bench-upstream-key"},
            stderr=log,
            cwd=self.root,
        )
        wait_http(f"http://127.0.0.1:{self.gateway_port}/health")

    def stop(self) -> None:
        for proc in (self.gateway, self.mock):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.gateway, self.mock):
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def spawn(argv: list[str], cpus: set[int], **kwargs: Any) -> subprocess.Popen[bytes]:
    """A child pinned to `cpus` before it starts, so its threads inherit the mask."""
    return subprocess.Popen(argv, preexec_fn=lambda: os.sched_setaffinity(0, cpus), **kwargs)


# ------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Target:
    """Where a scenario's requests go: the mock directly, the gateway, or the peer."""

    name: str  # direct | axonhub | peer
    port: int
    path: str
    body: bytes
    headers: dict[str, str]
    pid: int | None  # the server process, for its CPU time
    expect: bytes  # what the end of a right answer holds


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    targets: tuple[Target, ...]
    per_connection: int = 0  # a fixed count per connection instead of a duration
    stamps: bool = False
    stagger: float = 0.0  # seconds over which the connections' first requests are spread


@dataclass
class Run:
    """One scenario on one target in one repeat."""

    rate: float
    p50: float
    p99: float
    ttfb50: float
    cpu_per_request: float | None  # seconds of server CPU per request
    lateness: list[float] = field(default_factory=list)
    count: int = 0
    rss_peak: float | None = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(scenario: Scenario, target: Target, seconds: float) -> Run:
    before = cpu_seconds(target.pid) if target.pid else None
    raw = loadgen.build_request("127.0.0.1", target.port, target.path, target.headers, target.body)
    peak: list[float] = []

    async def sample_rss() -> None:
        while target.pid:
            peak.append(rss_mb(target.pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_rss())
    try:
        result = await loadgen.run_load(
            "127.0.0.1",
            target.port,
            raw,
            concurrency=scenario.concurrency,
            seconds=0 if scenario.per_connection else seconds,
            per_connection=scenario.per_connection,
            expect=target.expect,
            stamps=scenario.stamps,
            stagger=scenario.stagger,
        )
    finally:
        sampler.cancel()
    if result.failures:
        raise RuntimeError(f"{scenario.name} via {target.name}: {result.failures[0]}")
    cpu = (cpu_seconds(target.pid) - before) / len(result.samples) if target.pid and before is not None else None
    latencies = [s.latency for s in result.samples]
    return Run(
        rate=result.rate,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        ttfb50=percentile([s.ttfb for s in result.samples], 0.5),
        cpu_per_request=cpu,
        lateness=result.lateness,
        count=len(result.samples),
        rss_peak=max(peak) if peak else None,
    )


def build_scenarios(procs: Processes, args: argparse.Namespace, peer_pid: int | None) -> list[Scenario]:
    mock, gw = procs.mock_port, procs.gateway_port
    assert procs.gateway is not None and procs.mock is not None
    gw_pid, mock_pid = procs.gateway.pid, procs.mock.pid
    auth = {"content-type": "application/json", "x-api-key": procs.secret, "anthropic-version": "2023-06-01"}
    plain = {"content-type": "application/json", "authorization": "Bearer sk-bench-upstream-key"}
    peer_headers = {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        **({"x-api-key": args.peer_key, "authorization": f"Bearer {args.peer_key}"} if args.peer_key else {}),
    }
    peer_port = int(args.peer.rsplit(":", 1)[1].split("/")[0]) if args.peer else 0
    peer_prefix = args.peer.split("//", 1)[1].split("/", 1)[1] if args.peer and args.peer.count("/") > 2 else ""

    shapes = bool(args.peer_shapes)

    def trio(
        model: str, make: Callable[[str, bool], bytes], stream: bool, upstream_path: str, peer: bool
    ) -> tuple[Target, ...]:
        # A stream's answer ends in its format's last event; the gateway and the peer answer in Anthropic's.
        direct_end = (b"message_stop" if upstream_path.endswith("/messages") else b"[DONE]") if stream else b"word"
        end = b"message_stop" if stream else b"word"
        targets = [
            Target("direct", mock, upstream_path, make(model, stream), plain, mock_pid, direct_end),
            Target("axonhub", gw, "/v1/messages", make(model, stream), auth, gw_pid, end),
        ]
        if peer and args.peer:
            # The peer's own prefix, or the mock's shape segment where the peer takes one.
            shape = upstream_path.split("/v1/", 1)[0] if shapes else ""
            prefix = "/".join(part for part in (peer_prefix.strip("/"), shape.strip("/")) if part)
            path = f"/{prefix}/v1/messages" if prefix else "/v1/messages"
            body = make(args.peer_model, stream)
            # aiohttp_floor.py relays the mock's answer as it came.
            targets.append(Target("peer", peer_port, path, body, peer_headers, peer_pid, direct_end if shapes else end))
        return tuple(targets)

    chat, messages = "/v1/chat/completions", "/v1/messages"
    high = args.concurrency
    return [
        Scenario("translate json c1", 1, trio("bench-openai", small_body, False, chat, True)),
        Scenario(f"translate json c{high}", high, trio("bench-openai", small_body, False, chat, True)),
        Scenario("translate stream c1", 1, trio("bench-openai", small_body, True, chat, True)),
        Scenario("fast json c1", 1, trio("claude-bench", small_body, False, messages, False)),
        Scenario(f"fast json c{high}", high, trio("claude-bench", small_body, False, messages, False)),
        Scenario("fast stream c1", 1, trio("claude-bench", small_body, True, messages, False)),
        Scenario("translate 80KB json c1", 1, trio("bench-openai", claude_code_body, False, chat, False)),
        Scenario("translate 80KB stream c1", 1, trio("bench-openai", claude_code_body, True, chat, False)),
        Scenario("fast 80KB json c1", 1, trio("claude-bench", claude_code_body, False, messages, False)),
        Scenario("remapped 80KB json c1", 1, trio("claude-renamed", claude_code_body, False, messages, False)),
        Scenario("translate 200 chunks c16", 16, trio("bench-chunks-200", small_body, True, "/w200-d1" + chat, shapes)),
        Scenario("translate 1 chunk c16", 16, trio("bench-chunks-1", small_body, True, "/w1-d1" + chat, shapes)),
        Scenario("fast 200 chunks c16", 16, trio("claude-chunks-200", small_body, True, "/w200-d1" + messages, False)),
        Scenario("fast 1 chunk c16", 16, trio("claude-chunks-1", small_body, True, "/w1-d1" + messages, False)),
    ]


def slow_scenarios(procs: Processes, streams: int) -> list[Scenario]:
    assert procs.gateway is not None and procs.mock is not None
    auth = {"content-type": "application/json", "x-api-key": procs.secret, "anthropic-version": "2023-06-01"}
    plain = {"content-type": "application/json"}

    def targets(model: str, path: str, direct_end: bytes) -> tuple[Target, ...]:
        body = small_body(model, True)
        return (
            Target("direct", procs.mock_port, path, body, plain, procs.mock.pid, direct_end),  # type: ignore[union-attr]
            Target("axonhub", procs.gateway_port, "/v1/messages", body, auth, procs.gateway.pid, b"message_stop"),  # type: ignore[union-attr]
        )

    # Steady state, as 512 coding sessions would be: each stream is 50 chunks 100 ms apart (5 s), and
    # the streams start spread over half that, so all of them are open at once for the second half.
    slow, stagger = f"/w{procs.slow_words}-d100-t", procs.slow_words * 0.1 / 2
    return [
        Scenario(
            f"translate {streams} slow streams",
            streams,
            targets("bench-slow", slow + "/v1/chat/completions", b"[DONE]"),
            per_connection=1,
            stamps=True,
            stagger=stagger,
        ),
        Scenario(
            f"fast {streams} slow streams",
            streams,
            targets("claude-slow", slow + "/v1/messages", b"message_stop"),
            per_connection=1,
            stamps=True,
            stagger=stagger,
        ),
    ]


# ------------------------------------------------------------------------------------- the run


Results = dict[str, dict[str, list[Run]]]  # scenario -> target -> one Run per repeat


async def interleaved(
    scenarios: list[Scenario], repeats: int, seconds: float, results: Results, log: Callable[[str], None]
) -> None:
    """Every scenario on every target, repeat after repeat: drift in the machine's speed hits all alike."""
    for scenario in scenarios:  # warm-up: connections, caches, the first-request costs
        for target in scenario.targets:
            await measure(scenario, target, min(0.3, seconds))
    for repeat in range(repeats):
        for scenario in scenarios:
            for target in scenario.targets:
                run = await measure(scenario, target, seconds)
                results.setdefault(scenario.name, {}).setdefault(target.name, []).append(run)
        log(f"repeat {repeat + 1}/{repeats} done")


async def soak(procs: Processes, requests: int, concurrency: int) -> dict[str, float]:
    """RSS of the gateway over `requests` translated JSON requests: after a tenth of them and at the end."""
    assert procs.gateway is not None
    pid = procs.gateway.pid
    auth = {"content-type": "application/json", "x-api-key": procs.secret, "anthropic-version": "2023-06-01"}
    raw = loadgen.build_request(
        "127.0.0.1", procs.gateway_port, "/v1/messages", auth, small_body("bench-openai", False)
    )
    first = max(concurrency, requests // 10)
    began = time.perf_counter()
    warm = await loadgen.run_load(
        "127.0.0.1",
        procs.gateway_port,
        raw,
        concurrency=concurrency,
        per_connection=max(1, first // concurrency),
        expect=b"word",
    )
    after_tenth = rss_mb(pid)
    rest = await loadgen.run_load(
        "127.0.0.1",
        procs.gateway_port,
        raw,
        concurrency=concurrency,
        per_connection=max(1, (requests - first) // concurrency),
        expect=b"word",
    )
    for result in (warm, rest):
        if result.failures:
            raise RuntimeError(f"soak: {result.failures[0]}")
    done = len(warm.samples) + len(rest.samples)
    return {
        "requests": done,
        "seconds": time.perf_counter() - began,
        "rss_after_tenth_mb": after_tenth,
        "rss_end_mb": rss_mb(pid),
    }


def med(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def spread(values: Iterable[float]) -> float | None:
    """(max - min) / median of the repeats: how noisy one figure was."""
    kept = list(values)
    if len(kept) < 2 or not statistics.median(kept):
        return None
    return (max(kept) - min(kept)) / statistics.median(kept)


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    target: str
    direct: float | None
    axonhub: float | None
    peer: float | None = None
    met: bool | None = None


def figures(
    results: Results, high: int, rss: dict[str, float], soaked: dict[str, float] | None, streams: int
) -> list[Figure]:
    def get(scenario: str, target: str, attr: str) -> float | None:
        runs = results.get(scenario, {}).get(target)
        return med(getattr(r, attr) for r in runs) if runs else None

    def added(scenario: str, attr: str, target: str = "axonhub") -> float | None:
        """The median over repeats of (target - direct), each repeat paired with its own floor."""
        runs, floor = results.get(scenario, {}).get(target), results.get(scenario, {}).get("direct")
        if not runs or not floor:
            return None
        return med((getattr(a, attr) - getattr(d, attr)) * 1000 for a, d in zip(runs, floor, strict=False))

    def ms(scenario: str, attr: str, target: str) -> float | None:
        value = get(scenario, target, attr)
        return value * 1000 if value is not None else None

    def per_chunk(prefix: str, target: str) -> float | None:
        many, one = (
            get(f"{prefix} 200 chunks c16", target, "cpu_per_request"),
            get(f"{prefix} 1 chunk c16", target, "cpu_per_request"),
        )
        return (many - one) / 199 * 1e6 if many is not None and one is not None else None

    def lateness(scenario: str, target: str, q: float) -> float | None:
        runs = results.get(scenario, {}).get(target)
        if not runs:
            return None
        return med(percentile(r.lateness, q) * 1000 for r in runs if r.lateness)

    out: list[Figure] = []

    def fig(
        key: str,
        label: str,
        unit: str,
        target: str,
        direct: float | None,
        axonhub: float | None,
        peer: float | None = None,
        ok: Callable[[float], bool] | None = None,
    ) -> None:
        out.append(
            Figure(key, label, unit, target, direct, axonhub, peer, ok(axonhub) if ok and axonhub is not None else None)
        )

    for path in ("translate", "fast"):
        t = "translation" if path == "translate" else "fast path"
        fig(
            f"{path}_json_c1_p50_added_ms",
            f"{t} JSON c1: added p50",
            "ms",
            "<= 0.5",
            ms(f"{path} json c1", "p50", "direct"),
            added(f"{path} json c1", "p50"),
            added(f"{path} json c1", "p50", "peer"),
            lambda v: v <= 0.5,
        )
        fig(
            f"{path}_json_c1_p99_added_ms",
            f"{t} JSON c1: added p99",
            "ms",
            "<= 1",
            ms(f"{path} json c1", "p99", "direct"),
            added(f"{path} json c1", "p99"),
            added(f"{path} json c1", "p99", "peer"),
            lambda v: v <= 1.0,
        )
        fig(
            f"{path}_json_rps",
            f"{t} JSON c{high}: requests/s",
            "req/s",
            ">= 3000",
            get(f"{path} json c{high}", "direct", "rate"),
            get(f"{path} json c{high}", "axonhub", "rate"),
            get(f"{path} json c{high}", "peer", "rate"),
            lambda v: v >= 3000,
        )
        cpu = get(f"{path} json c{high}", "axonhub", "cpu_per_request")
        peer_cpu = get(f"{path} json c{high}", "peer", "cpu_per_request")
        fig(
            f"{path}_json_cpu_ms",
            f"{t} JSON c{high}: server CPU per request",
            "ms",
            "<= 0.33",
            (get(f"{path} json c{high}", "direct", "cpu_per_request") or 0) * 1000 or None,
            cpu * 1000 if cpu else None,
            peer_cpu * 1000 if peer_cpu else None,
            lambda v: v <= 1000 / 3000,
        )
        fig(
            f"{path}_stream_ttfb_added_ms",
            f"{t} stream c1: added time to first byte",
            "ms",
            "<= 1",
            ms(f"{path} stream c1", "ttfb50", "direct"),
            added(f"{path} stream c1", "ttfb50"),
            added(f"{path} stream c1", "ttfb50", "peer"),
            lambda v: v <= 1.0,
        )
        fig(
            f"{path}_stream_total_added_ms",
            f"{t} stream c1: added total (20 chunks)",
            "ms",
            "-",
            ms(f"{path} stream c1", "p50", "direct"),
            added(f"{path} stream c1", "p50"),
            added(f"{path} stream c1", "p50", "peer"),
        )
        fig(
            f"{path}_chunk_cost_us",
            f"{t} stream: server CPU per chunk",
            "us",
            "<= 20",
            per_chunk(path, "direct"),
            per_chunk(path, "axonhub"),
            per_chunk(path, "peer"),
            lambda v: v <= 20,
        )
        fig(
            f"{path}_slow_streams_p99_late_ms",
            f"{t} {streams} slow streams: p99 chunk lateness",
            "ms",
            "<= 10",
            lateness(f"{path} {streams} slow streams", "direct", 0.99),
            lateness(f"{path} {streams} slow streams", "axonhub", 0.99),
            None,
            lambda v: v <= 10,
        )
        fig(
            f"{path}_slow_streams_max_late_ms",
            f"{t} {streams} slow streams: max chunk lateness",
            "ms",
            "<= 10",
            lateness(f"{path} {streams} slow streams", "direct", 1.0),
            lateness(f"{path} {streams} slow streams", "axonhub", 1.0),
            None,
            lambda v: v <= 10,
        )
    fig(
        "translate_80kb_json_c1_p50_added_ms",
        "translation 80 KB JSON c1: added p50",
        "ms",
        "<= 1",
        ms("translate 80KB json c1", "p50", "direct"),
        added("translate 80KB json c1", "p50"),
        None,
        lambda v: v <= 1.0,
    )
    fig(
        "translate_80kb_stream_ttfb_added_ms",
        "translation 80 KB stream c1: added time to first byte",
        "ms",
        "<= 1",
        ms("translate 80KB stream c1", "ttfb50", "direct"),
        added("translate 80KB stream c1", "ttfb50"),
        None,
        lambda v: v <= 1.0,
    )
    fig(
        "fast_80kb_json_c1_p50_added_ms",
        "fast path 80 KB JSON c1: added p50",
        "ms",
        "<= 1",
        ms("fast 80KB json c1", "p50", "direct"),
        added("fast 80KB json c1", "p50"),
        None,
        lambda v: v <= 1.0,
    )
    fig(
        "remapped_80kb_json_c1_p50_added_ms",
        "fast path, model renamed, 80 KB JSON c1: added p50",
        "ms",
        "<= 1",
        ms("remapped 80KB json c1", "p50", "direct"),
        added("remapped 80KB json c1", "p50"),
        None,
        lambda v: v <= 1.0,
    )
    fig(
        "rss_idle_mb",
        "RSS idle",
        "MB",
        "<= 80",
        rss.get("mock_idle"),
        rss.get("idle"),
        rss.get("peer_idle"),
        lambda v: v <= 80,
    )
    fig("rss_load_mb", "RSS under load (peak)", "MB", "-", None, rss.get("load"), rss.get("peer_load"))
    if soaked:
        growth = soaked["rss_end_mb"] - soaked["rss_after_tenth_mb"]
        fig(
            "rss_soak_growth_mb",
            f"RSS growth over {soaked['requests']:,.0f} requests (after the first tenth)",
            "MB",
            "~0",
            None,
            growth,
            None,
            lambda v: v <= 2,
        )
    return out


def table(figs: list[Figure], has_peer: bool) -> str:
    head = ["figure", "target", "direct floor", "AxonHub"] + (["peer", "peer/AxonHub"] if has_peer else []) + ["met"]
    rows = [head, ["---"] * len(head)]

    def show(value: float | None, unit: str) -> str:
        if value is None:
            return "-"
        digits = 0 if unit in ("req/s",) or abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
        return f"{value:,.{digits}f} {unit}"

    for f in figs:
        if f.direct is None and f.axonhub is None and f.peer is None:
            continue  # a scenario this run left out (--only)
        row = [f.label, f.target, show(f.direct, f.unit), show(f.axonhub, f.unit)]
        if has_peer:
            ratio = f"{f.peer / f.axonhub:.3g}x" if f.peer is not None and f.axonhub not in (None, 0) else "-"
            row += [show(f.peer, f.unit), ratio]
        row.append({True: "yes", False: "NO", None: ""}[f.met])
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def noise(results: Results) -> dict[str, float | None]:
    """Per scenario, the spread of the gateway's repeats (rate for throughput, p50 otherwise)."""
    out: dict[str, float | None] = {}
    for scenario, targets in results.items():
        for name, runs in targets.items():
            if name == "direct" or len(runs) < 2:
                continue
            values = [r.rate for r in runs] if scenario.endswith(("c32", "c64", "c16")) else [r.p50 for r in runs]
            out[f"{scenario} / {name}"] = spread(values)
    return out


async def main_async(args: argparse.Namespace) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        # `--workers N` gets every core (sharing the first with the load generator and the mock)
        load_cpus, gateway_cpus = {cpus[0]}, set(cpus[1:]) if args.workers == 1 else set(cpus)
        os.sched_setaffinity(0, load_cpus)
    else:
        load_cpus = gateway_cpus = set(cpus)
    workdir = Path(tempfile.mkdtemp(prefix="axonhub-bench-"))
    procs = Processes(
        workdir,
        args.mock_port or free_port(),
        free_port(),
        "ah-" + secrets.token_urlsafe(32),
        load_cpus,
        gateway_cpus,
        root=args.gateway_root or ROOT,
        slow_words=5 if args.smoke else 50,
        dashboard=not args.no_dashboard,
        workers=args.workers,
    )

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    procs.start()
    try:
        assert procs.gateway is not None and procs.mock is not None
        say(
            f"mock upstream http://127.0.0.1:{procs.mock_port}/v1 (cpu {sorted(load_cpus)}), "
            f"gateway http://127.0.0.1:{procs.gateway_port} (cpu {sorted(gateway_cpus)}), "
            f"work dir {workdir}"
        )
        peer_pid = pid_listening_on(int(args.peer.rsplit(":", 1)[1].split("/")[0])) if args.peer else None
        if peer_pid:
            pin(peer_pid, gateway_cpus)
            say(f"peer {args.peer}: pid {peer_pid}, pinned to cpu {sorted(gateway_cpus)}")
        await asyncio.sleep(0.5)
        rss: dict[str, float] = {"idle": rss_mb(procs.gateway.pid), "mock_idle": rss_mb(procs.mock.pid)}
        if peer_pid:
            rss["peer_idle"] = rss_mb(peer_pid)
        results: Results = {}
        scenarios = build_scenarios(procs, args, peer_pid)
        slow = slow_scenarios(procs, args.slow_streams)
        if args.only:
            words = args.only.split(",")
            scenarios = [s for s in scenarios if any(word in s.name for word in words)]
            slow = [s for s in slow if any(word in s.name for word in words)]
        await interleaved(scenarios, args.repeats, args.seconds, results, say)
        for repeat in range(args.repeats if slow else 0):
            for scenario in slow:
                for target in scenario.targets:
                    run = await measure(scenario, target, 0)
                    results.setdefault(scenario.name, {}).setdefault(target.name, []).append(run)
            say(f"slow streams {repeat + 1}/{args.repeats} done")
        peaks = [r.rss_peak for runs in results.values() for r in runs.get("axonhub", []) if r.rss_peak]
        if peaks:
            rss["load"] = max(peaks)
        peer_runs = [r.rss_peak for runs in results.values() for r in runs.get("peer", []) if r.rss_peak]
        if peer_runs:
            rss["peer_load"] = max(peer_runs)
        soaking = args.soak and (not args.only or "soak" in args.only.split(","))
        soaked = await soak(procs, args.soak, args.concurrency) if soaking else None
        if soaked:
            say(f"soak: {soaked['requests']:,.0f} requests in {soaked['seconds']:.0f}s")
        figs = figures(results, args.concurrency, rss, soaked, args.slow_streams)
        trace_lines = sum(1 for _ in (workdir / "trace.jsonl").open("rb")) if (workdir / "trace.jsonl").exists() else 0
    finally:
        procs.stop()
    load_after = os.getloadavg()
    print(table(figs, bool(args.peer)))
    noisy = noise(results)
    worst = sorted(((v, k) for k, v in noisy.items() if v is not None), reverse=True)[:3]
    print(
        f"\nmedians of {args.repeats} interleaved repeats of {args.seconds:g}s; "
        f"load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; noisiest (max-min)/median: " + ", ".join(f"{k} {v:.0%}" for v, k in worst)
    )
    summary = {
        "axonhub_bench": 1,
        "python": platform.python_version(),
        "cpus": len(cpus),
        "pinned": len(cpus) >= 2,
        "repeats": args.repeats,
        "seconds": args.seconds,
        "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
        "trace_lines": trace_lines,
        "figures": {
            f.key: {
                "direct": _r(f.direct),
                "axonhub": _r(f.axonhub),
                "peer": _r(f.peer),
                "target": f.target,
                "met": f.met,
            }
            for f in figs
        },
        "noise": {k: _r(v) for k, v in noisy.items()},
        "soak": soaked,
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats; medians are reported (default 5)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="connections for the throughput scenarios (default 32)"
    )
    parser.add_argument("--slow-streams", type=int, default=512, help="concurrent slow streams (default 512)")
    parser.add_argument(
        "--soak", type=int, default=100_000, help="requests in the RSS growth run (0: skip; default 100000)"
    )
    parser.add_argument(
        "--only", help="comma-separated words: run only the scenarios whose name holds one ('soak': the RSS run)"
    )
    parser.add_argument(
        "--no-dashboard", action="store_true", help="turn the dashboard off (its in-memory index grows with the trace)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run `serve --workers N` on every core (the first shared with the load generator)",
    )
    parser.add_argument("--mock-port", type=int, help="fix the mock upstream's port (for a peer's config)")
    parser.add_argument("--peer", help="base URL of another gateway to measure side by side (loopback)")
    parser.add_argument("--peer-key", help="the key the peer expects (sent as x-api-key and Bearer)")
    parser.add_argument("--peer-model", default="bench-openai", help="the model name the peer routes to the mock")
    parser.add_argument(
        "--peer-shapes",
        action="store_true",
        help="the peer is aiohttp_floor.py: it takes the mock's answer shape as a path prefix (the "
        "per-chunk scenarios run through it too) and relays the mock's answers as they came",
    )
    parser.add_argument("--smoke", action="store_true", help="every scenario once, briefly: checks the harness works")
    parser.add_argument(
        "--gateway-root", help="run `axonhub serve` from this checkout instead (an older commit, for before/after)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.repeats, args.slow_streams, args.soak = 0.2, 1, 16, 500
    if args.gateway_root:
        args.gateway_root = Path(args.gateway_root).resolve()
    if args.peer and not args.peer.startswith("http://127.") and "://localhost" not in args.peer:
        parser.error("--peer must be a loopback URL (http://127.0.0.1:PORT)")
    return args


def main() -> None:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main_async(args)))
    sys.exit(uvloop.run(main_async(args)))


if __name__ == "__main__":
    main()
