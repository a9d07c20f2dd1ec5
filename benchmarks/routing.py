"""What routing costs per request: `resolve()` alone, and `pipeline.route_request()` (the request's
features for `when:` rules, then `resolve()`), on a Claude-Code-sized body (80 KB), in process.

    .venv/bin/python benchmarks/routing.py

Three profiles: rules on the model name only (no features are computed), `when:` on images and
thinking (a walk over the conversation), and `when: {tokens_above: N}` (the count_tokens estimate,
which parses the body into the IR). Prints the median microseconds per call of 7 repeats.
"""

from __future__ import annotations

import json
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import claude_code_body

from axonhub.config import build_config
from axonhub.exchange import Exchange
from axonhub.formats.registry import FORMATS
from axonhub.formats.spec import WireFormat
from axonhub.pipeline import Inbound, route_request
from axonhub.profiles import resolve

PROFILES: dict[str, list[dict[str, Any]]] = {
    "model name only": [{"regex": "claude-(.*)", "model": "claude-\\1"}],
    "when images/thinking": [
        {"regex": "claude-.*", "when": {"images": True}, "model": "vision"},
        {"regex": "claude-.*", "when": {"thinking": True}, "model": "claude-opus-4-8"},
    ],
    "when tokens_above": [
        {"regex": "claude-.*", "when": {"tokens_above": 60000}, "model": "vision"},
        {"regex": "claude-(.*)", "model": "claude-\\1"},
    ],
}


def per_call_us(call: Callable[[], object], number: int) -> float:
    return statistics.median(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def main() -> None:
    raw = claude_code_body("claude-sonnet-4-5", True, 80)
    body = json.loads(raw)
    body["thinking"] = {"type": "adaptive"}
    names = list(PROFILES)
    config = build_config(
        {
            "channels": [
                {"name": "a", "type": "anthropic", "base_url": "http://x", "models": [{"regex": "claude-.*"}, "vision"]}
            ],
            "profiles": {name: {"rules": rules} for name, rules in PROFILES.items()},
            "keys": [
                {"name": f"k{i}", "secret_hash": "sha256:" + str(i) * 64, "active_profile": name}
                for i, name in enumerate(names, 1)
            ],
        },
        source=None,
        env={},
    )
    fmt = FORMATS[WireFormat.ANTHROPIC]
    endpoint = next(e for e in fmt.endpoints if e.kind == "messages")
    inbound = Inbound(fmt, endpoint, raw, body, CIMultiDictProxy(CIMultiDict({"User-Agent": "claude-cli/2.1.197"})))
    print(f"{'profile':22} {'resolve us':>11} {'route_request us':>17} {'features us':>12}")
    for i, name in enumerate(names, 1):
        key = config.key_by_name(f"k{i}")
        exchange = Exchange(
            request_id="r", config=config, method="POST", path="/v1/messages", client_format=WireFormat.ANTHROPIC
        )
        exchange.key, exchange.requested_model = key, "claude-sonnet-4-5"
        number = 20 if "tokens" in name else 2000
        alone = per_call_us(lambda key=key: resolve("claude-sonnet-4-5", key, config), number)
        routed = per_call_us(lambda exchange=exchange: route_request(exchange, inbound), number)
        print(f"{name:22} {alone:11.1f} {routed:17.1f} {routed - alone:12.1f}")


if __name__ == "__main__":
    main()
