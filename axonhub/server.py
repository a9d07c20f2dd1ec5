"""`make_app(config)`: the aiohttp application — routes, middlewares, app-wide resources.

Nothing here runs at import. App-wide resources (the upstream ClientSession, the trace writer, the
config watcher, the limits' state, the OTLP exporter) live in `cleanup_ctx`, so they open when the
server starts and close, flushed, when it stops; before that, the drain (`on_shutdown`) lets the
requests in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from axonhub import __version__, pipeline
from axonhub.appkeys import (
    CHANNEL_HEALTH,
    CONFIG_HOLDER,
    CONVERSATIONS,
    EXCHANGE,
    ON_EXCHANGE_DONE,
    PUBLIC_PATHS,
    REDACTOR,
    REQUEST_IDS,
)
from axonhub.config import Config, OtlpConfig
from axonhub.conversations import ConversationStore
from axonhub.dashboard.app import add_dashboard
from axonhub.drain import DRAIN, Drain, remember_prepared
from axonhub.errors import ErrorKind, NotFound
from axonhub.exchange import Exchange
from axonhub.formats.registry import FORMATS, UNCLAIMED
from axonhub.formats.spec import Dialect, ModelList
from axonhub.framing import encode_sse
from axonhub.limits.limiter import LIMITER, Limiter, limiter_ctx, open_state
from axonhub.metrics import METRICS, Metrics, metrics_handler, multiprocess_dir
from axonhub.middleware import MIDDLEWARES
from axonhub.models import reachable_models, reaches
from axonhub.redact import Redactor
from axonhub.reload import ConfigHolder, watch_config
from axonhub.trace import TRACE_WRITER, trace_writer_ctx
from axonhub.upstream.client import transport_ctx
from axonhub.upstream.dispatch import ChannelHealth

# Claude Code's side traffic (reachability probes, telemetry), under its base URLs.
PROBE_PREFIXES = ("", "/anthropic")


# client wire format -> the SSE bytes that end one of its streams with an error (a graceful shutdown's cut)
def _sse_error(dialect: Dialect) -> Callable[[ErrorKind, str], bytes]:
    return lambda kind, message: encode_sse([dialect.error_frame(kind, message)])


ERROR_FRAMES = {wire: _sse_error(fmt.dialect) for wire, fmt in FORMATS.items()}
METRICS_SYNC_S = 1.0

log = structlog.get_logger("axonhub.server")


async def health(request: web.Request) -> web.Response:
    config = request.app[CONFIG_HOLDER].current
    channel_health, now = request.app[CHANNEL_HEALTH], time.monotonic()
    hints = config.server.operator_hints_enabled
    limiter = request.app[LIMITER]
    state = limiter.health()
    exhausted = limiter.exhausted()
    worker = os.environ.get("AXONHUB_WORKER")
    return web.json_response(
        {
            "status": "draining" if request.app[DRAIN].draining else "ok" if state["ok"] else "degraded",
            "version": __version__,
            "worker": {"index": int(worker), "pid": os.getpid()} if worker else None,
            "state": {**state, "error": state["error"] if hints else ("unreachable" if state["error"] else None)},
            "config": {
                "path": str(config.source.absolute()) if config.source else None,
                "digest": config.digest,
                "loaded_at": datetime.fromtimestamp(config.loaded_at, UTC).isoformat(timespec="seconds"),
            },
            "channels": [
                {
                    "name": ch.name,
                    "type": ch.type,
                    "available": ch.unavailability is None,
                    "reason": ch.unavailable_reason if hints else (ch.unavailability or (None,))[0],
                    **_cooldown(channel_health, ch.name, now),
                    "quota_exhausted_until": _iso(exhausted.get(ch.name)),
                }
                for ch in config.channels
            ],
        }
    )


def _cooldown(channel_health: ChannelHealth, name: str, now: float) -> dict[str, Any]:
    """A channel's recent failures in a row and the seconds left of its cool-down (0: none)."""
    failures, left = channel_health.cooldown(name, now)
    return {"failures": failures, "cooldown_s": round(left, 1)}


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment else None


async def list_models(request: web.Request) -> web.Response:
    """In the request's own format, the same rule its errors follow (a format's prefix; on the shared
    /v1/models, Anthropic's shape for `anthropic-version`/`x-api-key`, OpenAI's otherwise)."""
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = "models"
    models = reachable_models(exchange.config, exchange.key)
    body: dict[str, Any] = _listing(exchange).render(models, request.query)
    return web.json_response(body)


async def get_model(request: web.Request) -> web.Response:
    """One model the key reaches, in the request's own format; a 404 in that format when it reaches none
    (a name a profile routes by pattern is found though the list cannot show it)."""
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = "models"
    model = request.match_info["model"]
    if not reaches(exchange.config, exchange.key, model):
        raise NotFound(f"model {model!r} is not served to this key")
    return web.json_response(_listing(exchange).render_one(model))


def _listing(exchange: Exchange) -> ModelList:
    listing = FORMATS[exchange.client_format].models or FORMATS[UNCLAIMED].models
    assert listing is not None, "the unclaimed format lists models"
    return listing


async def quiet_probe(request: web.Request) -> web.Response:
    """Claude Code's reachability probes and telemetry side traffic: a quiet 200, never traced."""
    return web.json_response({})


def add_routes(app: web.Application) -> frozenset[str]:
    """Register every route; returns the canonical paths that need no AxonHub key."""
    public: set[str] = set()
    for fmt in FORMATS.values():
        for endpoint in fmt.endpoints:
            serve = pipeline.handler(fmt, endpoint)
            for path in endpoint.paths:
                app.router.add_post(path, serve)
    # Under every base URL a client may be given; a path shared by formats is registered once.
    posted = {path for fmt in FORMATS.values() for endpoint in fmt.endpoints for path in endpoint.paths}
    for path in dict.fromkeys(p for fmt in FORMATS.values() if fmt.models for p in fmt.models.paths):
        app.router.add_get(path, list_models)
        # A model id may hold `/` (OpenRouter's `vendor/model`) and `:` (OpenAI's fine-tunes), but not
        # where `:` starts an action on the model (Gemini's `…/models/{model}:generateContent`).
        actions = any(p.startswith(path + "/{model}:") for p in posted)
        app.router.add_get(path + ("/{model:[^:]+}" if actions else "/{model:.+}"), get_model)
    for prefix in PROBE_PREFIXES:
        for path in (f"{prefix}/", f"{prefix}/api/hello"):
            app.router.add_get(path, quiet_probe)
            public.add(path)
        app.router.add_route("*", f"{prefix}/api/{{tail:.*}}", quiet_probe)
        public.add(f"{prefix}/api/{{tail}}")
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_handler(app[METRICS]))
    public.update(("/health", "/metrics"))
    return frozenset(public)


async def _wire_trace(app: web.Application) -> AsyncIterator[None]:
    app[ON_EXCHANGE_DONE].append(app[TRACE_WRITER].write)
    app[METRICS].watch_trace_writer(app[TRACE_WRITER])
    yield


def otlp_ctx(config: OtlpConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    """Export every exchange as OTLP spans while the app runs; flush them (bounded) at the end."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        try:
            from axonhub.otlp import OtlpExporter
        except ImportError:
            log.error("server.otlp is set but OpenTelemetry is not installed: pip install 'axonhub[otel]'")
            yield
            return
        holder = app[CONFIG_HOLDER]

        def channel_info(name: str) -> tuple[str, str] | None:
            channel = next((c for c in holder.current.channels if c.name == name), None)
            return (channel.type, channel.base_url) if channel else None

        exporter = OtlpExporter(config, channel_info)
        exporter.start()
        app[ON_EXCHANGE_DONE].append(exporter.submit)
        metrics = app[METRICS]
        metrics.follow("axonhub_otlp_spans_exported", "Spans the OTLP collector accepted.", lambda: exporter.exported)
        metrics.follow(
            "axonhub_otlp_spans_dropped",
            "Spans lost: the export queue was full, or the collector refused or could not be reached.",
            lambda: exporter.dropped,
        )
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, exporter.close, config.timeout)

    return ctx


async def _sync_metrics(app: web.Application) -> AsyncIterator[None]:
    """Under `serve --workers`: copy followed counts into this worker's share every second."""
    if multiprocess_dir() is None:
        yield
        return

    async def sync_forever() -> None:
        while True:
            app[METRICS].sync()
            await asyncio.sleep(METRICS_SYNC_S)

    task = asyncio.create_task(sync_forever(), name="axonhub-metrics-sync")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    app[METRICS].sync()


def make_app(
    config: Config,
    *,
    watch: bool = True,
    redactor: Redactor | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The gateway for `config`. With `watch`, edits of `config.source` are picked up live.

    `redactor` is shared with the logging setup (`axonhub serve` makes one for both); it learns the
    secrets of `config` and of every config swapped in later. `clock` (epoch seconds) is what the
    limits' windows and quota resets are measured with.
    """
    # The body limit is enforced by the pipeline against the live config, so aiohttp's own
    # limit only has to be out of the way.
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=2**62)
    app[REDACTOR] = redactor or Redactor()
    app[REDACTOR].follow(config)
    app[CONFIG_HOLDER] = ConfigHolder(config)
    app[CONFIG_HOLDER].listeners.append(app[REDACTOR].follow)
    app[CHANNEL_HEALTH] = ChannelHealth()
    app[CONVERSATIONS] = ConversationStore()
    app[METRICS] = Metrics()
    app[ON_EXCHANGE_DONE] = []
    app[REQUEST_IDS] = set()
    app[ON_EXCHANGE_DONE].append(app[METRICS].observe)
    holder = app[CONFIG_HOLDER]
    state = config.server.state
    limiter = Limiter(open_state(state), on_error=state.on_error, registry=app[METRICS].registry, clock=clock)
    app[LIMITER] = limiter
    app[ON_EXCHANGE_DONE].append(limiter.settle_record)
    drain = Drain(ERROR_FRAMES, lambda: holder.current.server.shutdown_grace)
    app[DRAIN] = drain
    app.on_shutdown.append(drain.shutdown)
    app.on_response_prepare.append(remember_prepared)
    app[PUBLIC_PATHS] = add_routes(app) | add_dashboard(app, config)  # the dashboard checks its own credential
    app.cleanup_ctx.append(transport_ctx)
    if config.server.trace.enabled:
        app.cleanup_ctx.append(trace_writer_ctx(config.server.trace, app[REDACTOR]))
        app.cleanup_ctx.append(_wire_trace)
    app.cleanup_ctx.append(limiter_ctx(limiter, lambda: [c.name for c in holder.current.channels]))
    otlp = config.server.otlp
    if otlp is not None and otlp.unavailable_reason is None:
        app.cleanup_ctx.append(otlp_ctx(otlp))
    app.cleanup_ctx.append(_sync_metrics)
    if watch and config.source is not None:
        app.cleanup_ctx.append(watch_config)
    return app
