"""Which wire format a request speaks, and rendering a GatewayError as that format's error response.

A request's format follows from its path, the same way for every route, served or not:

    /anthropic/…, /v1/messages…                           anthropic
    /openai/…/responses, /v1/responses                     openai_responses
    /openai/…, /v1/chat/…, /v1/completions, /v1/embeddings openai_chat
    anything else (/v1/models, an unknown path)            anthropic when the request carries
                                                           `anthropic-version` or `x-api-key`,
                                                           else openai_chat

so a client always gets errors in the shape its SDK parses. The Responses API shares OpenAI's error
body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

from axonhub.errors import RETRYABLE_KINDS, GatewayError, UpstreamError
from axonhub.formats.registry import CODECS


class _Renders(Protocol):
    def render_error(
        self, err: GatewayError, message: str, request_id: str | None = None
    ) -> tuple[int, dict[str, object]]: ...


# wire format -> the codec that renders its errors
ERROR_RENDERERS: dict[str, _Renders] = {
    "anthropic": CODECS["anthropic"],
    "openai_chat": CODECS["openai_chat"],
    "openai_responses": CODECS["openai_chat"],
}
_OPENAI_CHAT_PATHS = ("/v1/chat/", "/v1/completions", "/v1/embeddings")


def wire_format_for(path: str, headers: Mapping[str, str]) -> str:
    """The wire format of a request (the table in this module's docstring)."""
    if path.startswith(("/anthropic/", "/v1/messages")) or path == "/anthropic":
        return "anthropic"
    if path.startswith("/v1/responses") or (path.startswith("/openai/") and "/responses" in path):
        return "openai_responses"
    if path.startswith("/openai/") or path.startswith(_OPENAI_CHAT_PATHS):
        return "openai_chat"
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    return "openai_chat"


def error_response(wire_format: str, err: GatewayError, request_id: str, *, hints: bool) -> web.Response:
    """The error as the client's format: an upstream error already in that format keeps its body.

    The status always follows the format's status table, so the same upstream failure reaches a
    client with the same status whichever channel and path it went through.
    """
    renderer = ERROR_RENDERERS[wire_format]
    status, body = renderer.render_error(err, err.client_message(hints), request_id)
    headers = dict(err.headers)
    headers.setdefault("x-should-retry", "true" if err.kind in RETRYABLE_KINDS else "false")
    headers.update({"request-id": request_id, "x-request-id": request_id})
    payload = json.dumps(body, ensure_ascii=False).encode()
    if isinstance(err, UpstreamError) and err.body_format == wire_format and err.body:
        payload = err.body
    return web.Response(status=status, body=payload, content_type="application/json", headers=headers)
