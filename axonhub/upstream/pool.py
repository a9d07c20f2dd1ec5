"""Keep-alive HTTP/1.1 connections to the upstreams, and sending one request on them.

Connections are kept per (scheme, host, port) and reused newest first, so the ones in use stay warm
and the rest age out: an idle connection is closed after `IDLE_S` seconds (by default), or a second before the
server's own `Keep-Alive: timeout` when it announced a shorter one. A server may still close an idle
connection just as a request goes out on it; a reused connection that ends before a single byte of
the answer is retried once on a new one (the upstream never answered, so nothing was generated).
Plain `http` and `https` (TLS with the system's certificate store, server name checked) only; a
proxy is aiohttp's business (`axonhub.upstream.client`). Host names are resolved once per
`DNS_TTL_S` and connected to with Happy Eyeballs (RFC 8305, `aiohappyeyeballs`, as aiohttp does): a
host whose IPv6 route is broken answers over IPv4 a quarter second later instead of timing out.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

import aiohappyeyeballs

from axonhub import __version__
from axonhub.upstream.http1 import Connection, ConnectionClosed, Response

IDLE_S: Final = 15.0  # an idle connection is closed after this long
MAX_IDLE_PER_HOST: Final = 256
DNS_TTL_S: Final = 300.0  # a host name's addresses are looked up again after this long
HAPPY_EYEBALLS_DELAY_S: Final = 0.25
USER_AGENT: Final = f"AxonHub/{__version__}"
# Framing is the connection's business: a caller's value for these would contradict it.
_FRAMING_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


class ConnectFailed(OSError):
    """No connection to the upstream: refused, unreachable, no such host, or a failed TLS handshake."""

    def __init__(self, host: str, port: int, detail: str) -> None:
        super().__init__(f"cannot connect to {host}:{port}: {detail}")
        self.host, self.port, self.detail = host, port, detail


class ConnectTimeout(TimeoutError):
    """The upstream did not accept a connection in time."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's request goes, and the start of the request's head."""

    scheme: str
    host: str
    port: int
    request_line: str  # "POST /path?query HTTP/1.1\r\nHost: …\r\n"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


@functools.lru_cache(maxsize=4096)  # channel URLs are few; one parse each
def target_of(url: str) -> Target:
    """The target of an http or https URL (ValueError for anything else)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    default_port = 443 if scheme == "https" else 80
    port = parts.port or default_port
    host = parts.hostname
    host_header = f"[{host}]" if ":" in host else host
    if port != default_port:
        host_header += f":{port}"
    path = quote(parts.path or "/", safe="/:@!$&'()*+,;=-._~%")
    if parts.query:
        path += "?" + quote(parts.query, safe="/:@!$&'()*+,;=-._~%?")
    return Target(scheme, host, port, f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n")


def request_head(target: Target, headers: Mapping[str, str], length: int) -> bytes:
    """The request's head: the caller's headers, the defaults it did not set, the body's length."""
    parts = [target.request_line]
    given = set()
    for name, value in headers.items():
        lower = name.lower()
        if lower in _FRAMING_HEADERS:
            continue
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise ValueError(f"the header {name!r} holds a line break or a colon")
        given.add(lower)
        parts.append(f"{name}: {value}\r\n")
    if "accept" not in given:
        parts.append("Accept: */*\r\n")
    if "accept-encoding" not in given:
        parts.append("Accept-Encoding: gzip, deflate\r\n")
    if "user-agent" not in given:
        parts.append(f"User-Agent: {USER_AGENT}\r\n")
    parts.append(f"Content-Length: {length}\r\n\r\n")
    return "".join(parts).encode("utf-8")


class Pool:
    """The gateway's upstream connections; `request()` sends one request and returns its answer."""

    def __init__(self, idle_s: float = IDLE_S) -> None:
        """`idle_s`: how long an unused connection is kept."""
        self._idle_s = idle_s
        self._idle: dict[tuple[str, str, int], deque[Connection]] = {}
        self._busy: set[Connection] = set()
        self._tls: ssl.SSLContext | None = None
        self._addresses: dict[tuple[str, int], tuple[float, list[aiohappyeyeballs.AddrInfoType]]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    async def request(
        self, url: str, headers: Mapping[str, str], body: bytes, *, connect: float, first_byte: float, read: float
    ) -> Response:
        """POST `body`; the answer once its head has arrived, its body still to read.

        Raises ConnectFailed / ConnectTimeout when no connection could be made, ConnectionClosed or
        MalformedAnswer when the answer's head did not arrive whole, ReadTimeout after `first_byte`
        seconds without a byte, ValueError for a URL or header that cannot be sent."""
        target = target_of(url)
        head = request_head(target, headers, len(body))
        key = (target.scheme, target.host, target.port)
        while True:
            connection = self._take_idle(key)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(target, connect)
            self._busy.add(connection)
            try:
                return await connection.send(head, body, first_byte, read)
            except ConnectionClosed:
                connection.close()
                if reused and not connection.answered and not self._closed:
                    continue  # the server closed it while it was idle: a new connection
                raise
            except BaseException:
                connection.close()  # cancelled or failed mid-head: never reused
                raise
            finally:
                self._busy.discard(connection)

    def put(self, connection: Connection) -> None:
        """An answer was read to its end: the connection waits for the next request."""
        if self._closed or not connection.reusable or not connection.open:
            connection.close()
            return
        idle = self._idle.setdefault(connection.key, deque())
        if len(idle) >= MAX_IDLE_PER_HOST:
            connection.close()
            return
        connection.recycle()
        connection.idle_since = time.monotonic()
        idle.append(connection)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self._idle_s, self._sweep)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
        self._busy.clear()

    def _take_idle(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the newest: warm, and the least likely to have timed out
            if connection.open and now - connection.idle_since < self._idle_limit(connection):
                return connection
            connection.close()
        return None

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.monotonic()
        for key, idle in list(self._idle.items()):
            kept: deque[Connection] = deque()
            for connection in idle:
                if connection.open and now - connection.idle_since < self._idle_limit(connection):
                    kept.append(connection)
                else:
                    connection.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]
        if self._idle and not self._closed:
            self._sweeper = asyncio.get_running_loop().call_later(self._idle_s / 3, self._sweep)

    async def _connect(self, target: Target, limit: float) -> Connection:
        loop = asyncio.get_running_loop()
        connection = Connection(loop, self.put, (target.scheme, target.host, target.port))
        tls = self._tls_context() if target.tls else None
        try:
            async with asyncio.timeout(limit):
                addresses = await self._resolve(loop, target.host, target.port)
                sock = await aiohappyeyeballs.start_connection(
                    addresses, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S, interleave=1
                )
                try:
                    await loop.create_connection(
                        lambda: connection, sock=sock, ssl=tls, server_hostname=target.host if tls is not None else None
                    )
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError:
            connection.close()
            raise ConnectTimeout(f"no connection to {target.host}:{target.port} within {limit:g}s") from None
        except OSError as exc:  # refused, unreachable, no such host, TLS (ssl.SSLError is an OSError)
            connection.close()
            self._addresses.pop((target.host, target.port), None)  # look the name up again next time
            detail = exc.strerror or str(exc) or exc.__class__.__name__
            raise ConnectFailed(target.host, target.port, detail) from None
        return connection

    async def _resolve(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> list[aiohappyeyeballs.AddrInfoType]:
        literal = _literal_address(host, port)
        if literal is not None:  # an IP address: nothing to look up (no trip to the resolver's thread)
            return literal
        now = time.monotonic()
        known = self._addresses.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[aiohappyeyeballs.AddrInfoType] = [
            (family, kind, proto, name, address) for family, kind, proto, name, address in found
        ]
        if len(self._addresses) > 1024:  # upstream hosts are few; a bound all the same
            self._addresses.clear()
        self._addresses[(host, port)] = (now + DNS_TTL_S, addresses)
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context
        return self._tls

    def _idle_limit(self, connection: Connection) -> float:
        """How long the connection may wait unused: ours, or a second less than the server announced."""
        announced = connection.keep_alive
        return self._idle_s if announced is None else max(0.0, min(self._idle_s, announced - 1.0))


def _literal_address(host: str, port: int) -> list[aiohappyeyeballs.AddrInfoType] | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
