"""The request pipeline: read → check → continue → route → plan per channel → dispatch → respond.

Plain async functions over our own types; the HTTP concerns (auth, errors, context) are the
middlewares'. One handler serves every inbound endpoint of every wire format (`handler(format,
endpoint)`): what differs between formats comes from their `Format` records, also where a request
names its model (its body or its path) and whether it streams (its body or its route). A *plan*
knows how to talk to one kind of channel for one inbound request: the same-format fast path
(`relay.py`), the IR transform (`transform.py`), or a token count through another format's
counting endpoint (`counting.py`).

An endpoint with a `Continuation` (server-side conversation state) has a request that names an
earlier answer spliced into a self-contained one before routing, and the conversation behind each
answer it serves remembered afterwards (`axonhub/conversations.py`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from axonhub import fastjson, ir
from axonhub.appkeys import CHANNEL_HEALTH, CONVERSATIONS, EXCHANGE
from axonhub.conversations import ConversationStore
from axonhub.counting import CountPlan
from axonhub.errors import InvalidRequest, RequestTooLarge
from axonhub.exchange import Exchange
from axonhub.features import request_features
from axonhub.formats.registry import format_of_channel
from axonhub.formats.spec import AnswerWitness, Continuation, Counting, Endpoint, Format, Framing
from axonhub.jsonbody import loads_object
from axonhub.limits.limiter import LIMITER
from axonhub.metrics import METRICS
from axonhub.profiles import Candidate, Route, active_profile, resolve
from axonhub.relay import RelayPlan
from axonhub.tokens import estimate_request_tokens
from axonhub.trace import trace_id_for
from axonhub.transform import TransformPlan
from axonhub.upstream.answer import Answer
from axonhub.upstream.client import TRANSPORT, UpstreamCall, UpstreamResponse
from axonhub.upstream.dispatch import ErrorParser, dispatch, order_candidates


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the client sent, read once: its format and endpoint, the raw body and its JSON, the route's
    path parameters and the query."""

    format: Format
    endpoint: Endpoint
    raw: bytes
    body: dict[str, Any]
    headers: Mapping[str, str]
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    witness: AnswerWitness | None = None  # keeps the answer, for an endpoint that remembers conversations

    @property
    def stream(self) -> bool:
        if self.endpoint.stream is not None:
            return self.endpoint.stream
        return self.body.get("stream") is True

    @property
    def framing(self) -> Framing:
        return self.endpoint.framing(self.query)

    def model(self) -> str:
        """The model the client asked for: the route's model parameter, else the body's `model`."""
        param = self.endpoint.model_param
        model = self.params.get(param) if param else self.body.get("model")
        if not isinstance(model, str) or not model.strip():
            where = f"the path's {param}" if param else "model"
            raise InvalidRequest(f"{where}: field required (a non-empty string)")
        return model


class Plan(Protocol):
    def call(self, candidate: Candidate) -> UpstreamCall: ...

    def error_parser(self, candidate: Candidate) -> ErrorParser: ...

    async def accept(self, candidate: Candidate, response: UpstreamResponse) -> Answer: ...

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse: ...


class Planner:
    """Makes one plan per channel format for a request; the IR is parsed at most once, lazily."""

    def __init__(self, inbound: Inbound, ping_interval: float) -> None:
        self.inbound = inbound
        self.ping_interval = ping_interval
        self._ir: ir.Request | None = None
        self._tokens: int | None = None
        self._plans: dict[str, Plan] = {}

    def ir_request(self) -> ir.Request:
        """The client's request in the IR, with the model and stream mode the request itself decides."""
        if self._ir is None:
            inbound = self.inbound
            parsed = inbound.format.codec.parse_request(inbound.body)
            self._ir = dataclasses.replace(parsed, model=inbound.model(), stream=inbound.stream)
        return self._ir

    def estimated_tokens(self) -> int:
        """The request's estimated input tokens (what count_tokens answers with), made once: routing
        rules and token limits both ask."""
        if self._tokens is None:
            self._tokens = estimate_request_tokens(self.ir_request())
        return self._tokens

    def plan(self, candidate: Candidate) -> Plan:
        channel = candidate.channel
        target = format_of_channel(channel.type)
        if target is None:
            raise InvalidRequest(
                f"channel '{channel.name}' has type '{channel.type}', which this version of AxonHub cannot talk to"
            )
        if target.wire not in self._plans:
            self._plans[target.wire] = self._make(target)
        return self._plans[target.wire]

    def _make(self, target: Format) -> Plan:
        inbound = self.inbound
        if target.wire is inbound.format.wire and not target.dialect.foreign_reasoning(inbound.raw):
            return RelayPlan(inbound, lambda: self._transform(target))
        if self.inbound.endpoint.counts:
            if target.counting is None:
                raise InvalidRequest(f"a {target.wire} channel cannot count tokens")
            return CountPlan(self.inbound.format, target, self.ir_request(), self.inbound.headers)
        return self._transform(target)

    def _transform(self, target: Format) -> TransformPlan:
        return TransformPlan(
            client=self.inbound.format,
            upstream=target,
            request=self.ir_request(),
            headers=self.inbound.headers,
            ping_interval=self.ping_interval,
            framing=self.inbound.framing,
            witness=self.inbound.witness,
        )


def handler(fmt: Format, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one inbound endpoint of one format."""
    counting = fmt.counting
    if endpoint.counts and counting is None:
        raise TypeError(f"{fmt.wire} endpoint {endpoint.name} counts tokens, but its format has no `counting`")

    async def handle(request: web.Request) -> web.StreamResponse:
        exchange: Exchange = request[EXCHANGE]
        exchange.kind = endpoint.kind  # traced even when the body cannot be read
        raw, body = await read_json(request, exchange.config.server.max_body_bytes)
        inbound = Inbound(fmt, endpoint, raw, body, request.headers, request.match_info, request.query)
        start_exchange(exchange, inbound)
        endpoint.check(body)
        continuation, store = endpoint.continuation, request.app[CONVERSATIONS]
        if continuation is not None:
            inbound = continued(inbound, continuation, store, exchange)
        planner = Planner(inbound, exchange.config.server.ping_interval)
        route = route_request(exchange, planner)
        if counting is not None and endpoint.counts:
            return await serve_count(request, exchange, planner, route, counting)
        response = await serve(request, exchange, planner, route)
        if continuation is not None:
            remember(inbound, continuation, store, exchange)
        return response

    handle.__name__ = f"{fmt.wire}_{endpoint.kind}"
    return handle


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


def start_exchange(exchange: Exchange, inbound: Inbound) -> None:
    """What the trace records of the request itself: its trace id, stream flag, body and model."""
    exchange.stream = inbound.stream
    config = exchange.config
    exchange.trace_id, exchange.trace_source = trace_id_for(
        inbound.headers,
        inbound.body,
        # Session grouping is for clients that name their sessions (Claude Code, Codex); others use
        # X-Trace-Id or none.
        claude_code_enabled=config.server.trace.claude_code_trace_enabled and inbound.format.sessions,
        request_id=exchange.request_id,
    )
    if config.server.trace.bodies != "none":
        exchange.request_body = inbound.body
    exchange.requested_model = inbound.model()


def route_request(exchange: Exchange, planner: Planner) -> Route:
    """The one place a request is routed: its features, only those the key's profile asks about
    (`when:` rules), are computed once from the parsed body and handed to the pure `resolve`. The
    token estimate comes from the planner, so the IR it parses serves the plan too."""
    config = exchange.config
    inbound = planner.inbound
    profile = active_profile(exchange.key, config)
    needs = profile.needs if profile is not None else frozenset()
    features = request_features(inbound.format, inbound.body, inbound.headers, needs, planner.estimated_tokens)
    return resolve(exchange.requested_model or "", exchange.key, config, features)


def _store_key(exchange: Exchange) -> str:
    return exchange.key.name if exchange.key is not None else ""


def continued(inbound: Inbound, continuation: Continuation, store: ConversationStore, exchange: Exchange) -> Inbound:
    """The request with the conversation it continues spliced in (unknown id: the format's error), and
    a witness for its answer."""
    witness = continuation.witness(inbound.body)
    previous = continuation.previous(inbound.body)
    if previous is None:
        return dataclasses.replace(inbound, witness=witness)
    history = store.get(_store_key(exchange), previous)
    if history is None:
        raise continuation.unknown(previous)
    body = continuation.splice(inbound.body, history)
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return dataclasses.replace(inbound, raw=raw, body=body, witness=witness)


def remember(inbound: Inbound, continuation: Continuation, store: ConversationStore, exchange: Exchange) -> None:
    """Keep the conversation behind the answer the client received whole (a failed one is not kept)."""
    answer = inbound.witness.answer if inbound.witness is not None else None
    kept = continuation.remember(inbound.body, answer) if answer is not None else None
    if answer is not None and kept is not None:
        answer_id, conversation = kept
        server = exchange.config.server
        # The request as sent (with any conversation spliced in) and the answer's output: about the
        # JSON size of what is kept, counted only when a bound asks for it.
        size = (
            len(inbound.raw) + len(fastjson.dumps_text(answer.get("output"))) if server.conversations_max_bytes else 0
        )
        store.put(
            _store_key(exchange),
            answer_id,
            conversation,
            server.conversations_per_key,
            size,
            server.conversations_max_bytes,
        )


def note_route(exchange: Exchange, route: Route) -> None:
    exchange.profile = route.profile
    exchange.rule = route.rule_number
    exchange.rule_condition = route.condition
    exchange.resolved_model = route.resolved_model


async def serve(request: web.Request, exchange: Exchange, planner: Planner, route: Route) -> web.StreamResponse:
    """Check the key's limits, dispatch to the route's first healthy channel, answer in the client's format."""
    note_route(exchange, route)
    inbound = planner.inbound
    limiter = request.app[LIMITER]
    await limiter.admit_exchange(exchange, route, planner.estimated_tokens)
    candidates = order_candidates(limiter.usable(route, exchange.client_format), request.app[CHANNEL_HEALTH])
    candidate, answer = await dispatch(
        request.app[TRANSPORT],
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


async def serve_count(
    request: web.Request, exchange: Exchange, planner: Planner, route: Route, counting: Counting
) -> web.StreamResponse:
    """A token count: served by the route's channels whose format counts tokens (the client's own on
    the fast path, another through its counting endpoint); for a model none of them serves, the
    gateway's own estimate, in the client's format."""
    inbound = planner.inbound
    able = tuple(c for c in route.candidates if _counts(inbound.format, c))
    if able:
        return await serve(request, exchange, planner, dataclasses.replace(route, candidates=able))
    note_route(exchange, route)
    tokens = planner.estimated_tokens()
    answer = counting.render_answer(tokens)
    exchange.counted_tokens = tokens  # a local count is an estimate: traced apart, never as usage
    exchange.status = 200
    return web.json_response(answer)


def _counts(client: Format, candidate: Candidate) -> bool:
    target = format_of_channel(candidate.channel.type)
    return target is not None and (target.wire is client.wire or target.counting is not None)
