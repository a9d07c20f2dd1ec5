"""A GatewayError as the error response of the client's own wire format.

The status always follows that format's status table (in `formats/<format>/errors.py`), so the same
upstream failure reaches a client with the same status whichever channel and path it went through.
An upstream error already in the client's format keeps the upstream's body.
"""

from __future__ import annotations

import json

from aiohttp import web

from axonhub.errors import RETRYABLE_KINDS, GatewayError, UpstreamError
from axonhub.formats.registry import FORMATS
from axonhub.formats.spec import WireFormat


def error_response(wire: WireFormat, err: GatewayError, request_id: str, *, hints: bool) -> web.Response:
    status, body = FORMATS[wire].codec.render_error(err, err.client_message(hints), request_id)
    headers = dict(err.headers)
    headers.setdefault("x-should-retry", "true" if err.kind in RETRYABLE_KINDS else "false")
    headers.update({"request-id": request_id, "x-request-id": request_id})
    payload = json.dumps(body, ensure_ascii=False).encode()
    if isinstance(err, UpstreamError) and err.body_format == wire and err.body:
        payload = err.body
    return web.Response(status=status, body=payload, content_type="application/json", headers=headers)
