"""One HTTP/1.1 exchange at a time on one upstream connection: the request out, the answer read back.

`Connection` is an `asyncio.Protocol`: it writes a request and parses the answer as bytes arrive
(status line, headers, then a body framed by Content-Length, by chunked transfer coding, or by the
connection's end), handing the body to `Body`, which the relay reads with `readany()` as aiohttp's
stream reader would be read. gzip and deflate answers are inflated on the way. A connection that
finished its answer cleanly, with nothing left over and no `Connection: close`, goes back to the pool
(`axonhub.upstream.pool`) for the next request.

Timeouts are per quiet spell, as the channel's `timeouts` say: until the answer's head has arrived the
first-byte limit (else `read`) bounds the wait for the next bytes, from then on `read`. A chunk costs
one clock read; the one timer re-arms itself only when it fires. While the relay is slower than the
upstream, reading pauses (a megabyte held at most) and no timeout runs against the upstream.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Final, cast

from multidict import CIMultiDict, CIMultiDictProxy

MAX_HEAD: Final = 64 * 1024  # status line and headers of one answer
MAX_CHUNK_LINE: Final = 4096  # a chunk-size line with its extensions
# A chunk-size line in its usual form (hex digits, extensions, CRLF): the whole-chunks fast path
# takes these; anything else (spaces, a bare LF, the last chunk) goes the general way.
_SIZE_LINE: Final = re.compile(rb"([0-9a-fA-F]{1,15})(?:;[^\r\n]{0,4000})?\r\n")
HIGH_WATER: Final = 1 << 20  # body bytes held before reading pauses…
LOW_WATER: Final = 1 << 18  # …and resumes
NO_BODY_STATUSES: Final = frozenset({204, 304})

# Parser states
_IDLE, _HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(9)


class BodyError(Exception):
    """The answer cannot be read to its end: the connection broke or the upstream broke HTTP."""


class ConnectionClosed(BodyError):
    """The upstream closed the connection before the answer was complete."""


class MalformedAnswer(BodyError):
    """The upstream's bytes are not an HTTP/1.1 answer."""


class ReadTimeout(TimeoutError):
    """The upstream sent nothing for longer than the channel's timeout allows."""


class Body:
    """The answer's body as it arrives: `readany()` gives everything received since the last read."""

    __slots__ = ("_chunks", "_connection", "_eof", "_error", "_size", "_waiter")

    def __init__(self, connection: Connection) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._connection = connection

    def is_eof(self) -> bool:
        """The whole body has arrived and been read."""
        return self._eof and not self._chunks

    async def readany(self) -> bytes:
        """The bytes received and not read yet, waiting for some; b"" at the end of the body."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            await self._wait()
        chunks = self._chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._size = 0
        self._connection.drained()
        return data

    async def read(self, limit: int = -1) -> bytes:
        """The body to its end, or its first `limit` bytes when `limit` is positive."""
        parts: list[bytes] = []
        size = 0
        while limit < 0 or size < limit:
            data = await self.readany()
            if not data:
                break
            parts.append(data)
            size += len(data)
        data = b"".join(parts)
        return data if limit < 0 else data[:limit]

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The body in the pieces it arrives in."""
        while True:
            data = await self.readany()
            if not data:
                return
            yield data

    def unread(self, data: bytes) -> None:
        """Put bytes read back in front, for the next `readany()` (a look at how the body begins)."""
        if data:
            self._chunks.appendleft(data)
            self._size += len(data)

    async def _wait(self) -> None:
        waiter = self._waiter = self._connection.loop.create_future()
        self._connection.reading(True)
        try:
            await waiter
        finally:
            self._waiter = None
            self._connection.reading(False)

    # -- the connection's side ----------------------------------------------------------------

    def feed(self, data: bytes) -> int:
        """Bytes of the body; returns the bytes now held."""
        self._chunks.append(data)
        self._size += len(data)
        self._wake()
        return self._size

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self._eof and self._error is None:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Response:
    """An upstream answer whose head has arrived: status, headers and the body to read."""

    __slots__ = ("_connection", "_release", "content", "headers", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: CIMultiDictProxy[str],
        connection: Connection,
        release: Callable[[Connection], None],
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = Body(connection)
        self._connection: Connection | None = connection
        self._release = release

    @property
    def content_type(self) -> str:
        """The media type, lowercased and without parameters (application/octet-stream when absent)."""
        value = self.headers.get("Content-Type")
        if not value:
            return "application/octet-stream"
        return value.partition(";")[0].strip().lower()

    async def read(self) -> bytes:
        """The whole body; the connection is released after it."""
        try:
            return await self.content.read()
        finally:
            self.release()

    def release(self) -> None:
        """Done with this answer: the connection goes back to the pool when the body was read whole and
        the connection can carry another request, and is closed otherwise."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self.content.is_eof() and connection.reusable:
            self._release(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Drop the connection now (the upstream stops sending)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream, carrying one request at a time."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, release: Callable[[Connection], None], key: tuple[str, str, int]
    ) -> None:
        self.loop = loop
        self.key = key  # (scheme, host, port): the pool's shelf for it
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self.answered = False  # a byte of the current answer has arrived
        self.idle_since = 0.0
        self.keep_alive: float | None = None  # the server's Keep-Alive timeout, when it sent one
        self._release = release
        self._state = _IDLE
        self._tail = b""  # received bytes not parsed yet (a head, chunk-size line or chunk end cut short)
        self._remaining = 0  # body bytes left: of the Content-Length, or of the current chunk
        self._head: asyncio.Future[Response] | None = None
        self._response: Response | None = None
        self._inflate: zlib._Decompress | None = None
        self._raw_deflate_possible = False  # a deflate body whose first bytes were not inflated yet
        self._timeouts = (0.0, 0.0)  # (until the head, after it)
        self._timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0  # loop time of the last bytes received
        self._paused = False
        self._waiting = 0  # readers waiting for body bytes

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses of asyncio's

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self.transport = None
        self._cancel_timer()
        state = self._state
        if state == _UNTIL_CLOSE:
            self._finish()
            return
        if state in (_IDLE, _DONE):
            return
        detail = f": {exc.__class__.__name__}: {exc}" if exc is not None else ""
        self._fail(ConnectionClosed(f"the upstream closed the connection{detail}"))

    def data_received(self, data: bytes) -> None:
        self._last = self.loop.time()
        self.answered = True
        state = self._state
        if state in (_IDLE, _DONE):  # bytes nobody asked for: the connection cannot be trusted again
            self.reusable = False
            if self.transport is not None:
                self.transport.close()
            return
        try:
            if self._tail:
                data, self._tail = self._tail + data, b""
            if state in (_LENGTH, _UNTIL_CLOSE):
                self._body_bytes(data)
            else:
                self._parse(data)
        except MalformedAnswer as exc:
            self._fail(exc)
            self.close()

    def eof_received(self) -> bool | None:
        return False  # close the transport; connection_lost tells the answer

    # -- the pool's and the answer's side -------------------------------------------------------

    def send(self, head: bytes, body: bytes, first_byte: float, read: float) -> asyncio.Future[Response]:
        """Write a request; the future is the answer once its head has arrived."""
        assert self.transport is not None and self._state == _IDLE
        self._state = _HEAD
        self.answered = False
        self._head = head_future = self.loop.create_future()
        self._timeouts = (first_byte, read)
        self._timeout = first_byte
        self._last = self.loop.time()
        self._timer = self.loop.call_at(self._last + first_byte, self._check)
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)
        return head_future

    def recycle(self) -> None:
        """Ready for the next request, after an answer read to its end."""
        self._state = _IDLE
        self._response = None
        self._waiting = 0

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._cancel_timer()
        if self._state not in (_IDLE, _DONE, _UNTIL_CLOSE):
            self._fail(ConnectionClosed("the connection was closed"))

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def reading(self, waiting: bool) -> None:
        """A reader starts or stops waiting for body bytes."""
        self._waiting += 1 if waiting else -1

    def drained(self) -> None:
        """The reader took what was held: reading resumes if it had paused."""
        if self._paused and self.transport is not None:
            self._paused = False
            self._last = self.loop.time()
            self.transport.resume_reading()

    # -- parsing ------------------------------------------------------------------------------

    def _parse(self, data: bytes) -> None:
        """Parse from the head or a chunk boundary on; what is cut short waits in `_tail`."""
        at, size = 0, len(data)
        while at < size:
            state = self._state
            if state == _HEAD:
                end = self._parse_head(data, at)
                if end < 0:
                    break
                at = end
            elif state == _CHUNK_DATA:
                take = min(self._remaining, size - at)
                piece = data if take == size else data[at : at + take]
                at += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _CHUNK_END
                self._deliver(piece)
            elif state == _CHUNK_END:
                if data.startswith(b"\r\n", at):
                    at += 2
                elif data.startswith(b"\n", at):
                    at += 1
                elif at == size - 1 and data[at] == 13:  # "\r", its "\n" still to come
                    break
                else:
                    raise MalformedAnswer("a chunk does not end where its size says")
                self._state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                past = self._whole_chunks(data, at)
                if past != at:
                    at = past
                    continue
                end = _line_end(data, at, MAX_CHUNK_LINE, "a chunk-size line is too long")
                if end < 0:
                    break
                line = data[at:end]
                at = end + 1
                self._chunk_size(line.split(b";", 1)[0] if b";" in line else line)
            elif state == _TRAILERS:
                end = _line_end(data, at, MAX_HEAD, "the trailers are too long")
                if end < 0:
                    break
                blank = not data[at:end].strip()
                at = end + 1
                if blank:
                    self._finish()
            elif state in (_LENGTH, _UNTIL_CLOSE):
                self._body_bytes(data[at:])
                return
            else:  # _IDLE or _DONE: bytes after the answer
                self.reusable = False
                return
        if at < size:
            self._tail = data[at:]

    def _whole_chunks(self, data: bytes, at: int) -> int:
        """Take every complete chunk (size line, data, CRLF) in the usual form from `at` on, delivered
        as one piece; the offset past the last one taken (`at` when none was). An upstream stream
        sends several events per read when it is fast, and one at a time when it is not: either
        way this costs a regex match and a slice per chunk instead of a state per line."""
        pieces: list[bytes] = []
        size = len(data)
        match = _SIZE_LINE.match
        while True:
            line = match(data, at)
            if line is None:
                break
            length = int(line.group(1), 16)
            start = line.end()
            stop = start + length
            if length == 0 or stop + 2 > size or data[stop : stop + 2] != b"\r\n":
                break  # the last chunk, one not all here, or one the general way judges
            pieces.append(data[start:stop])
            at = stop + 2
        if pieces:
            self._deliver(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        return at

    def _chunk_size(self, line: bytes) -> None:
        digits = line.strip()
        if not digits or digits.strip(b"0123456789abcdefABCDEF"):
            raise MalformedAnswer(f"a bad chunk size {line[:40]!r}")
        size = int(digits, 16)
        if size == 0:
            self._state = _TRAILERS
        else:
            self._remaining = size
            self._state = _CHUNK_DATA

    def _parse_head(self, data: bytes, at: int) -> int:
        """Parse the head starting at `at` if it has arrived whole: the offset past it, else -1."""
        end = data.find(b"\r\n\r\n", at)
        skip = 4
        if end < 0:
            end, skip = data.find(b"\n\n", at), 2
            if end < 0:
                if len(data) - at > MAX_HEAD:
                    raise MalformedAnswer("the answer's headers are too long")
                return -1
        if end - at > MAX_HEAD:
            raise MalformedAnswer("the answer's headers are too long")
        lines = data[at:end].decode("latin-1").split("\n")
        status_line = lines[0].rstrip("\r")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise MalformedAnswer(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        status = int(code)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise MalformedAnswer(f"a malformed header line: {line[:80]!r}")
            headers.add(name, value.strip())
        if not 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self._start_body(status, reason, headers, version == "HTTP/1.0")
        return end + skip

    def _start_body(self, status: int, reason: str, headers: CIMultiDict[str], http10: bool) -> None:
        connection = headers.get("Connection", "").lower()
        if "close" in connection or (http10 and "keep-alive" not in connection):
            self.reusable = False
        keep_alive = headers.get("Keep-Alive")
        if keep_alive:
            self.keep_alive = _keep_alive_timeout(keep_alive)
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate_possible = True
        elif encoding not in ("", "identity"):
            raise MalformedAnswer(f"the answer is encoded with {encoding!r}, which was not asked for")
        response = Response(status, reason, CIMultiDictProxy(headers), self, self._release)
        self._response = response
        first_byte, self._timeout = self._timeouts
        if self._timeout < first_byte and self._timer is not None:  # the timer waits for the longer limit
            self._timer.cancel()
            self._timer = self.loop.call_at(self._last + self._timeout, self._check)
        length = headers.get("Content-Length")
        if status in NO_BODY_STATUSES:
            self._state = _DONE
            response.content.feed_eof()
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            self._state = _CHUNK_SIZE
        elif length is not None:
            if not length.strip().isdigit():
                raise MalformedAnswer(f"a bad Content-Length {length[:40]!r}")
            self._remaining = int(length)
            self._state = _LENGTH
            if self._remaining == 0:
                self._finish()
        else:
            self._state = _UNTIL_CLOSE
            self.reusable = False
        head = self._head
        self._head = None
        if head is not None and not head.done():
            head.set_result(response)

    def _body_bytes(self, data: bytes) -> None:
        """Bytes of a Content-Length or read-to-the-end body (what the length leaves over is garbage)."""
        if self._state == _LENGTH:
            if len(data) >= self._remaining:
                if len(data) > self._remaining:
                    self.reusable = False
                    data = data[: self._remaining]
                self._remaining = 0
                self._deliver(data)
                self._finish()
                return
            self._remaining -= len(data)
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        response = self._response
        assert response is not None
        if self._inflate is not None:
            try:
                data = self._inflate.decompress(data)
            except zlib.error as exc:
                if not self._raw_deflate_possible:
                    raise MalformedAnswer(f"the answer's compressed body is broken: {exc}") from None
                # "deflate" without its zlib wrapper, as some servers send it
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_deflate_possible = False
                return self._deliver(data)
            self._raw_deflate_possible = False
            if not data:
                return
        held = response.content.feed(data)
        if held > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def _finish(self) -> None:
        response = self._response
        self._state = _DONE
        self._cancel_timer()
        if self._tail:
            self.reusable = False
            self._tail = b""
        if response is not None:
            if self._inflate is not None:
                tail = self._inflate.flush()
                self._inflate = None
                if tail:
                    response.content.feed(tail)
            response.content.feed_eof()

    def _fail(self, error: BaseException) -> None:
        self._cancel_timer()
        self.reusable = False
        self._state = _DONE
        head = self._head
        self._head = None
        if head is not None and not head.done():
            head.set_exception(error)
        if self._response is not None:
            self._response.content.fail(error)

    # -- timeouts -----------------------------------------------------------------------------

    def _check(self) -> None:
        self._timer = None
        if self._state in (_IDLE, _DONE):
            return
        quiet_until = self._last + self._timeout
        now = self.loop.time()
        if self._paused or now < quiet_until or (self._head is None and self._waiting == 0):
            # paused by the relay, not quiet long enough, or nobody waiting: look again later
            self._timer = self.loop.call_at(max(quiet_until, now + self._timeout / 4), self._check)
            return
        self._fail(ReadTimeout(f"nothing from the upstream for {self._timeout:g}s"))
        self.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _line_end(data: bytes, at: int, limit: int, too_long: str) -> int:
    """Where the line starting at `at` ends (its LF), or -1 while it has not arrived whole."""
    end = data.find(b"\n", at)
    if end < 0 and len(data) - at > limit:
        raise MalformedAnswer(too_long)
    return end


def _keep_alive_timeout(value: str) -> float | None:
    for part in value.split(","):
        name, _, number = part.strip().partition("=")
        if name.strip().lower() == "timeout":
            try:
                return float(number)
            except ValueError:
                return None
    return None
