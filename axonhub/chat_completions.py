"""`POST /v1/chat/completions` (and `/openai/v1/chat/completions`): OpenAI Chat Completions clients.

The body is checked at the boundary (`formats.openai_chat.request.check_request`), before any channel
is chosen; on an OpenAI-compatible channel the request then takes the same-format fast path, on any
other channel it goes through the IR.
"""

from __future__ import annotations

from aiohttp import web

from axonhub.appkeys import EXCHANGE
from axonhub.exchange import Exchange
from axonhub.formats.openai_chat.request import check_request, stream_include_usage
from axonhub.pipeline import Inbound, read_json, serve, start_exchange
from axonhub.profiles import resolve

FORMAT = "openai_chat"
ENDPOINT = "chat/completions"
KIND = "chat_completions"  # the trace's name for these exchanges


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve one Chat Completions request, JSON or streamed, in OpenAI's wire format."""
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = KIND  # traced even when the body cannot be read
    raw, body = await read_json(request, exchange.config.server.max_body_bytes)
    inbound = Inbound(FORMAT, ENDPOINT, raw, body, request.headers, include_usage=stream_include_usage(body))
    start_exchange(request, inbound, KIND)
    check_request(body)
    route = resolve(exchange.requested_model or "", exchange.key, exchange.config)
    return await serve(request, exchange, inbound, route)
