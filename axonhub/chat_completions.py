"""`POST /v1/chat/completions` (and `/openai/v1/chat/completions`): OpenAI Chat Completions clients.

The body is checked at the boundary, before any channel is chosen, so a malformed request gets the
same 400 whichever channel would have served it: `model`, `messages` (a non-empty list of objects
with a known role) and `stream` must be well formed, and what the gateway cannot honour on every
channel is refused rather than silently dropped: `n` other than 1, `logprobs`/`top_logprobs`, and
audio output (PROTOCOLS.md §10.1). On an OpenAI-compatible channel the request then takes the
same-format fast path; on any other channel it goes through the IR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from axonhub.appkeys import EXCHANGE
from axonhub.errors import InvalidRequest
from axonhub.exchange import Exchange
from axonhub.formats.openai_chat.request import stream_include_usage
from axonhub.pipeline import Inbound, read_json, route_request, serve, start_exchange

FORMAT = "openai_chat"
ENDPOINT = "chat/completions"
KIND = "chat_completions"  # the trace's name for these exchanges
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve one Chat Completions request, JSON or streamed, in OpenAI's wire format."""
    exchange: Exchange = request[EXCHANGE]
    exchange.kind = KIND  # traced even when the body cannot be read
    raw, body = await read_json(request, exchange.config.server.max_body_bytes)
    inbound = Inbound(FORMAT, ENDPOINT, raw, body, request.headers, include_usage=stream_include_usage(body))
    start_exchange(request, inbound, KIND)
    check_chat_request(body)
    return await serve(request, exchange, inbound, route_request(exchange, inbound))


def check_chat_request(body: Mapping[str, Any]) -> None:
    """Raise InvalidRequest, naming the field, for a body no channel should be sent."""
    _check_messages(body.get("messages"))
    if "stream" in body and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: must be a boolean")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise InvalidRequest("stream_options: must be an object")
    _refuse_unsupported(body)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: field required (a non-empty list of messages)")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequest(f"messages.{i}: must be an object with a `role`")
        role = message.get("role")
        if not isinstance(role, str):
            raise InvalidRequest(f"messages.{i}.role: field required")
        if role not in ROLES:
            raise InvalidRequest(f"messages.{i}.role: unsupported role {role!r} (expected one of {_names(ROLES)})")


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    """Fields whose meaning the gateway cannot keep on every channel: refused, never dropped."""
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("n: only one choice per request is supported (omit `n` or set it to 1)")
    if body.get("logprobs") not in (None, False) or body.get("top_logprobs") is not None:
        raise InvalidRequest("logprobs: log probabilities are not supported by this gateway")
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        raise InvalidRequest("audio: audio output is not supported by this gateway")


def _names(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))
