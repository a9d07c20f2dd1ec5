"""A lean HTTP/1.1 load generator on raw asyncio: keep-alive connections, one request in flight each.

Why not an HTTP client library: an aiohttp client spends more CPU per request than the gateway is
meant to (it would measure itself), and `wrk` cannot time the first byte of a stream or read the
timestamps in a stream's events. This client sends prebuilt request bytes and parses only what it
must (status, Content-Length or chunked framing); on one core with uvloop it completes well over
10,000 requests per second against the mock upstream, which the direct-to-mock floor of every run
shows.

Per request it records the latency to the last byte and to the first body byte; for a stream whose
words are send times (`mock_upstream` shape `t`), how late each word arrived.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

_STAMP = re.compile(rb"(\d{3,}\.\d{6}) ")


@dataclass(slots=True)
class Sample:
    latency: float
    ttfb: float


@dataclass(slots=True)
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0
    failures: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)  # per stamped word: arrival minus send time

    @property
    def rate(self) -> float:
        return len(self.samples) / self.elapsed if self.elapsed else 0.0


class _Response:
    __slots__ = ("body", "chunked", "done", "first_body", "head", "length", "need", "status", "tail")

    def __init__(self) -> None:
        self.head = True
        self.status = 0
        self.length = -1
        self.chunked = False
        self.need = -1  # bytes still to come in the current chunk (chunked) or body
        self.body: list[bytes] = []
        self.first_body = 0.0
        self.done = False
        self.tail = b""


class Connection(asyncio.Protocol):
    """One keep-alive connection; `request()` sends prebuilt bytes and waits for the whole response."""

    def __init__(self, stamps: bool = False) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.response = _Response()
        self.waiter: asyncio.Future[None] | None = None
        self.stamps = stamps
        self.lateness: list[float] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        response = self.response
        if response.head:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            self.buffer = self.buffer[end + 4 :]
            response.head = False
            response.status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                response.length = response.need = int(lower[at + 17 : stop if stop > 0 else len(lower)])
            elif b"\r\ntransfer-encoding: chunked" in lower:
                response.chunked = True
            else:
                response.need = 0
        if response.chunked:
            self._chunks(response)
        else:
            self._plain(response)
        if response.done and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _payload(self, response: _Response, data: bytes) -> None:
        if not response.first_body:
            response.first_body = time.perf_counter()
        response.body.append(data)
        if self.stamps:
            now = time.monotonic()
            self.lateness += [now - float(m) for m in _STAMP.findall(data)]

    def _plain(self, response: _Response) -> None:
        take = self.buffer[: response.need]
        self.buffer = self.buffer[len(take) :]
        if take:
            self._payload(response, take)
        response.need -= len(take)
        if response.need <= 0:
            response.done = True

    def _chunks(self, response: _Response) -> None:
        """The chunked body as it comes, framing and all (SSE text never holds the last-chunk marker):
        the response is done at the zero-size chunk. Cheap: no per-chunk parsing."""
        data, self.buffer = self.buffer, b""
        if not data:
            return
        self._payload(response, data)
        response.tail = (response.tail + data)[-7:]
        if response.tail.endswith(b"\r\n0\r\n\r\n") or (response.tail == b"0\r\n\r\n" and len(response.body) == 1):
            response.done = True

    async def request(self, raw: bytes) -> tuple[_Response, float]:
        assert self.transport is not None
        if self.closed:
            raise ConnectionError("connection closed by the server")
        self.response = _Response()
        self.waiter = asyncio.get_running_loop().create_future()
        began = time.perf_counter()
        self.transport.write(raw)
        await self.waiter
        return self.response, began


async def connect(host: str, port: int, stamps: bool = False) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: Connection(stamps), host, port)
    return protocol


def build_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def check(response: _Response, expect: bytes) -> str | None:
    """Why a response is not the answer expected, or None."""
    if response.status != 200:
        return f"HTTP {response.status}: {b''.join(response.body)[:300]!r}"
    if expect and expect not in b"".join(response.body[-3:]):
        return f"the answer lacks {expect!r}: {b''.join(response.body)[-300:]!r}"
    return None


async def run_load(
    host: str,
    port: int,
    raw: bytes,
    *,
    concurrency: int,
    seconds: float = 0.0,
    per_connection: int = 0,
    expect: bytes = b"",
    stamps: bool = False,
    stagger: float = 0.0,
) -> LoadResult:
    """`concurrency` connections sending `raw` back to back, for `seconds` or `per_connection`
    requests each (whichever is set); fails fast on a wrong answer. With `stagger`, the connections'
    first requests are spread evenly over that many seconds instead of all leaving at once."""
    result = LoadResult()
    connections = await asyncio.gather(*(connect(host, port, stamps) for _ in range(concurrency)))
    began = time.perf_counter()
    deadline = began + seconds if seconds else float("inf")

    async def worker(conn: Connection, start: float) -> None:
        if start:
            await asyncio.sleep(start)
        done = 0
        while time.perf_counter() < deadline and (not per_connection or done < per_connection):
            response, sent = await conn.request(raw)
            finished = time.perf_counter()
            problem = check(response, expect)
            if problem is not None:
                result.failures.append(problem)
                return
            result.samples.append(Sample(finished - sent, response.first_body - sent))
            done += 1

    try:
        await asyncio.gather(*(worker(c, stagger * i / concurrency) for i, c in enumerate(connections)))
    finally:
        result.elapsed = time.perf_counter() - began
        for conn in connections:
            result.lateness += conn.lateness
            if conn.transport is not None:
                conn.transport.close()
    return result
