"""A raw HTTP/1.1 server on 127.0.0.1 whose answers are exact bytes: for the upstream pool's tests.

Each connection reads requests (head, then a Content-Length body) and answers each with the next
script step: bytes to write (a float in the list sleeps first), and then whether to keep the
connection, close it, or reset it. It records every request and how many connections it accepted,
so a test can tell a reused connection from a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Step:
    writes: list[bytes | float]
    then: str = "keep"  # keep | close | reset | hang (write nothing more, keep the socket open)


@dataclass
class Seen:
    head: str
    body: bytes
    connection: int

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


@dataclass
class RawServer:
    steps: deque[Step] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    closed: int = 0  # connections the other side closed
    tls: ssl.SSLContext | None = None
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def answer(self, *steps: Step) -> None:
        self.steps.extend(steps)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.append(writer)
        try:
            while True:
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed += 1
                    return
                length = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.seen.append(Seen(head, body, number))
                step = self.steps.popleft()
                for item in step.writes:
                    if isinstance(item, float):
                        await asyncio.sleep(item)
                    else:
                        writer.write(item)
                        await writer.drain()
                if step.then == "close":
                    writer.close()
                    return
                if step.then == "reset":
                    writer.transport.abort()
                    return
                if step.then == "hang":
                    await asyncio.sleep(3600)
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()


def json_answer(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


def chunked(*pieces: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
