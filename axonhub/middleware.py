"""The aiohttp middlewares: request context, error rendering, auth. Composed in server.py.

    context  (outermost) request id, timing, the one log line and the trace record per request
    errors   any error becomes the wire format's error JSON with the right status
    drain    knows each handler in flight, so a graceful shutdown can wait for it or end it (drain.py)
    auth     the AxonHub key, where the request's format puts it (`x-api-key`, `x-goog-api-key`,
             `?key=`) or as `Authorization: Bearer` (any of them may hold it); a refused request is
             logged (what was presented, never the secret)

Context sits outside errors so that the trace and the log line see the status the client got.
Everything else (remap, transform, dispatch) is the pipeline's, because a middleware cannot
rewrite a stream once it has started.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from axonhub.appkeys import CONFIG_HOLDER, EXCHANGE, ON_EXCHANGE_DONE, PUBLIC_PATHS, REDACTOR, REQUEST_IDS
from axonhub.config import Config, Key, hash_secret
from axonhub.dashboard.access import REPLAY_OF_HEADER, replay_identity
from axonhub.drain import drain_middleware
from axonhub.error_response import error_response
from axonhub.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    UnknownRoute,
    internal_error,
)
from axonhub.exchange import Exchange, new_request_id
from axonhub.formats.registry import FORMATS, format_of_request
from axonhub.formats.spec import Format
from axonhub.log import log_request
from axonhub.metrics import METRICS
from axonhub.redact import presented_credentials

log = structlog.get_logger("axonhub.request")

CLIENT_CLOSED = 499


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    config: Config = request.app[CONFIG_HOLDER].current  # one snapshot for the whole request
    request_id = request.headers.get("x-request-id") or ""
    in_flight = request.app[REQUEST_IDS]
    # A client's own id, unless another request in flight has it: ids tell exchanges apart
    minted = not request_id or len(request_id) > 128 or not request_id.isprintable() or request_id in in_flight
    if minted:
        request_id = new_request_id()
    in_flight.add(request_id)
    exchange = Exchange(
        request_id=request_id,
        config=config,
        method=request.method,
        path=request.path,
        client_format=format_of_request(request.path, request.headers),
        user_agent=request.headers.get("User-Agent", "")[:200],
    )
    request[EXCHANGE] = exchange
    structlog.contextvars.bind_contextvars(request_id=request_id)
    # The key this client presented (in a header, or in the query where its format takes one) is
    # hidden in everything written while serving it.
    redactor = request.app[REDACTOR]
    in_query = tuple(v for name in FORMATS[exchange.client_format].key_params if (v := request.query.get(name, "")))
    bound = redactor.bind_request(presented_credentials(request.headers) + in_query)
    if minted:  # ours: nothing to hide in it (a client's own id is redacted like any text it sent)
        redactor.minted(request_id)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers.update(exchange.id_headers())
            # Sent before the bookkeeping below (the trace record, the log line, the metrics), which
            # the client need not wait for; aiohttp sees it finished and writes nothing more.
            await response.prepare(request)
            await response.write_eof()
        return response
    except (asyncio.CancelledError, ConnectionResetError):
        # The client went away: its handler was cancelled (or a write found the socket closed) and
        # the upstream call with it. nginx's 499 says so in the trace, whatever was sent before.
        exchange.status = CLIENT_CLOSED
        exchange.fail(GatewayError("the client closed the connection"), "client_closed")
        raise
    finally:
        in_flight.discard(request_id)
        exchange.status = exchange.status or status
        _finish(request, exchange)
        structlog.contextvars.unbind_contextvars("request_id")
        redactor.release(bound)


def _finish(request: web.Request, exchange: Exchange) -> None:
    if exchange.kind is None:
        if request.match_info.http_exception is not None:  # no route: counted by status, never by path
            request.app[METRICS].observe_unrouted(exchange.status)
        elif exchange.status in (401, 403):  # a key refused before any handler: counted, never traced
            request.app[METRICS].observe_refused(exchange.status)
        return

    record = exchange.record()
    for callback in request.app[ON_EXCHANGE_DONE]:
        callback(record)
    usage: Mapping[str, Any] = record["usage"] or {}
    log_request(
        log,
        {
            "method": exchange.method,
            "path": exchange.path,
            "kind": exchange.kind,
            "status": exchange.status,
            "key": record["key"],
            "model": exchange.requested_model,
            "resolved": exchange.resolved_model,
            "channel": exchange.channel,
            "stream": exchange.stream,
            "input_tokens": usage.get("input"),
            "output_tokens": usage.get("output"),
            "counted_tokens": record.get("counted_tokens"),
            "ms": record["timings"]["total_ms"],
            "error": exchange.error.message if exchange.error else None,
        },
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    exchange: Exchange = request[EXCHANGE]
    try:
        return await handler(request)
    except GatewayError as err:
        return _render(request, exchange, err)
    except web.HTTPNotFound:
        unknown = UnknownRoute(f"no route for {request.method} {request.path}{base_url_hint(request)}")
        return _render(request, exchange, unknown)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        refused = MethodNotAllowed(f"{request.method} is not supported on {request.path} (use {allowed})")
        refused.headers["Allow"] = allowed
        return _render(request, exchange, refused)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _render(request, exchange, InvalidRequest(exc.reason or "bad request", status=exc.status))
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception as exc:
        log.exception("unhandled error", error=repr(exc))
        return _render(request, exchange, internal_error(exchange.request_id, exc), error_type="internal")


_OPENAI_ENDPOINTS = ("/chat/completions", "/responses", "/models", "/completions", "/embeddings")


def base_url_hint(request: web.Request) -> str:
    """For an unknown path that looks like a client's base URL missing (or doubling) its /v1."""
    path = request.path
    origin = f"{request.scheme}://{request.host}"
    if "/v1/v1/" in path:
        return "; the client's base URL ends in /v1 twice: drop one (Anthropic clients: no /v1 at all)"
    bare = path.removeprefix("/openai")
    if bare.startswith(_OPENAI_ENDPOINTS):
        return f"; an OpenAI client's base URL ends in /v1: {origin}/v1 (or {origin}/openai/v1)"
    if path.startswith(("/messages", "/anthropic/messages")):
        return f"; an Anthropic client's base URL is {origin}/anthropic (the client adds /v1/messages)"
    return ""


def _render(request: web.Request, exchange: Exchange, err: GatewayError, error_type: str | None = None) -> web.Response:
    """The error in the client's format, every secret hidden (an upstream may echo the channel's key)."""
    exchange.fail(err, error_type)
    hints = exchange.config.server.operator_hints_enabled
    response = error_response(exchange.client_format, err, exchange.request_id, hints=hints)
    if isinstance(response.body, bytes):
        response.body = request.app[REDACTOR].data(response.body)
    exchange.status = response.status
    return response


def auth_credentials(request: web.Request, fmt: Format) -> list[tuple[str, str]]:
    """The AxonHub key candidates the request carries, where its format puts them: (where, value) for
    each of the format's key headers, `Authorization: Bearer`, and each of its key query parameters."""
    found = []
    for name in fmt.key_headers:
        key = request.headers.get(name, "").strip()
        if key:
            found.append((name, key))
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found.append(("Authorization", token.strip()))
    for name in fmt.key_params:
        key = request.query.get(name, "").strip()
        if key:
            found.append((f"?{name}=", key))
    return found


def key_ways(fmt: Format) -> str:
    """Where a client of `fmt` may put its key, as a user reads it."""
    ways = [f"`{h}`" for h in fmt.key_headers] + [f"`?{p}=`" for p in fmt.key_params]
    return ", ".join(ways) + " or `Authorization: Bearer`" if ways else "`Authorization: Bearer`"


def credential_kind(secret: str) -> str:
    """What a refused credential looks like, never any of its characters."""
    if secret.startswith("sk-ant-"):
        return "an Anthropic API key"
    if secret.startswith("ah-"):
        return "an AxonHub key unknown to this config (revoked, rotated, or from another config?)"
    if secret.startswith("sk-"):
        return "an OpenAI-style API key"
    return "an unknown token"


def _lookup(config: Config, secret: str) -> Key | None:
    digest = hash_secret(secret)
    # The lookup is by hash, which tells an attacker nothing about a secret; the final comparison
    # is constant time all the same.
    key = config.keys_by_hash.get(digest)
    return key if key is not None and hmac.compare_digest(key.secret_hash, digest) else None


def authenticate(
    config: Config, presented: list[tuple[str, str]], ways: str = "`x-api-key` or `Authorization: Bearer`"
) -> Key:
    """The AxonHub key in any of the places the request's format takes one (`ways` names them).

    Claude Code sends both `x-api-key` (from ANTHROPIC_API_KEY) and `Authorization: Bearer` (from
    ANTHROPIC_AUTH_TOKEN) when both variables are set, and the shell that exports the gateway's
    own Anthropic key often has both: the request is accepted when either header holds a valid key.
    """
    if not presented:
        raise AuthenticationFailed(
            f"missing API key: send your AxonHub key as {ways} (create one with `axonhub keys create NAME`)"
        )
    disabled = None
    for _, secret in presented:
        key = _lookup(config, secret)
        if key is not None and key.enabled:
            return key
        disabled = disabled or key
    if disabled is not None:
        raise AuthenticationFailed(f"API key '{disabled.name}' is disabled")
    what = "; ".join(f"{header} holds {credential_kind(secret)}" for header, secret in presented)
    hint = None
    if any(secret.startswith("sk-ant-") for _, secret in presented):
        hint = "ANTHROPIC_API_KEY is the gateway's upstream key: `axonhub run claude` starts Claude Code without it"
    raise AuthenticationFailed(f"invalid API key: {what}", hint=hint)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if resource is None or resource.canonical in request.app[PUBLIC_PATHS]:
        return await handler(request)
    exchange: Exchange = request[EXCHANGE]
    if REPLAY_OF_HEADER in request.headers:  # an admin replay: the admin token, a key and a forced profile
        replay = replay_identity(request, exchange.config)
        exchange.key, exchange.replay_of, exchange.replay_trace = replay.key, replay.replay_of, replay.trace_id
        return await handler(request)
    try:
        fmt = FORMATS[exchange.client_format]
        exchange.key = authenticate(exchange.config, auth_credentials(request, fmt), key_ways(fmt))
    except AuthenticationFailed as refused:
        # Never the secret itself: only which header held what kind of credential.
        log.warning(
            "request refused",
            method=request.method,
            path=request.path,
            status=401,
            reason=refused.client_message(True),
            user_agent=exchange.user_agent,
            peer=request.remote,
        )
        raise
    return await handler(request)


MIDDLEWARES: list[Middleware] = [context_middleware, error_middleware, drain_middleware, auth_middleware]
