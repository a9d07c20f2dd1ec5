"""Which wire format a path speaks, and rendering a GatewayError as that format's error response."""

from __future__ import annotations

import json

from aiohttp import web

from axonhub.errors import RETRYABLE_KINDS, GatewayError, UpstreamError
from axonhub.formats.registry import CODECS

_OPENAI_PREFIXES = ("/openai/", "/v1/chat/", "/v1/responses", "/v1/completions")


def wire_format_for_path(path: str) -> str:
    if path.startswith("/anthropic/"):
        return "anthropic"
    if path.startswith(_OPENAI_PREFIXES):
        return "openai_responses" if "/responses" in path else "openai_chat"
    return "anthropic"


def error_response(wire_format: str, err: GatewayError, request_id: str) -> web.Response:
    """The error as the client's format: an upstream error already in that format goes verbatim."""
    headers = dict(err.headers)
    headers.setdefault("x-should-retry", "true" if err.kind in RETRYABLE_KINDS else "false")
    if isinstance(err, UpstreamError) and err.body_format == wire_format and err.body and err.status:
        return web.Response(status=err.status, body=err.body, content_type="application/json", headers=headers)
    codec = CODECS.get(wire_format, CODECS["anthropic"])
    status, body = codec.render_error(err, request_id)
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        headers=headers,
    )
