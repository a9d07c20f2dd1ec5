"""The framework floor: the least an aiohttp server and client can do as a gateway, for `run.py --peer`.

    python benchmarks/aiohttp_floor.py --port 4100 --upstream http://127.0.0.1:9311/v1
    python benchmarks/run.py --mock-port 9311 --peer http://127.0.0.1:4100 --only "translate json"

It forwards each `POST /v1/messages` body unread to `{upstream}/chat/completions` and returns the
answer as it came: no auth, no parsing, no translation, no trace, no logs. What AxonHub spends on
top of this is its own work; this much is aiohttp's (with uvloop, as `axonhub serve` runs).
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web


async def serve(port: int, upstream: str) -> None:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with session.post(
            f"{upstream}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        ) as answer:
            data = await answer.read()
            return web.Response(body=data, status=answer.status, content_type=answer.content_type)

    app = web.Application()
    app.router.add_post("/v1/messages", forward)
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
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.port, args.upstream))


if __name__ == "__main__":
    main()
