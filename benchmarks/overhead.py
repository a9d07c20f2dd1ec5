"""How much AxonHub adds: latency and throughput through the gateway versus straight to the upstream.

    .venv/bin/python benchmarks/overhead.py [--requests 2000] [--concurrency 16] [--body-kb 80]

Starts the fake upstream (benchmarks/fake_upstream.py) and `axonhub serve` as separate processes on
loopback, then sends the same requests both ways with an aiohttp client and prints one row per
scenario: requests/s, p50/p90/p99 latency in ms, and the median overhead the gateway adds. Request
bodies are Claude-Code-sized (about 80 KB: a long system prompt and two dozen tool schemas).
Every loop is bounded by --requests; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonhub.config import hash_secret  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def claude_code_body(size_kb: int, stream: bool, model: str) -> bytes:
    tool = {
        "name": "Tool",
        "description": "d" * 2000,
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }
    tools = [{**tool, "name": f"Tool{i}"} for i in range(max(1, (size_kb * 1024 - 8000) // 2100))]
    body = {
        "model": model,
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "s" * 6000, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}],
        "tools": tools,
        "stream": stream,
    }
    return json.dumps(body).encode()


async def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float]

    def row(self, baseline: Result | None) -> str:
        lat = sorted(self.latencies)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        overhead = (
            f"{(statistics.median(lat) - statistics.median(baseline.latencies)) * 1000:+.2f}" if baseline else "-"
        )
        rate = len(lat) / self.seconds
        return f"{self.name:<34} {rate:>9.0f} {p(0.5):>8.2f} {p(0.9):>8.2f} {p(0.99):>8.2f} {overhead:>10}"


async def load(name: str, url: str, headers: dict[str, str], body: bytes, requests: int, concurrency: int) -> Result:
    latencies: list[float] = []
    queue = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for _ in queue:
                began = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{name}: HTTP {response.status}: {await response.text()}")
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result(name, time.perf_counter() - began, latencies)


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="axonhub-bench-"))
    upstream_port, gateway_port = free_port(), free_port()
    secret = "ah-" + secrets.token_urlsafe(32)
    config = {
        "version": 1,
        "server": {"port": gateway_port, "trace": {"path": str(workdir / "trace.jsonl")}},
        "channels": [
            {
                "name": "anthropic",
                "type": "anthropic",
                "base_url": f"http://127.0.0.1:{upstream_port}",
                "api_key": "${BENCH_KEY}",
                "models": [{"regex": "claude-.*"}],
            },
            {
                "name": "openai",
                "type": "openai",
                "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                "api_key": "${BENCH_KEY}",
                "models": ["bench-openai"],
            },
        ],
        "profiles": {"bench": {"rules": [{"match": "claude-renamed", "model": "claude-bench"}]}},
        "keys": [{"name": "bench", "secret_hash": hash_secret(secret), "active_profile": "bench"}],
    }
    (workdir / "axonhub.yml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "BENCH_KEY": "sk-bench"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "fake_upstream.py"),
                "--port",
                str(upstream_port),
                "--events",
                str(args.events),
            ]
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "axonhub",
                "serve",
                "--config",
                str(workdir / "axonhub.yml"),
                "--log-format",
                "json",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        ),
    ]
    try:
        await wait_ready(f"http://127.0.0.1:{upstream_port}/")
        await wait_ready(f"http://127.0.0.1:{gateway_port}/health")
        upstream = f"http://127.0.0.1:{upstream_port}/v1/messages"
        gateway = f"http://127.0.0.1:{gateway_port}/anthropic/v1/messages"
        auth = {"x-api-key": secret, "content-type": "application/json"}
        print(
            f"requests={args.requests} concurrency={args.concurrency} body={args.body_kb}KB stream_events={args.events}"
        )
        print(f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'+p50 ms':>10}")
        for stream in (False, True):
            kind = "stream" if stream else "json"
            body = claude_code_body(args.body_kb, stream, "claude-bench")
            await load("warmup", gateway, auth, body, 50, 4)
            direct = await load(f"direct upstream ({kind})", upstream, auth, body, args.requests, args.concurrency)
            print(direct.row(None))
            same = await load(f"gateway passthrough ({kind})", gateway, auth, body, args.requests, args.concurrency)
            print(same.row(direct))
            renamed = claude_code_body(args.body_kb, stream, "claude-renamed")
            remap = await load(
                f"gateway remapped model ({kind})", gateway, auth, renamed, args.requests, args.concurrency
            )
            print(remap.row(direct))
            openai = claude_code_body(args.body_kb, stream, "bench-openai")
            try:
                await load("warmup", gateway, auth, openai, 10, 2)
            except RuntimeError as exc:
                print(f"{'gateway anthropic->openai (' + kind + ')':<34} unavailable: {exc}"[:160])
                continue
            transform = await load(
                f"gateway anthropic->openai ({kind})", gateway, auth, openai, args.requests, args.concurrency
            )
            print(transform.row(direct))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--body-kb", type=int, default=80)
    parser.add_argument("--events", type=int, default=50, help="text deltas per streamed answer")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
