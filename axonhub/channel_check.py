"""One live request to a channel's upstream, as the gateway would send it: `axonhub channels test`.

The request is a tiny Anthropic Messages request (as Claude Code would send it, not streamed),
planned for the channel by the gateway's own pipeline — the same-format fast path for an Anthropic
channel, the transform for an OpenAI-compatible one — so the URL, headers, body and quirks are
exactly what `axonhub serve` would send. The answer is read with the channel's own codec. The
channel's key is read from the environment of the process running the check.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from axonhub import ir
from axonhub.config import Channel
from axonhub.errors import GatewayError
from axonhub.formats.registry import FORMATS, format_of_channel
from axonhub.formats.spec import WireFormat
from axonhub.pipeline import Inbound, Planner
from axonhub.profiles import Candidate, upstream_name
from axonhub.upstream.client import open_transport, read_error_body, send

PROMPT = "Reply with the single word: pong"
MAX_TOKENS = 32


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    status: int | None
    latency_ms: float
    url: str
    upstream_model: str
    answer: str = ""
    usage: ir.Usage | None = None
    error: str | None = None


def probe_body(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}


async def check_channel(channel: Channel, model: str) -> CheckResult:
    """Send the probe for `model` to `channel`; never raises for an upstream failure."""
    candidate = Candidate(channel, upstream_name(channel, model))
    body = probe_body(model)
    headers = CIMultiDictProxy(CIMultiDict({"anthropic-version": "2023-06-01", "content-type": "application/json"}))
    anthropic = FORMATS[WireFormat.ANTHROPIC]
    messages = next(e for e in anthropic.endpoints if e.kind == "messages")
    planner = Planner(Inbound(anthropic, messages, json.dumps(body).encode(), body, headers), ping_interval=0)
    plan = planner.plan(candidate)
    call = plan.call(candidate)
    began = time.perf_counter()
    async with open_transport() as transport:
        try:
            response = await send(transport, call, channel.timeouts, channel.name)
            if response.status >= 400:
                raw = await read_error_body(response)
                raise plan.error_parser(candidate)(response.status, raw, channel.name)
            answer = await plan.accept(candidate, response)
            payload = answer.payload if answer.payload is not None else {}
        except GatewayError as err:
            status = err.status if err.status else None
            return CheckResult(False, status, _ms(began), call.url, candidate.upstream_model, error=err.message)
    return _answer(channel, candidate, planner.ir_request(), call.url, response.status, payload, _ms(began))


def _answer(
    channel: Channel,
    candidate: Candidate,
    request: ir.Request,
    url: str,
    status: int,
    payload: dict[str, Any],
    ms: float,
) -> CheckResult:
    target = format_of_channel(channel.type)
    assert target is not None  # the planner refused a type this version cannot talk to
    try:
        answer = target.codec.parse_response(payload, request)
    except (GatewayError, AttributeError, TypeError, KeyError) as exc:
        text = json.dumps(payload)[:200]
        return CheckResult(False, status, ms, url, candidate.upstream_model, error=f"unreadable answer ({exc}): {text}")
    text = " ".join(block.text for block in answer.content if isinstance(block, ir.Text)).strip()
    return CheckResult(True, status, ms, url, candidate.upstream_model, answer=text, usage=answer.usage)


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000
