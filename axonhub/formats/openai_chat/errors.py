"""OpenAI-style errors: rendering a GatewayError for OpenAI clients, reading upstream error bodies.

Body shape both ways: `{"error":{"message","type","param","code"}}`; the Responses API uses the same.

Status table for OpenAI clients (the same on every path, fast path and transform alike):

    upstream answer / gateway condition          client gets
    400, 402, 404, 409, 413, 422, 429            the same status (404 `model_not_found`, 429 with its code)
    401, 403 (the channel's own key refused)     502 `server_error` (never a 401: it is not the client's key)
    500 / 502                                    500 / 502 `server_error`
    503, 529 (and an overload in a body)         503 `server_error`, code `overloaded`
    408, 504, or no answer in the read timeout   504 `server_error`
    connection refused, reset, a broken 200      502 `server_error`
    the gateway's own: bad body 400, bad key 401 `invalid_api_key`, unknown model 404 `model_not_found`,
    unknown path 404 (code null), wrong method 405, body too large 413, channel unavailable 503,
    internal fault 500

An upstream error in OpenAI's own shape keeps its body; the status follows this table.
A context-length overflow is recognised by its code or its wording and its message rewritten into
the one Claude Code acts on: `prompt is too long: N tokens > M maximum` (reactive compaction), or
`input length and \\`max_tokens\\` exceed context limit: A + M > L` when only the requested output
made it overflow (Claude Code then lowers max_tokens and retries).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, UpstreamError, classify, generic_error, kind_for_status

FORMAT = "openai_chat"

# canonical kind -> (HTTP status, error.type, error.code)
_TABLE: dict[ErrorKind, tuple[int, str, str | None]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error", None),
    ErrorKind.CONTEXT_OVERFLOW: (400, "invalid_request_error", "context_length_exceeded"),
    ErrorKind.AUTH: (401, "invalid_request_error", "invalid_api_key"),
    ErrorKind.PERMISSION: (403, "invalid_request_error", "permission_denied"),
    ErrorKind.NOT_FOUND: (404, "invalid_request_error", "model_not_found"),
    ErrorKind.UNKNOWN_ROUTE: (404, "invalid_request_error", None),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request_error", None),
    ErrorKind.TOO_LARGE: (413, "invalid_request_error", None),
    ErrorKind.BILLING: (402, "insufficient_quota", "insufficient_quota"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.SERVER: (500, "server_error", None),
    ErrorKind.BAD_GATEWAY: (502, "server_error", None),
    ErrorKind.UNAVAILABLE: (503, "server_error", None),
    ErrorKind.OVERLOADED: (503, "server_error", "overloaded"),
    ErrorKind.TIMEOUT: (504, "server_error", None),
}

# Upstream statuses that reach the client as they are (the kind's own status otherwise).
_KEPT_STATUSES = frozenset({402, 409, 422, 429})
_KEPT_KINDS = frozenset({ErrorKind.INVALID_REQUEST, ErrorKind.BILLING, ErrorKind.RATE_LIMIT})

# upstream error.code / error.type -> kind, where the name says more than the status
_CODE_KINDS: dict[str, ErrorKind] = {
    "context_length_exceeded": ErrorKind.CONTEXT_OVERFLOW,
    "insufficient_quota": ErrorKind.BILLING,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "invalid_api_key": ErrorKind.AUTH,
    "authentication_error": ErrorKind.AUTH,
    "permission_denied": ErrorKind.PERMISSION,
    "permission_error": ErrorKind.PERMISSION,
    "model_not_found": ErrorKind.NOT_FOUND,
    "not_found_error": ErrorKind.NOT_FOUND,
    "insufficient_system_resource": ErrorKind.OVERLOADED,
    "overloaded": ErrorKind.OVERLOADED,
    "overloaded_error": ErrorKind.OVERLOADED,
    "server_error": ErrorKind.SERVER,
    "api_error": ErrorKind.SERVER,
    "timeout": ErrorKind.TIMEOUT,
}

_OVERFLOW_WORDING = re.compile(
    r"context[ _]length|context window|maximum context|token limit|prompt is too long"
    r"|maximum number of tokens|exceeds? the (?:configured )?limit of \d+ tokens",
    re.IGNORECASE,
)
# (regex, names of its groups in order): A = input tokens, M = requested output, L = limit, N = total
_OVERFLOW_NUMBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"is too large: (\d+)\. This model's maximum context length is (\d+) tokens"
            r" and your request has (\d+) input",
            re.I,
        ),
        "MLA",
    ),
    (
        re.compile(
            r"maximum context length is (\d+) tokens.*?(?:requested|resulted in) (?:about )?(\d+) tokens"
            r" \((\d+) (?:in the messages|of text input)\D*?(\d+) in the (?:completion|output)",
            re.I | re.S,
        ),
        "LNAM",
    ),
    (
        re.compile(
            r"maximum context length is (\d+) tokens.*?(?:requested|resulted in) (?:about )?(\d+) tokens", re.I | re.S
        ),
        "LN",
    ),
    (re.compile(r"limit of (\d+) tokens.*?resulted in (\d+) tokens", re.I | re.S), "LN"),
    (re.compile(r"prompt is too long\D*(\d+) tokens? > (\d+)", re.I), "NL"),
    (re.compile(r"input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)", re.I), "NL"),
)


def error_status(err: GatewayError) -> int:
    """The HTTP status an OpenAI client gets for `err` (the table above)."""
    if err.status in _KEPT_STATUSES and err.kind in (
        ErrorKind.INVALID_REQUEST,
        ErrorKind.BILLING,
        ErrorKind.RATE_LIMIT,
    ):
        return err.status
    return _TABLE[err.kind][0]


def render_error(err: GatewayError, message: str, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """The status and body an OpenAI client gets for `err`, reading `message`."""
    return error_status(err), error_payload(err.kind, message)


def error_payload(kind: ErrorKind, message: str) -> dict[str, Any]:
    """`{"error": …}`: a response body, and the data of a mid-stream error chunk."""
    _, error_type, code = _TABLE[kind]
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream OpenAI-compatible error answer as the error a client should see; a body that is not
    OpenAI error JSON (an HTML page from a proxy) is described, never relayed."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    kind, message = error_from_payload(body, status) if isinstance(body, Mapping) else (None, "")
    if kind is None:
        return generic_error(status, raw, channel)
    if kind is not ErrorKind.CONTEXT_OVERFLOW and channel:
        message = f"[{channel}] {message}"
    return UpstreamError(message, kind=kind, status=status, body=raw, body_format=FORMAT, channel=channel)


def error_from_payload(body: Mapping[str, Any], status: int | None = None) -> tuple[ErrorKind | None, str]:
    """The kind and client-facing message of an error object; (None, "") when `body` holds none.

    Reads `{"error":{…}}` (OpenAI, DeepSeek, OpenRouter) and vLLM's `{"object":"error",…}`. `status`
    is the HTTP status the object came with, None when it came inside a 200 answer or a stream (then
    a numeric `code` in the object stands for the status).
    """
    error = body.get("error")
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, Mapping):
        if body.get("object") != "error":
            return None, ""
        error = body
    message = str(error.get("message") or "upstream error")
    named = _CODE_KINDS.get(str(error.get("code") or "")) or _CODE_KINDS.get(str(error.get("type") or ""))
    code_status = _int(error.get("code"), 0) or _int(error.get("status"), 0)
    if named is None and code_status:
        named = kind_for_status(code_status)
    if named is None and status is None and error.get("type") == "invalid_request_error":
        named = ErrorKind.INVALID_REQUEST
    kind = classify(status, named)
    if kind is ErrorKind.INVALID_REQUEST and _OVERFLOW_WORDING.search(message):
        kind = ErrorKind.CONTEXT_OVERFLOW
    if kind is ErrorKind.CONTEXT_OVERFLOW:
        message = overflow_message(message)
    return kind, message


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600 else default


def overflow_message(text: str) -> str:
    """Rewrite an upstream context-overflow message into the form Claude Code parses."""
    for pattern, names in _OVERFLOW_NUMBERS:
        found = pattern.search(text)
        if found is None:
            continue
        n = dict(zip(names, (int(g) for g in found.groups()), strict=True))
        if "A" in n and "M" in n and n["A"] <= n["L"]:
            return f"input length and `max_tokens` exceed context limit: {n['A']} + {n['M']} > {n['L']}"
        return f"prompt is too long: {n.get('A', n.get('N', 0))} tokens > {n['L']} maximum"
    return "prompt is too long: 0 tokens > 0 maximum"
