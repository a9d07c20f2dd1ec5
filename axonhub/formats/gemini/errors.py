"""Gemini error JSON, both ways: `{"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT"}}`.

Status table for Gemini clients (the same on every path, fast path and transform alike):

    upstream answer / gateway condition          client gets
    400, 404, 429                                the same status (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED)
    a context overflow                           400 INVALID_ARGUMENT, the upstream's wording
    402 or a billing failure                     400 FAILED_PRECONDITION (Google's own way to say it)
    401, 403 (the channel's own key refused)     502 UNAVAILABLE (never a 401: it is not the client's key)
    500 / 502                                    500 INTERNAL / 502 UNAVAILABLE
    503, 529, an overload                        503 UNAVAILABLE
    408, 504, or no answer in the read timeout   504 DEADLINE_EXCEEDED
    the gateway's own: bad body 400, bad key 401 UNAUTHENTICATED, unknown model 404, unknown path 404,
    wrong method 405, body too large 413, channel unavailable 503, internal fault 500

An upstream error in Gemini's own shape keeps its body; the status follows this table. Reading an
upstream Gemini error: its `status` names the class (`INVALID_ARGUMENT` with the reason
`API_KEY_INVALID` is a refused key, as Gemini reports one); an overflowing prompt ("input token count
(A) exceeds the maximum number of tokens allowed (L)") becomes the wording Claude Code compacts on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, UpstreamError, classify, generic_error

FORMAT = "gemini"

# canonical kind -> (HTTP status, google.rpc status)
_TABLE: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorKind.CONTEXT_OVERFLOW: (400, "INVALID_ARGUMENT"),
    ErrorKind.AUTH: (401, "UNAUTHENTICATED"),
    ErrorKind.BILLING: (400, "FAILED_PRECONDITION"),
    ErrorKind.PERMISSION: (403, "PERMISSION_DENIED"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorKind.UNKNOWN_ROUTE: (404, "NOT_FOUND"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "INVALID_ARGUMENT"),
    ErrorKind.TOO_LARGE: (413, "INVALID_ARGUMENT"),
    ErrorKind.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.SERVER: (500, "INTERNAL"),
    ErrorKind.BAD_GATEWAY: (502, "UNAVAILABLE"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
    ErrorKind.OVERLOADED: (503, "UNAVAILABLE"),
    ErrorKind.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
}

_STATUS_KINDS: dict[str, ErrorKind] = {
    "INVALID_ARGUMENT": ErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorKind.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorKind.INVALID_REQUEST,
    "UNAUTHENTICATED": ErrorKind.AUTH,
    "PERMISSION_DENIED": ErrorKind.PERMISSION,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMIT,
    "UNAVAILABLE": ErrorKind.OVERLOADED,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
    "INTERNAL": ErrorKind.SERVER,
    "UNKNOWN": ErrorKind.SERVER,
}
_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
_OVERFLOW = re.compile(
    r"input token count(?: \((\d+)\))? exceeds the maximum number of tokens allowed(?: \((\d+)\))?", re.IGNORECASE
)


def error_status(err: GatewayError) -> int:
    """The HTTP status a Gemini client gets for `err` (the table above)."""
    return _TABLE[err.kind][0]


def render_error(err: GatewayError, message: str) -> tuple[int, dict[str, Any]]:
    status = error_status(err)
    return status, error_payload(err.kind, message, status)


def error_payload(kind: ErrorKind, message: str, status: int | None = None) -> dict[str, Any]:
    """`{"error": …}`: a response body, and a mid-stream error chunk (the google-genai SDKs raise it)."""
    code, name = _TABLE[kind]
    return {"error": {"code": status or code, "message": message, "status": name}}


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream Gemini error answer as the error a client should see; a body that is not Gemini
    error JSON (an HTML page from a proxy) is described, never relayed."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    found = error_in_object(body, status) if isinstance(body, Mapping) else None
    if found is None:
        return generic_error(status, raw, channel)
    kind, message = found
    if kind is not ErrorKind.CONTEXT_OVERFLOW and channel:
        message = f"[{channel}] {message}"
    return UpstreamError(message, kind=kind, status=status, body=raw, body_format=FORMAT, channel=channel)


def error_in_object(body: Mapping[str, Any], status: int | None = None) -> tuple[ErrorKind, str] | None:
    """The class and message of `{"error": {…}}`; None for anything else. `status` is the HTTP status
    it came with, None inside a 200 answer or a stream (then its `code` stands for the status)."""
    error = body.get("error")
    if not isinstance(error, Mapping):
        return None
    message = str(error.get("message") or "upstream error")
    named = _STATUS_KINDS.get(str(error.get("status") or ""))
    if _reasons(error) & _KEY_REASONS:
        named = ErrorKind.AUTH
    elif named is ErrorKind.INVALID_REQUEST and error.get("status") == "FAILED_PRECONDITION" and "billing" in message:
        named = ErrorKind.BILLING
    code = error.get("code")
    if status is None and isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        status = code
    kind = classify(status, named)
    overflow = _OVERFLOW.search(message)
    if overflow is not None and kind in (ErrorKind.INVALID_REQUEST, ErrorKind.SERVER):
        tokens, limit = overflow.groups()
        return ErrorKind.CONTEXT_OVERFLOW, f"prompt is too long: {tokens or 0} tokens > {limit or 0} maximum"
    return kind, message


def _reasons(error: Mapping[str, Any]) -> set[str]:
    details = error.get("details")
    return {str(d.get("reason")) for d in details if isinstance(d, Mapping)} if isinstance(details, list) else set()
