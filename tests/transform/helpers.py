"""Raw-HTTP helpers for the transform tests: post like Claude Code, read the SSE events back."""

from __future__ import annotations

from typing import Any

import aiohttp

from axonhub.sse import SSEDecoder
from tests.conftest import SECRET
from tests.transform import claude_code_requests as cc

SSEEvents = list[tuple[str, dict[str, Any]]]


def sse_events(raw: bytes) -> SSEEvents:
    """Every `event:`/`data:` pair of an Anthropic stream, in order."""
    decoder = SSEDecoder()
    frames = decoder.feed(raw) + decoder.finish()
    return [(frame.event or "", frame.json()) for frame in frames]


def names(events: SSEEvents) -> list[str]:
    return [name for name, _ in events]


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    *,
    path: str = "/anthropic/v1/messages?beta=true",
    headers: dict[str, str] | None = None,
) -> tuple[aiohttp.ClientResponse, bytes]:
    """POST `body` with Claude Code's headers; returns the response and its whole body."""
    sent = headers if headers is not None else cc.headers(SECRET, stream=body.get("stream") is True)
    async with http.post(url + path, json=body, headers=sent) as response:
        return response, await response.read()
