"""The dashboard as an aiohttp sub-app at /dashboard/: pages, data APIs, events, replays.

`add_dashboard(app)` is all the gateway calls. It mounts the sub-app, opens the index, the live hub
and a client session for replays in a `cleanup_ctx`, and returns the paths the gateway's key check
must leave alone: the dashboard checks its own credential (`access.py`), never an AxonHub key.

Every handler reads the live config (`CONFIG_HOLDER.current`) when it runs, so keys, channels,
profiles and prices follow a reload. Queries run in a worker thread under the index lock; the
event loop only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from axonhub.appkeys import CHANNEL_HEALTH, CONFIG_HOLDER, ON_EXCHANGE_DONE, REDACTOR
from axonhub.config import Config
from axonhub.dashboard import charts, queries, replay
from axonhub.dashboard.access import (
    ADMIN_ACCESS,
    SESSION_COOKIE,
    SESSION_TTL_S,
    AdminAccess,
    admin_access_for,
    is_admin_request,
    peer_refusal,
)
from axonhub.dashboard.index import Index, Indexer
from axonhub.dashboard.live import KEEPALIVE_S, LiveHub, sse_frame
from axonhub.limits.limiter import LIMITER
from axonhub.limits.model import utc_iso
from axonhub.limits.state import StateUnavailable
from axonhub.trace import TRACE_WRITER
from axonhub.trace_stats import parse_since

log = structlog.get_logger("axonhub.dashboard")

PREFIX: Final = "/dashboard"
STATIC: Final = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
RANGES: Final = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_REPLAY_BODY: Final = 64 * 1024
MAX_FORM_BYTES: Final = 4096
CONFIG_CHECK_S: Final = 2.0
T = TypeVar("T")


@dataclass(slots=True)
class Dashboard:
    """What the dashboard holds while the server runs."""

    indexer: Indexer
    hub: LiveHub
    access: AdminAccess
    http: aiohttp.ClientSession
    assets: dict[str, bytes]
    cache: queries.FilterCache = field(default_factory=queries.FilterCache)
    streams: set[asyncio.Queue[bytes]] = field(default_factory=set)

    async def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(index, *args)` under the index lock, in a worker thread."""

        def locked() -> T:
            with self.indexer.lock:
                return fn(self.indexer.current, *args, **kwargs)

        return await asyncio.to_thread(locked)


DASHBOARD = web.AppKey("dashboard", Dashboard)


def config_of(request: web.Request) -> Config:
    return request.config_dict[CONFIG_HOLDER].current


def dashboard_of(request: web.Request) -> Dashboard:
    return request.config_dict[DASHBOARD]


# ---------------------------------------------------------------------------------------------
# Guard: loopback, the admin credential, security headers
# ---------------------------------------------------------------------------------------------

OPEN_PATHS: Final = frozenset({f"{PREFIX}/login", f"{PREFIX}/static/{{name}}"})


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith(f"{PREFIX}/api/"):
        return web.json_response({"error": message}, status=status)
    if status == 401:
        return _see_other(f"{PREFIX}/login")
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    refusal = peer_refusal(request, config_of(request).server.dashboard)
    if refusal is not None:
        response: web.StreamResponse = _refuse(request, 403, refusal)
    else:
        canonical = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
        if canonical not in OPEN_PATHS and not is_admin_request(request, dashboard_of(request).access):
            response = _refuse(request, 401, "the dashboard needs the admin token or a login link (axonhub dashboard)")
        elif request.method == "POST" and not _same_origin(request):
            response = _refuse(request, 403, "cross-origin request refused")
        else:
            try:
                response = await handler(request)
            except BadParameter as exc:
                response = web.json_response({"error": exc.message}, status=400)
            except web.HTTPNotFound:
                response = web.json_response({"error": f"nothing at {request.path}"}, status=404)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin in (f"http://{request.host}", f"https://{request.host}")


# ---------------------------------------------------------------------------------------------
# Pages: login, the app shell, static assets
# ---------------------------------------------------------------------------------------------

LOGIN_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AxonHub dashboard: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{prefix}/static/app.css"><link rel="icon" href="data:,"></head>
<body class="login"><main class="card">
<h1>AxonHub</h1>
<p>{message}</p>
<form method="post" action="{prefix}/login">
<label>Admin token <input type="password" name="token" autocomplete="off" autofocus></label>
<button type="submit">Sign in</button>
</form>
<p class="hint">Run <code>axonhub dashboard</code> on the server for a one-time login link, or paste the
token from the file named by <code>server.dashboard.token_file</code>.</p>
</main></body></html>
"""


def _login_page(message: str, status: int = 200) -> web.Response:
    return web.Response(
        text=LOGIN_PAGE.format(prefix=PREFIX, message=escape(message)), content_type="text/html", status=status
    )


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _signed_in(request: web.Request) -> web.Response:
    response = _see_other(f"{PREFIX}/")
    response.set_cookie(
        SESSION_COOKIE,
        dashboard_of(request).access.session_cookie(),
        max_age=SESSION_TTL_S,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def login_get(request: web.Request) -> web.Response:
    code = request.query.get("code")
    if code is None:
        return _login_page("Sign in with the admin token.")
    if dashboard_of(request).access.redeem(code):
        return _signed_in(request)
    return _login_page("That login link is used up or expired: run `axonhub dashboard` for a new one.", 401)


async def login_post(request: web.Request) -> web.Response:
    raw = await request.content.read(MAX_FORM_BYTES + 1)  # before any credential: never read more
    if len(raw) > MAX_FORM_BYTES:
        return _login_page("That form is too large.", 413)
    token = parse_qs(raw.decode("utf-8", "replace")).get("token", [""])[0]
    if dashboard_of(request).access.is_token(token):
        return _signed_in(request)
    return _login_page("That is not the admin token.", 401)


async def logout(request: web.Request) -> web.Response:
    response = _see_other(f"{PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


async def page(request: web.Request) -> web.Response:
    return web.Response(body=dashboard_of(request).assets["index.html"], content_type="text/html")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC or name == "index.html":
        raise web.HTTPNotFound()
    return web.Response(body=dashboard_of(request).assets[name], content_type=STATIC[name])


# ---------------------------------------------------------------------------------------------
# Data APIs
# ---------------------------------------------------------------------------------------------


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


class BadParameter(Exception):
    """A query parameter the API cannot use: a 400 naming it (the guard renders it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _bad_request(message: str) -> BadParameter:
    return BadParameter(message)


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _bad_request(f"{name}: an integer expected") from None
    return max(low, min(high, value))


def _moment(request: web.Request, name: str) -> float | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        return parse_since(text).timestamp()
    except ValueError as exc:
        raise _bad_request(f"{name}: {exc}") from None


def _window(request: web.Request, index: Index) -> queries.Window | None:
    """`range` (1h, 6h, 24h, 7d, 30d, all) or `since`/`until`; None when there is no data at all."""
    chosen = request.query.get("range", "24h")
    now = time.time()
    since, until = _moment(request, "since"), _moment(request, "until")
    fine_from = index.rollups.fine_from
    if since is not None:
        if until is not None and until < since:
            raise _bad_request("until: earlier than since")
        return queries.Window.of(since, until or now, fine_from)
    if chosen == "all":
        span = queries.data_span(index)
        return queries.Window.of(*span, fine_from) if span else None
    if chosen not in RANGES:
        raise _bad_request(f"range: one of {', '.join([*RANGES, 'all'])}")
    return queries.Window.of(now - RANGES[chosen], now, fine_from)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise _bad_request(f"{name}: one of {', '.join(allowed)}")
    return value


async def api_status(request: web.Request) -> web.Response:
    dash = dashboard_of(request)
    config = config_of(request)
    status = await dash.query(queries.index_status)
    progress = dash.indexer.progress
    return web.json_response(
        {
            "index": {
                **status,
                "state": progress.state,
                "bytes_done": progress.bytes_done,
                "bytes_total": progress.bytes_total,
                "build_seconds": round(progress.seconds, 3),
                "error": progress.error,
                "max_records": dash.indexer.max_records,
            },
            "config": {"digest": config.digest, "path": str(config.source) if config.source else None},
            "trace": {"path": str(config.server.trace.path), "bodies": config.server.trace.bodies},
        }
    )


async def api_facets(request: web.Request) -> web.Response:
    config = config_of(request)
    seen = await dashboard_of(request).query(queries.facets)
    return web.json_response(
        {
            "keys": sorted({k.name for k in config.keys} | set(seen["keys"])),
            "models": seen["models"],
            "channels": sorted({c.name for c in config.channels} | set(seen["channels"])),
            "profiles": sorted(config.profiles),
            "config_keys": [{"name": k.name, "enabled": k.enabled} for k in config.keys],
        }
    )


async def api_sessions(request: web.Request) -> web.Response:
    flt = queries.SessionFilter(
        key=request.query.get("key") or None,
        model=request.query.get("model") or None,
        channel=request.query.get("channel") or None,
        since=_moment(request, "since"),
        until=_moment(request, "until"),
        q=request.query.get("q") or None,
    )
    cursor_text = request.query.get("cursor")
    cursor = _int(request, "cursor", 0, 0, 2**62) if cursor_text else None
    limit = _int(request, "limit", 50, 1, 500)
    dash = dashboard_of(request)
    page_data = await dash.query(
        queries.sessions_page, flt, config_of(request).pricing, cursor=cursor, limit=limit, cache=dash.cache
    )
    return web.json_response(page_data)


async def api_session(request: web.Request) -> web.Response:
    offset = _int(request, "offset", 0, 0, 2**31)
    limit = _int(request, "limit", 500, 1, 2000)
    found = await dashboard_of(request).query(
        queries.session_detail, request.match_info["trace_id"], config_of(request).pricing, offset=offset, limit=limit
    )
    if found is None:
        return web.json_response({"error": f"no session '{request.match_info['trace_id']}'"}, status=404)
    return web.json_response(found)


async def api_request(request: web.Request) -> web.Response:
    request_id = request.match_info["request_id"]
    found = await dashboard_of(request).query(queries.request_detail, request_id, config_of(request).pricing)
    if found is None:
        return web.json_response({"error": f"no request '{request_id}'"}, status=404)
    return web.json_response(found)


async def api_usage(request: web.Request) -> web.Response:
    by = _choice(request, "by", queries.GROUPS, "model")
    pricing = config_of(request).pricing

    def compute(index: Index) -> dict[str, Any] | None:
        window = _window(request, index)
        return queries.usage(index, window, by, pricing) if window else None

    data = await dashboard_of(request).query(compute)
    return web.json_response(data or {"by": by, "buckets": [], "series": [], "groups": [], "total": None})


async def api_latency(request: web.Request) -> web.Response:
    by = _choice(request, "by", ("channel", "model", "channel_model"), "channel")

    def compute(index: Index) -> dict[str, Any] | None:
        window = _window(request, index)
        return queries.latency(index, window, by) if window else None

    data = await dashboard_of(request).query(compute)
    return web.json_response(data or {"by": by, "buckets": [], "series": [], "table": []})


async def api_channels(request: web.Request) -> web.Response:
    config = config_of(request)
    health = request.config_dict[CHANNEL_HEALTH]
    stats = await dashboard_of(request).query(queries.channel_stats, time.time())
    now = time.monotonic()
    rows = []
    for channel in config.channels:
        failures, cooling = health.cooldown(channel.name, now)
        rows.append(
            {
                "name": channel.name,
                "type": channel.type,
                "configured": True,
                "enabled": channel.enabled,
                "available": channel.unavailable_reason is None,
                "reason": channel.unavailable_reason,
                "models": channel.models.describe(),
                "priority": channel.priority,
                "weight": channel.weight,
                "failures_in_a_row": failures,
                "cooling_down_s": round(cooling, 1),
                **stats.pop(channel.name, _no_stats()),
            }
        )
    for name, extra in sorted(stats.items()):  # seen in the trace, gone from the config
        rows.append({"name": name, "type": None, "configured": False, "enabled": False, "available": False, **extra})
    return web.json_response({"channels": rows})


def _no_stats() -> dict[str, Any]:
    windows = ("1h", "24h", "all")
    return {
        "attempts": {w: {"tries": 0, "failed": 0} for w in windows},
        "requests": {w: {"count": 0, "errors": 0} for w in windows},
        "latency_ms": {"p50": None, "p95": None},
        "last_seen": None,
    }


TOKEN_PARTS: Final = ("input", "output", "cache_read", "cache_write")
USAGE_CHARTS: Final = ("tokens", "cost", "requests", "cache")
LATENCY_CHARTS: Final = ("p50", "p95", "p99", "ttfb_p50", "ttfb_p95", "ttfb_p99")


async def api_chart(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name == "usage":
        svg = await _usage_chart(request)
    elif name == "latency":
        svg = await _latency_chart(request)
    else:
        raise web.HTTPNotFound()
    return web.Response(text=svg, content_type="image/svg+xml")


async def _usage_chart(request: web.Request) -> str:
    metric = _choice(request, "metric", USAGE_CHARTS, "tokens")
    by = _choice(request, "by", queries.GROUPS, "model")
    pricing = config_of(request).pricing

    def compute(index: Index) -> dict[str, Any] | None:
        window = _window(request, index)
        return queries.usage(index, window, by, pricing) if window else None

    data = await dashboard_of(request).query(compute)
    titles = {
        "tokens": f"Tokens by {by} (input + output + cache)",
        "cost": f"Cost by {by} (USD)",
        "requests": f"Model calls by {by}",
        "cache": "Cache-read share of prompt tokens",
    }
    if data is None:
        return charts.empty(titles[metric])
    labels, step = data["buckets"], data["step_s"]
    if metric == "cache":
        return charts.lines(titles[metric], labels, step, [("cache read", data["cache_read_share"])], "%", top=1.0)
    if metric == "tokens":
        series = [
            (s["name"], [sum(parts) for parts in zip(*(s[n] for n in TOKEN_PARTS), strict=True)])
            for s in data["series"]
        ]
        return charts.stacked_bars(titles[metric], labels, step, series)
    if metric == "cost":
        costs = [(s["name"], s["cost_usd"]) for s in data["series"]]
        return charts.stacked_bars(titles[metric], labels, step, costs, "$")
    return charts.stacked_bars(titles[metric], labels, step, [(s["name"], s["requests"]) for s in data["series"]])


async def _latency_chart(request: web.Request) -> str:
    metric = _choice(request, "metric", LATENCY_CHARTS, "p95")
    by = _choice(request, "by", ("channel", "model", "channel_model"), "channel")

    def compute(index: Index) -> dict[str, Any] | None:
        window = _window(request, index)
        return queries.latency(index, window, by) if window else None

    data = await dashboard_of(request).query(compute)
    label = metric.replace("ttfb_", "time to first byte, ").replace("p", "p", 1)
    title = f"Latency {label} by {by.replace('_', ' and ')} (ms)"
    if data is None:
        return charts.empty(title)
    series = [(s["name"], s[metric]) for s in data["series"]]
    return charts.lines(title, data["buckets"], data["step_s"], series, "ms")


# ---------------------------------------------------------------------------------------------
# Live events and replays
# ---------------------------------------------------------------------------------------------

CLOSE: Final = b""


async def api_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `hello`, then `record` per new exchange, `config` on reload, `index` on rebuild."""
    dash = dashboard_of(request)
    holder = request.config_dict[CONFIG_HOLDER]
    response = web.StreamResponse(
        headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    subscriber = dash.hub.subscribe()
    dash.streams.add(subscriber.queue)
    digest = holder.current.digest
    quiet = 0.0
    try:
        await response.write(sse_frame("hello", {"config": digest, "state": dash.indexer.progress.state}))
        while True:
            try:
                frame = await asyncio.wait_for(subscriber.queue.get(), CONFIG_CHECK_S)
            except TimeoutError:
                frame = b""
                quiet += CONFIG_CHECK_S
                if holder.current.digest != digest:
                    digest = holder.current.digest
                    frame = sse_frame("config", {"config": digest})
                elif quiet >= KEEPALIVE_S:
                    frame = b": keep-alive\n\n"
                if not frame:
                    continue
            else:
                if frame == CLOSE:
                    break
            quiet = 0.0
            subscriber.overflowed = False
            await response.write(frame)
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        pass
    finally:
        dash.hub.unsubscribe(subscriber)
        dash.streams.discard(subscriber.queue)
    return response


async def api_channel_reset(request: web.Request) -> web.Response:
    """POST: forget a channel's cool-down and its exhausted-quota mark, so the next request tries it."""
    name = request.match_info["name"]
    if name not in {channel.name for channel in config_of(request).channels}:
        return web.json_response({"error": f"no channel named '{name}' in the config"}, status=404)
    health = request.config_dict[CHANNEL_HEALTH]
    failures, cooling = health.cooldown(name, time.monotonic())
    health.succeeded(name)
    limiter = request.config_dict[LIMITER]
    shared = True
    try:
        until = await limiter.clear_quota(name)
    except StateUnavailable:
        until, shared = None, False
    return web.json_response(
        {
            "channel": name,
            "was_cooling_down_s": round(cooling, 1) if failures else 0.0,
            "was_quota_exhausted_until": utc_iso(until) if until is not None else None,
            "shared_state_cleared": shared,
        },
        headers=SECURITY_HEADERS,
    )


async def api_replay(request: web.Request) -> web.StreamResponse:
    """POST {"request_id" | "session", "profile", "key"?}: NDJSON, one line per replayed request."""
    raw = await request.content.read(MAX_REPLAY_BODY + 1)
    if len(raw) > MAX_REPLAY_BODY:
        return _bad("request body too large")
    try:
        asked = json.loads(raw)
    except ValueError:
        return _bad("a JSON object expected: {request_id | session, profile, key?}")
    if not isinstance(asked, dict) or not isinstance(asked.get("profile"), str):
        return _bad("profile: a profile name is required")
    for name in ("request_id", "session", "key"):
        if asked.get(name) is not None and not isinstance(asked[name], str):
            return _bad(f"{name}: a string expected")
    dash = dashboard_of(request)
    config = config_of(request)
    try:
        chosen = await dash.query(
            replay.plan,
            config,
            request_id=asked.get("request_id"),
            session=asked.get("session"),
            profile=asked["profile"],
            key=asked.get("key"),
        )
    except replay.ReplayRefused as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    response = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    lines = replay.run(
        chosen,
        http=dash.http,
        base_url=_own_url(request),
        token=dash.access.token,
        hub=dash.hub,
        pricing=config.pricing,
    )
    async for line in lines:
        await response.write(json.dumps(line, ensure_ascii=False, default=str).encode() + b"\n")
    await response.write_eof()
    return response


def _own_url(request: web.Request) -> str:
    """The gateway's own socket, as this connection reached it."""
    assert request.transport is not None
    host, port = request.transport.get_extra_info("sockname")[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# ---------------------------------------------------------------------------------------------
# Mounting
# ---------------------------------------------------------------------------------------------


def _assets() -> dict[str, bytes]:
    folder = resources.files("axonhub.dashboard").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC}


async def dashboard_ctx(main: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx of the gateway app: the admin token, the index thread, the live hub, a client for replays."""
    config = main[CONFIG_HOLDER].current
    loop = asyncio.get_running_loop()
    access = await asyncio.to_thread(admin_access_for, config)
    main[REDACTOR].hide([access.token])  # never in a log line, a trace record or an error body
    assets = await asyncio.to_thread(_assets)
    hub = LiveHub(loop)
    indexer = Indexer(
        config.server.trace.path,
        config.server.dashboard.max_records,
        on_records=hub.publish_threadsafe,
        on_built=lambda: hub.broadcast_threadsafe("index", {"state": "ready"}),
    )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None), trust_env=False)
    dashboard = Dashboard(indexer, hub, access, http, assets)
    main[ADMIN_ACCESS] = access
    main[DASHBOARD] = dashboard
    main[ON_EXCHANGE_DONE].append(hub.on_exchange)
    indexer.start()
    try:
        yield
    finally:
        await http.close()
        await asyncio.to_thread(indexer.stop)


async def _follow_trace_writer(app: web.Application) -> None:
    """After every cleanup context has run (the trace writer's too): the index takes the records of
    this process from the writer, which also wakes it after each write."""
    dashboard, writer = app.get(DASHBOARD), app.get(TRACE_WRITER)
    if dashboard is not None and writer is not None:
        writer.on_written.append(dashboard.indexer.written)


async def _close_streams(app: web.Application) -> None:
    dashboard = app.get(DASHBOARD)
    if dashboard is not None:
        for stream in list(dashboard.streams):
            with contextlib.suppress(asyncio.QueueFull):
                stream.put_nowait(CLOSE)


def dashboard_app() -> web.Application:
    sub = web.Application(middlewares=[guard])
    sub.router.add_get("/", page)
    sub.router.add_get("/login", login_get)
    sub.router.add_post("/login", login_post)
    sub.router.add_post("/logout", logout)
    sub.router.add_get("/static/{name}", static)
    sub.router.add_get("/api/status", api_status)
    sub.router.add_get("/api/facets", api_facets)
    sub.router.add_get("/api/sessions", api_sessions)
    sub.router.add_get("/api/sessions/{trace_id}", api_session)
    sub.router.add_get("/api/requests/{request_id}", api_request)
    sub.router.add_get("/api/usage", api_usage)
    sub.router.add_get("/api/latency", api_latency)
    sub.router.add_get("/api/channels", api_channels)
    sub.router.add_post("/api/channels/{name}/reset", api_channel_reset)
    sub.router.add_get("/api/charts/{name}.svg", api_chart)
    sub.router.add_get("/api/events", api_events)
    sub.router.add_post("/api/replay", api_replay)
    return sub


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(f"{PREFIX}/")


def add_dashboard(app: web.Application, config: Config) -> frozenset[str]:
    """Mount the dashboard when it is enabled and there is a trace to show; the paths it guards itself."""
    if not (config.server.dashboard.enabled and config.server.trace.enabled):
        return frozenset()
    sub = dashboard_app()
    app.add_subapp(f"{PREFIX}/", sub)
    app.router.add_get(PREFIX, _to_dashboard)
    app.cleanup_ctx.append(dashboard_ctx)
    app.on_startup.append(_follow_trace_writer)
    app.on_shutdown.append(_close_streams)
    return frozenset({PREFIX, *(resource.canonical for resource in sub.router.resources())})
