"""What the per-request bookkeeping costs on the event loop, part by part, in process.

    .venv/bin/python benchmarks/bookkeeping.py

For another commit, copy this file into that checkout's `benchmarks/` and run it from there: it
imports the `axonhub` of the checkout it sits in.

The app is `run.py`'s (its config: trace on, JSON logs, the dashboard on), started without a
listening socket, with logging configured as `axonhub serve --log-format json` does, into
/dev/null through the log writer thread. A finished translated exchange (Anthropic client, OpenAI
channel, usage and timings filled in) is then put through each part many times, with a new request
id each time as in real traffic (a text never seen before is what redaction cannot remember; where
the code has `Redactor.minted`, the id is handed to it first, as the context middleware does):

* `request id`, `exchange`: a new id; an `Exchange` made and filled as the pipeline fills it;
* `record`: `Exchange.record()`, the trace record;
* `trace line`: the trace writer's `write()` (redact, serialise, queue);
* `metrics`: `Metrics.observe()`;
* `record + log line`: the record and the request's log line, as the context middleware writes them;
* each other `ON_EXCHANGE_DONE` callback alone (limits, dashboard);
* `finish`: everything the context middleware does once the response is done (the record, every
  callback, the log line).

Each figure is the least over 7 repeats of the CPU time of the event loop's thread per call
(`time.thread_time`: the writer threads' share is not in it), in microseconds: on a shared machine
the least disturbed repeat is the steadiest figure.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import yaml
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (the benchmark's config)

from axonhub import ir, middleware  # noqa: E402
from axonhub.appkeys import ON_EXCHANGE_DONE  # noqa: E402
from axonhub.config import load_config  # noqa: E402
from axonhub.exchange import Attempt, Exchange, new_request_id  # noqa: E402
from axonhub.formats.spec import WireFormat  # noqa: E402
from axonhub.log import configure_logging  # noqa: E402
from axonhub.metrics import METRICS  # noqa: E402
from axonhub.redact import Redactor  # noqa: E402
from axonhub.server import make_app  # noqa: E402
from axonhub.trace import TRACE_WRITER  # noqa: E402


def per_call_us(call: Callable[[], object], number: int, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.thread_time()
        for _ in range(number):
            call()
        times.append((time.thread_time() - start) / number * 1e6)
    return min(times)


def finished_exchange(config: Any, key_secret: str) -> Exchange:
    """An exchange as a translated JSON request leaves it: routed, answered, usage counted."""
    started = time.perf_counter() - 0.015
    exchange = Exchange(
        request_id=new_request_id(),
        config=config,
        method="POST",
        path="/v1/messages",
        client_format=WireFormat.ANTHROPIC,
        user_agent="claude-cli/2.1.197 (external, sdk-cli)",
        started=started,
    )
    exchange.kind = "messages"
    exchange.key = config.keys[0]
    exchange.trace_id, exchange.trace_source = "3f0c1d2e-4b5a-4c6d-8e7f-901a2b3c4d5e", "claude_code_header"
    exchange.requested_model = exchange.resolved_model = exchange.upstream_model = "bench-openai"
    exchange.profile = "bench"
    exchange.channel = "openai"
    exchange.upstream_id = "chatcmpl-bench"
    exchange.attempts.append(Attempt("openai", "bench-openai", 200, 13.7, None, 0.3))
    exchange.status = 200
    exchange.stop_reason = "end_turn"
    exchange.usage = ir.Usage(input_uncached=100, output=20)
    exchange.first_byte_at = started + 0.014
    exchange.upstream_started, exchange.upstream_finished = started + 0.0003, started + 0.014
    return exchange


async def measure(number: int, devnull: TextIO) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="axonhub-bookkeeping-"))
    secret = "ah-" + secrets.token_urlsafe(32)
    procs = run.Processes(workdir, 9, 9, secret, set(), set())
    path = workdir / "axonhub.yml"
    path.write_text(yaml.safe_dump(procs.config(), sort_keys=False))
    config = load_config(path, env={"BENCH_KEY": "sk-bench-upstream-key"})
    redactor = Redactor()
    sink = configure_logging("json", redactor=redactor, stream=devnull)
    app = make_app(config, watch=False, redactor=redactor)
    runner = web.AppRunner(app)
    await runner.setup()
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    request = make_mocked_request("POST", "/v1/messages", headers=headers, app=app)
    exchange = finished_exchange(config, secret)
    record = exchange.record()
    writer, metrics = app[TRACE_WRITER], app[METRICS]
    ids = iter([new_request_id() for _ in range(number * 7 * 3)])
    records = iter([{**record, "request_id": i, "trace_id": i} for i in [new_request_id() for _ in range(number * 7)]])

    # where the code has it, the context middleware hands a request id it minted to redaction: counted here
    mint = getattr(redactor, "minted", lambda _: None)

    def finish() -> None:
        exchange.request_id = next(ids)
        mint(exchange.request_id)
        middleware._finish(request, exchange)

    def trace_line() -> None:
        record = next(records)
        mint(record["request_id"])
        writer.write(record)

    callbacks = app[ON_EXCHANGE_DONE]
    bound = redactor.bind_request((secret,))
    results: dict[str, float] = {}
    try:
        results["request id"] = per_call_us(new_request_id, number)
        results["exchange"] = per_call_us(lambda: finished_exchange(config, secret), number)
        results["record"] = per_call_us(exchange.record, number)
        results["trace line"] = per_call_us(trace_line, number)
        results["metrics"] = per_call_us(lambda: metrics.observe(record), number)
        for callback in callbacks:
            if callback in (writer.write, metrics.observe):
                continue  # measured above
            name = getattr(callback, "__qualname__", type(callback).__name__).replace(".<locals>", "")
            results[f"  {name}"] = per_call_us(functools.partial(callback, record), number)
        kept = callbacks[:]
        callbacks.clear()  # finish without the callbacks: the record and the log line
        results["record + log line"] = per_call_us(finish, number)
        callbacks.extend(kept)
        results["finish"] = per_call_us(finish, number)
    finally:
        redactor.release(bound)
    await runner.cleanup()
    sink.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=5000, help="calls per repeat")
    args = parser.parse_args()
    with open(os.devnull, "w") as devnull:
        results = asyncio.run(measure(args.number, devnull))
    for name, us in results.items():
        print(f"{name:>24}  {us:7.2f} us")


if __name__ == "__main__":
    main()
