"""Anthropic error JSON: `{"type":"error","error":{"type":…,"message":…},"request_id":…}`."""

from __future__ import annotations

import json
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, kind_for_status

# canonical kind -> (HTTP status, Anthropic error.type); PROTOCOLS.md §2.6 and §13.
_TABLE: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.CONTEXT_OVERFLOW: (400, "invalid_request_error"),
    ErrorKind.AUTH: (401, "authentication_error"),
    ErrorKind.BILLING: (402, "billing_error"),
    ErrorKind.PERMISSION: (403, "permission_error"),
    ErrorKind.NOT_FOUND: (404, "not_found_error"),
    ErrorKind.TOO_LARGE: (413, "request_too_large"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error"),
    ErrorKind.SERVER: (500, "api_error"),
    ErrorKind.BAD_GATEWAY: (502, "api_error"),
    ErrorKind.UNAVAILABLE: (503, "api_error"),
    ErrorKind.TIMEOUT: (504, "timeout_error"),
    ErrorKind.OVERLOADED: (529, "overloaded_error"),
}

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
    """The HTTP status an Anthropic client gets: the kind's, unless the upstream's was a 5xx we keep."""
    status, _ = _TABLE[err.kind]
    return status


def error_body(err: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    _, error_type = _TABLE[err.kind]
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": err.message}}
    if request_id:
        body["request_id"] = request_id
    return body


def error_event(err: GatewayError) -> dict[str, Any]:
    """The payload of a mid-stream `event: error`."""
    _, error_type = _TABLE[err.kind]
    return {"type": "error", "error": {"type": error_type, "message": err.message}}


def parse_error_body(status: int, raw: bytes) -> tuple[ErrorKind, str] | None:
    """Read an upstream Anthropic error body; None when it is not Anthropic error JSON."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    message = str(error.get("message", ""))
    kind = _TYPE_TO_KIND.get(str(error.get("type")), kind_for_status(status))
    if kind is ErrorKind.INVALID_REQUEST and "prompt is too long" in message:
        kind = ErrorKind.CONTEXT_OVERFLOW
    return kind, message


def kind_for_type(error_type: str, default: ErrorKind = ErrorKind.SERVER) -> ErrorKind:
    """The canonical class of an Anthropic `error.type` (as in a mid-stream `event: error`)."""
    return _TYPE_TO_KIND.get(error_type, default)
