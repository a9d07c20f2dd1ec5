"""Anthropic error JSON, both ways: `{"type":"error","error":{"type":…,"message":…},"request_id":…}`.

Status table for Anthropic clients (the same on every path, fast path and transform alike):

    upstream answer / gateway condition          client gets
    400, 413, 429, 402, 404                      the same status and its error type
    409, 422                                     the same status, `invalid_request_error`
    401, 403 (the channel's own key refused)     502 `api_error` (never a 401: it is not the client's key)
    500 / 502                                    500 / 502 `api_error`
    503, 529 (and overloaded_error in a body)    529 `overloaded_error`, which Claude Code retries
    408, 504, or no answer in the read timeout   504 `timeout_error`
    connection refused, reset, a broken 200      502 `api_error`
    the gateway's own: bad body 400, bad key 401, unknown model 404, unknown path 404,
    wrong method 405, body too large 413, channel unavailable 503, internal fault 500

An upstream error in Anthropic's own shape keeps its body; the status follows this table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, classify

# canonical kind -> (HTTP status, Anthropic error.type)
_TABLE: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.CONTEXT_OVERFLOW: (400, "invalid_request_error"),
    ErrorKind.AUTH: (401, "authentication_error"),
    ErrorKind.BILLING: (402, "billing_error"),
    ErrorKind.PERMISSION: (403, "permission_error"),
    ErrorKind.NOT_FOUND: (404, "not_found_error"),
    ErrorKind.UNKNOWN_ROUTE: (404, "not_found_error"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request_error"),
    ErrorKind.TOO_LARGE: (413, "request_too_large"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error"),
    ErrorKind.SERVER: (500, "api_error"),
    ErrorKind.BAD_GATEWAY: (502, "api_error"),
    ErrorKind.UNAVAILABLE: (503, "api_error"),
    ErrorKind.TIMEOUT: (504, "timeout_error"),
    ErrorKind.OVERLOADED: (529, "overloaded_error"),
}
# Upstream statuses of an invalid request that reach the client as they are.
_KEPT_STATUSES = frozenset({409, 422})

_TYPE_TO_KIND: dict[str, ErrorKind] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTH,
    "billing_error": ErrorKind.BILLING,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "api_error": ErrorKind.SERVER,
    "timeout_error": ErrorKind.TIMEOUT,
    "overloaded_error": ErrorKind.OVERLOADED,
}


def error_status(err: GatewayError) -> int:
    """The HTTP status an Anthropic client gets for `err` (the table above)."""
    if err.kind is ErrorKind.INVALID_REQUEST and err.status in _KEPT_STATUSES:
        return err.status
    return _TABLE[err.kind][0]


def error_body(err: GatewayError, message: str, request_id: str | None = None) -> dict[str, Any]:
    body = error_event(err.kind, message)
    if request_id:
        body["request_id"] = request_id
    return body


def error_event(kind: ErrorKind, message: str) -> dict[str, Any]:
    """The payload of a mid-stream `event: error` (and the body of an error answer, without its id)."""
    return {"type": "error", "error": {"type": _TABLE[kind][1], "message": message}}


def parse_error_body(status: int | None, raw: bytes) -> tuple[ErrorKind, str] | None:
    """Read an upstream Anthropic error body; None when it is not Anthropic error JSON."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return error_in_object(body, status) if isinstance(body, Mapping) else None


def error_in_object(body: Mapping[str, Any], status: int | None = None) -> tuple[ErrorKind, str] | None:
    """The class and message of an error object (`{"type":"error","error":{…}}`); None for anything else.

    `status` is the HTTP status it came with, None when it came inside a 200 answer or a stream.
    """
    error = body.get("error")
    if not isinstance(error, Mapping):
        return None if body.get("type") != "error" else (classify(status, None), "upstream error")
    message = str(error.get("message") or "upstream error")
    kind = classify(status, _TYPE_TO_KIND.get(str(error.get("type"))))
    if kind is ErrorKind.INVALID_REQUEST and "prompt is too long" in message:
        kind = ErrorKind.CONTEXT_OVERFLOW
    return kind, message
