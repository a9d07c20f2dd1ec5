"""The framework floor: the least an aiohttp server and client can do as a gateway, for `run.py --peer`.

    python benchmarks/aiohttp_floor.py --port 4100 --upstream http://127.0.0.1:9311/v1 [--lean-client]
    python benchmarks/run.py --mock-port 9311 --peer http://127.0.0.1:4100 --only "translate json"

It forwards each `POST /v1/messages` body unread to `{upstream}/chat/completions` and returns the
answer as it came: no auth, no parsing, no translation, no trace, no logs. What AxonHub spends on
top of this is its own work; this much is aiohttp's (with uvloop, as `axonhub serve` runs).

A streamed answer is relayed as it arrives, one write to the client per read from the upstream
(aiohttp's client takes the chunked framing off, its server puts it back on). A path prefix names
the mock's answer shape, as on the mock itself: `POST /w200-d1/v1/messages` is forwarded to
`{upstream}` with `/w200-d1` spliced in before its `/v1`, so `run.py --peer-shapes` can measure the
floor's CPU per streamed chunk.

`--lean-client` sends the upstream request through `LeanClient` instead of aiohttp's client: a
keep-alive pool of raw asyncio connections to one origin, answers with a Content-Length only (so
JSON answers only). It is a measuring stick, not a client: the difference is what a lean upstream
client could save at most.
"""

from __future__ import annotations

import argparse
import asyncio
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, the answer's head and Content-Length body."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.need = -1  # body bytes still expected once the head is read
        self.status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            del self.buffer[: end + 4]
            self.status = int(head[0].split(" ", 2)[1])
            fields = (line.partition(":") for line in head[1:])
            self.need = next(int(value) for name, _, value in fields if name.lower() == "content-length")
        if len(self.buffer) >= self.need and self.waiter is not None and not self.waiter.done():
            body = bytes(self.buffer[: self.need])
            del self.buffer[: self.need]
            self.need = -1
            self.waiter.set_result((self.status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("upstream closed"))


class LeanClient:
    """POSTs to one origin over a pool of idle keep-alive connections."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.idle: list[_Connection] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            _, conn = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
        head = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        conn.waiter = asyncio.get_running_loop().create_future()
        assert conn.transport is not None
        conn.transport.write(head.encode() + body)
        answer = await conn.waiter
        self.idle.append(conn)
        return answer


async def serve(port: int, upstream: str, lean: bool) -> None:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    client = LeanClient(upstream)

    origin, _, base = upstream.partition("//")[2].partition("/")
    origin = f"{upstream.partition('//')[0]}//{origin}"

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        shape = request.match_info.get("shape")
        if lean and shape is None:
            status, data = await client.post("/chat/completions", body)
            return web.Response(body=data, status=status, content_type="application/json")
        url = f"{origin}/{shape}/{base}/chat/completions" if shape else f"{upstream}/chat/completions"
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
            if answer.content_type != "text/event-stream":
                data = await answer.read()
                return web.Response(body=data, status=answer.status, content_type=answer.content_type)
            relayed = web.StreamResponse(status=answer.status, headers={"Content-Type": "text/event-stream"})
            await relayed.prepare(request)
            async for data in answer.content.iter_any():
                await relayed.write(data)
            await relayed.write_eof()
            return relayed

    app = web.Application()
    app.router.add_post("/v1/messages", forward)
    app.router.add_post("/{shape}/v1/messages", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the mock's OpenAI-compatible base URL")
    parser.add_argument("--lean-client", action="store_true", help="send upstream through LeanClient")
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.port, args.upstream, args.lean_client))


if __name__ == "__main__":
    main()
