"""How the gateway reaches its upstreams: sending one request and classifying what goes wrong.

Requests go out on AxonHub's own keep-alive HTTP/1.1 pool (`axonhub.upstream.pool`), which costs a
fraction of a general-purpose client per request; a request the environment routes through a proxy
goes out on the one `aiohttp.ClientSession` instead. Both give an answer with the same surface
(`UpstreamResponse`: status, headers, content type, a body read with `readany`/`read`, `release`,
`close`), and both fail with the errors `BODY_ERRORS` names once the answer has started.

Timeouts are connect + per-read (idle) only: a total timeout would cut long generations that are
still streaming. Until the upstream starts answering, `first_byte` bounds the wait instead of `read`
(when it is set), so a channel that hangs before its first byte can be left quickly while a long
quiet spell inside a stream is still allowed, or the other way round. Connection failures and
timeouts become `UpstreamError`s with a canonical kind.

The environment's proxy settings (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, proxy credentials in
`~/.netrc`) are read once, when the gateway starts (`EnvProxies`), not per request: aiohttp's own
`trust_env` reads them, and `~/.netrc` for upstream credentials, on two worker threads for every
request (about a fifth of the gateway's CPU under load). Upstream credentials come from the config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from urllib.request import proxy_bypass

import aiohttp
from aiohttp import web
from aiohttp.helpers import ProxyInfo, proxies_from_env
from yarl import URL

from axonhub.config import Timeouts
from axonhub.errors import ErrorKind, UpstreamError
from axonhub.upstream.http1 import Body, BodyError, MalformedAnswer, ReadTimeout, Response
from axonhub.upstream.pool import ConnectFailed, ConnectTimeout, Pool

# An upstream answer whose head has arrived: from the pool, or from aiohttp's client through a proxy.
UpstreamResponse = Response | aiohttp.ClientResponse
BodyStream = Body | aiohttp.StreamReader
# What reading an answer's body may raise once it has started: a cut, broken HTTP, a quiet spell.
BODY_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, BodyError, TimeoutError)

# Upstream error bodies are read whole; anything larger than this is cut.
MAX_ERROR_BODY = 1024 * 1024
# Upstream response headers a client may act on: they go back to it with the answer.
_FORWARDED_RESPONSE_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")
_FORWARDED_RESPONSE_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-")


@contextlib.asynccontextmanager
async def open_transport() -> AsyncIterator[Transport]:
    """A `Transport`, closed (its connections and session) on the way out."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True)
    session = aiohttp.ClientSession(
        connector=connector,
        # Upstream bodies are relayed as they come; never auto-raise, never follow redirects.
        raise_for_status=False,
        auto_decompress=True,
        trust_env=False,  # EnvProxies reads the environment once instead
        # An upstream's cookies are never kept: one client's session cookie must not ride along with
        # every other client's requests (and a cookie jar's filtering costs time on every request).
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    transport = Transport(Pool(), session, EnvProxies.from_environment())
    try:
        yield transport
    finally:
        await transport.pool.close()
        await session.close()


async def transport_ctx(app: web.Application) -> AsyncIterator[None]:
    """The app's `Transport`, open for the app's lifetime."""
    async with open_transport() as transport:
        app[TRANSPORT] = transport
        yield


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """Everything needed to send one request to one channel (and the proxy to send it through)."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None


@dataclass(slots=True)
class EnvProxies:
    """The proxies the environment names, read once; whether a URL goes through one, decided once per URL."""

    by_scheme: Mapping[str, ProxyInfo]
    _decided: dict[str, ProxyInfo | None] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> EnvProxies:
        return cls(proxies_from_env())

    def route(self, call: UpstreamCall) -> UpstreamCall:
        """`call`, through the proxy the environment names for its URL, if any."""
        if not self.by_scheme:
            return call
        if call.url not in self._decided:
            if len(self._decided) > 4096:  # channel URLs are few; a bound all the same
                self._decided.clear()
            url = URL(call.url)
            bypass = url.host is None or proxy_bypass(url.host)
            self._decided[call.url] = None if bypass else self.by_scheme.get(url.scheme)
        info = self._decided[call.url]
        return call if info is None else dataclasses.replace(call, proxy=info.proxy, proxy_auth=info.proxy_auth)


@dataclass(frozen=True, slots=True)
class Transport:
    """The app's ways to an upstream: its own connection pool, and aiohttp's client for proxies."""

    pool: Pool
    session: aiohttp.ClientSession
    proxies: EnvProxies


TRANSPORT = web.AppKey("transport", Transport)


@functools.lru_cache(maxsize=256)  # one per channel's timeouts, not one per request
def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """The request's timeouts until the answer starts: connect, then the first byte (else `read`)."""
    first_byte = timeouts.first_byte or timeouts.read
    return aiohttp.ClientTimeout(
        total=None, connect=timeouts.connect, sock_connect=timeouts.connect, sock_read=first_byte
    )


def idle_from_now(response: aiohttp.ClientResponse, timeouts: Timeouts) -> None:
    """The answer has started: from here on `read` bounds each quiet spell (when it differs from first_byte)."""
    if timeouts.first_byte is None or timeouts.first_byte == timeouts.read or response.content.is_eof():
        return
    connection = response.connection
    if connection is not None and connection.protocol is not None:
        connection.protocol.read_timeout = timeouts.read
        connection.protocol.start_timeout()


async def send(transport: Transport, call: UpstreamCall, timeouts: Timeouts, channel: str) -> UpstreamResponse:
    """POST the call; returns the response with its headers read and its body not yet consumed."""
    call = transport.proxies.route(call)
    if call.proxy is not None:
        return await _send_through_proxy(transport.session, call, timeouts, channel)
    try:
        return await transport.pool.request(
            call.url,
            call.headers,
            call.body,
            connect=timeouts.connect,
            first_byte=timeouts.first_byte or timeouts.read,
            read=timeouts.read,
        )
    except ConnectTimeout as exc:
        raise UpstreamError(
            f"[{channel}] the upstream did not accept a connection within {timeouts.connect:g}s",
            kind=ErrorKind.TIMEOUT,
            channel=channel,
            detail=str(exc),
        ) from None
    except ReadTimeout as exc:
        raise _no_answer_in_time(channel, timeouts, exc) from None
    except ConnectFailed as exc:
        raise UpstreamError(
            f"[{channel}] cannot connect to the upstream at {exc.host}:{exc.port}",
            kind=ErrorKind.BAD_GATEWAY,
            channel=channel,
            detail=exc.detail,
        ) from None
    except MalformedAnswer as exc:
        raise UpstreamError(
            f"[{channel}] the upstream's answer is not valid HTTP",
            kind=ErrorKind.BAD_GATEWAY,
            channel=channel,
            detail=str(exc),
        ) from None
    except BodyError as exc:
        raise _failed_before_answer(channel, exc) from None
    except ValueError as exc:  # a URL or header that cannot go into an HTTP/1.1 request
        raise UpstreamError(
            f"[{channel}] the request cannot be sent: {exc}", kind=ErrorKind.BAD_GATEWAY, channel=channel
        ) from None


async def _send_through_proxy(
    session: aiohttp.ClientSession, call: UpstreamCall, timeouts: Timeouts, channel: str
) -> aiohttp.ClientResponse:
    try:
        response = await session.post(
            call.url,
            data=call.body,
            headers=dict(call.headers),
            timeout=client_timeout(timeouts),
            allow_redirects=False,
            proxy=call.proxy,
            proxy_auth=call.proxy_auth,
        )
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise _no_answer_in_time(channel, timeouts, exc) from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(
            f"[{channel}] cannot connect to the upstream at {exc.host}:{exc.port}",
            kind=ErrorKind.BAD_GATEWAY,
            channel=channel,
            detail=f"{exc.strerror or exc.os_error}",
        ) from None
    except aiohttp.ClientError as exc:
        raise _failed_before_answer(channel, exc) from None
    idle_from_now(response, timeouts)
    return response


def _no_answer_in_time(channel: str, timeouts: Timeouts, exc: BaseException) -> UpstreamError:
    return UpstreamError(
        f"[{channel}] the upstream did not answer within {timeouts.first_byte or timeouts.read:g}s",
        kind=ErrorKind.TIMEOUT,
        channel=channel,
        detail=repr(exc),
    )


def _failed_before_answer(channel: str, exc: BaseException) -> UpstreamError:
    return UpstreamError(
        f"[{channel}] the upstream connection failed before an answer arrived",
        kind=ErrorKind.BAD_GATEWAY,
        channel=channel,
        detail=f"{exc.__class__.__name__}: {exc}",
    )


def unread(content: BodyStream, data: bytes) -> None:
    """Put bytes read from a body back in front of it."""
    if isinstance(content, Body):
        content.unread(data)
        return
    with warnings.catch_warnings():  # aiohttp's one way to do it, deprecated but kept (a proxied answer)
        warnings.simplefilter("ignore", DeprecationWarning)
        content.unread_data(data)


async def read_error_body(response: UpstreamResponse) -> bytes:
    try:
        return await response.content.read(MAX_ERROR_BODY)
    except BODY_ERRORS:
        return b""
    finally:
        response.release()


def forwarded_headers(upstream: UpstreamResponse) -> dict[str, str]:
    """The upstream's rate-limit and retry headers, which go back to the client with the answer."""
    return {
        name: value
        for name, value in upstream.headers.items()
        if name.lower() in _FORWARDED_RESPONSE_HEADERS or name.lower().startswith(_FORWARDED_RESPONSE_PREFIXES)
    }
