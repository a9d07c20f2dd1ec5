"""The request pipeline: parse → remap (profiles) → plan per channel format → dispatch → respond.

Plain async functions over our own types; the HTTP concerns (auth, errors, context) are the
middlewares'. A *plan* knows how to talk to one kind of channel for one inbound request: the
same-format fast path (`passthrough.py`) or the IR transform (`transform.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from axonhub import ir, passthrough, passthrough_openai
from axonhub.appkeys import CHANNEL_HEALTH, EXCHANGE
from axonhub.errors import InvalidRequest, RequestTooLarge
from axonhub.exchange import Exchange, Usage
from axonhub.formats.registry import CHANNEL_FORMATS, CODECS
from axonhub.jsonbody import json_type, loads_object
from axonhub.limits.limiter import LIMITER
from axonhub.metrics import METRICS
from axonhub.profiles import Candidate, Route, resolve
from axonhub.tokens import estimate_request_tokens
from axonhub.trace import trace_id_for
from axonhub.transform import TransformPlan
from axonhub.upstream.answer import Answer, accept
from axonhub.upstream.client import HTTP_SESSION, UpstreamCall
from axonhub.upstream.dispatch import ErrorParser, dispatch, order_candidates


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the client sent, parsed once."""

    format: str
    endpoint: str  # "messages" | "count_tokens" | "chat/completions" | …
    raw: bytes
    body: dict[str, Any]
    headers: Mapping[str, str]
    include_usage: bool = True  # whether a stream ends with usage (OpenAI: `stream_options.include_usage`)

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True


class Plan(Protocol):
    def call(self, candidate: Candidate) -> UpstreamCall: ...

    def error_parser(self, candidate: Candidate) -> ErrorParser: ...

    async def accept(self, candidate: Candidate, response: aiohttp.ClientResponse) -> Answer: ...

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse: ...


# client format -> its fast path on a channel of the same format
SAME_FORMAT: dict[str, passthrough.Dialect] = {
    "anthropic": passthrough.ANTHROPIC,
    "openai_chat": passthrough_openai.OPENAI_CHAT,
}
# endpoints the IR can carry to a channel of another format
TRANSLATABLE_ENDPOINTS = frozenset({"messages", "chat/completions"})


@dataclass(frozen=True, slots=True)
class PassthroughPlan:
    """The fast path; an answer in the other mode than the one asked (a JSON answer to a stream
    request, or the reverse) goes through `fallback`, the IR transform between the format and itself."""

    inbound: Inbound
    dialect: passthrough.Dialect
    fallback: Callable[[], Plan]

    def call(self, candidate: Candidate) -> UpstreamCall:
        return self.dialect.call(
            candidate, self.inbound.endpoint, self.inbound.headers, self.inbound.raw, self.inbound.body
        )

    def error_parser(self, candidate: Candidate) -> ErrorParser:
        return self.dialect.parse_error

    async def accept(self, candidate: Candidate, response: aiohttp.ClientResponse) -> Answer:
        codec = CODECS[self.inbound.format]
        return await accept(
            response,
            channel=candidate.channel.name,
            body_format=self.inbound.format,
            error_in_answer=codec.error_in_answer,
        )

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse:
        if answer.is_stream != self.inbound.stream:
            return await self.fallback().respond(request, exchange, candidate, answer)
        if answer.is_stream:
            return await passthrough.relay_stream(request, exchange, answer.response, self.dialect)
        return await passthrough.relay_json(exchange, answer, self.dialect)


class Planner:
    """Makes one plan per channel format for a request; the IR is parsed at most once, lazily."""

    def __init__(self, inbound: Inbound, ping_interval: float) -> None:
        self.inbound = inbound
        self.ping_interval = ping_interval
        self._ir: ir.Request | None = None
        self._plans: dict[str, Plan] = {}

    def ir_request(self) -> ir.Request:
        if self._ir is None:
            self._ir = CODECS[self.inbound.format].parse_request(self.inbound.body)
        return self._ir

    def plan(self, candidate: Candidate) -> Plan:
        channel_format = CHANNEL_FORMATS.get(candidate.channel.type)
        if channel_format is None:
            raise InvalidRequest(
                f"channel '{candidate.channel.name}' has type '{candidate.channel.type}', "
                "which this version of AxonHub cannot talk to"
            )
        if channel_format not in self._plans:
            self._plans[channel_format] = self._make(channel_format)
        return self._plans[channel_format]

    def _make(self, channel_format: str) -> Plan:
        if channel_format == self.inbound.format and channel_format in SAME_FORMAT:
            return PassthroughPlan(self.inbound, SAME_FORMAT[channel_format], lambda: self._transform(channel_format))
        if self.inbound.endpoint not in TRANSLATABLE_ENDPOINTS:
            raise InvalidRequest(f"{self.inbound.endpoint} cannot be translated to a {channel_format} channel")
        return self._transform(channel_format)

    def _transform(self, channel_format: str) -> TransformPlan:
        return TransformPlan(
            client=CODECS[self.inbound.format],
            upstream=CODECS[channel_format],
            client_format=self.inbound.format,
            upstream_format=channel_format,
            request=self.ir_request(),
            headers=self.inbound.headers,
            ping_interval=self.ping_interval,
            include_usage=self.inbound.include_usage,
        )


async def read_json(request: web.Request, limit: int) -> tuple[bytes, dict[str, Any]]:
    """The body, bounded by the configured limit, and its JSON object."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"request body of {request.content_length} bytes is larger than the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object")
    return raw, loads_object(raw)


def require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("model: field required (a non-empty string)")
    return model


def check_anthropic_messages(body: Mapping[str, Any], endpoint: str) -> None:
    """The fields Anthropic itself requires, with Anthropic-like messages."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: field required (a list of messages)")
    if endpoint == "messages":
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
            raise InvalidRequest("max_tokens: field required (a non-negative integer)")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages.{i}: must be an object, not {json_type(message)}")
        if "role" not in message or "content" not in message:
            raise InvalidRequest(f"messages.{i}: each message needs `role` and `content`")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: must be a boolean")


def start_exchange(request: web.Request, inbound: Inbound, kind: str) -> Exchange:
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = kind
    exchange.stream = inbound.stream
    config = exchange.config
    exchange.trace_id, exchange.trace_source = trace_id_for(
        inbound.headers,
        inbound.body,
        # Session grouping is for Claude Code and Codex; OpenAI Chat clients use X-Trace-Id or none.
        claude_code_enabled=config.server.trace.claude_code_trace_enabled and inbound.format != "openai_chat",
        request_id=exchange.request_id,
    )
    if config.server.trace.bodies != "none":
        exchange.request_body = inbound.body
    exchange.requested_model = require_model(inbound.body)
    return exchange


def note_route(exchange: Exchange, route: Route) -> None:
    exchange.profile = route.profile
    exchange.rule = route.rule_index
    exchange.resolved_model = route.resolved_model


async def serve(request: web.Request, exchange: Exchange, inbound: Inbound, route: Route) -> web.StreamResponse:
    """Check the key's limits, dispatch to the route's first healthy channel, answer in the client's format."""
    note_route(exchange, route)
    planner = Planner(inbound, exchange.config.server.ping_interval)
    limiter = request.app[LIMITER]
    await limiter.admit_exchange(exchange, route, lambda: estimate_request_tokens(planner.ir_request()))
    candidates = order_candidates(limiter.usable(route, exchange.client_format), request.app[CHANNEL_HEALTH])
    candidate, answer = await dispatch(
        request.app[HTTP_SESSION],
        exchange,
        candidates,
        prepare=lambda c: planner.plan(c).call(c),
        parse_error=lambda c: planner.plan(c).error_parser(c),
        accept=lambda c, response: planner.plan(c).accept(c, response),
        health=request.app[CHANNEL_HEALTH],
        limiter=limiter,
    )
    exchange.channel = candidate.channel.name
    exchange.upstream_model = candidate.upstream_model
    metrics = request.app[METRICS]
    if inbound.stream:
        metrics.stream_started()
    try:
        response = await planner.plan(candidate).respond(request, exchange, candidate, answer)
    except BaseException:
        answer.response.close()  # mid-body: drop the connection so the upstream stops generating at once
        raise
    finally:
        if inbound.stream:
            metrics.stream_finished()
    answer.response.release()  # back to the pool when the body was read whole, closed otherwise
    return response


async def anthropic_inbound(request: web.Request, endpoint: str, kind: str) -> tuple[Exchange, Inbound, Route]:
    """Read, check and route an Anthropic request; the exchange is traced even if the body is bad."""
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = kind
    raw, body = await read_json(request, exchange.config.server.max_body_bytes)
    inbound = Inbound("anthropic", endpoint, raw, body, request.headers)
    start_exchange(request, inbound, kind)
    check_anthropic_messages(body, endpoint)
    return exchange, inbound, resolve(exchange.requested_model or "", exchange.key, exchange.config)


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages (and /anthropic/v1/messages)."""
    exchange, inbound, route = await anthropic_inbound(request, "messages", "messages")
    return await serve(request, exchange, inbound, route)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages/count_tokens: upstream on an Anthropic channel, a local estimate otherwise."""
    exchange, inbound, route = await anthropic_inbound(request, "messages/count_tokens", "count_tokens")
    counters = tuple(c for c in route.candidates if CHANNEL_FORMATS.get(c.channel.type) == "anthropic")
    if counters:  # only Anthropic channels can count
        return await serve(request, exchange, inbound, dataclasses.replace(route, candidates=counters))
    note_route(exchange, route)
    counted = estimate_request_tokens(Planner(inbound, 0).ir_request())
    exchange.usage = Usage(input=counted)
    exchange.status = 200
    return web.json_response({"input_tokens": counted})
