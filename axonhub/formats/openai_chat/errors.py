"""OpenAI-style errors: rendering a GatewayError for OpenAI clients, reading upstream error bodies.

Body shape both ways: `{"error":{"message","type","param","code"}}` (PROTOCOLS.md §3.4, §13).
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

from axonhub.errors import ErrorKind, GatewayError, UpstreamError, kind_for_status

FORMAT = "openai_chat"

# canonical kind -> (HTTP status, error.type, error.code)
_TABLE: dict[ErrorKind, tuple[int, str, str | None]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error", None),
    ErrorKind.CONTEXT_OVERFLOW: (400, "invalid_request_error", "context_length_exceeded"),
    ErrorKind.AUTH: (401, "invalid_request_error", "invalid_api_key"),
    ErrorKind.PERMISSION: (403, "invalid_request_error", "permission_denied"),
    ErrorKind.NOT_FOUND: (404, "invalid_request_error", "model_not_found"),
    ErrorKind.TOO_LARGE: (413, "invalid_request_error", None),
    ErrorKind.BILLING: (429, "insufficient_quota", "insufficient_quota"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.SERVER: (500, "server_error", None),
    ErrorKind.BAD_GATEWAY: (502, "server_error", None),
    ErrorKind.UNAVAILABLE: (503, "server_error", None),
    ErrorKind.OVERLOADED: (503, "server_error", "overloaded"),
    ErrorKind.TIMEOUT: (504, "server_error", None),
}

# upstream error.code / error.type -> kind, where the code says more than the status
_CODE_KINDS: dict[str, ErrorKind] = {
    "context_length_exceeded": ErrorKind.CONTEXT_OVERFLOW,
    "insufficient_quota": ErrorKind.BILLING,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "invalid_api_key": ErrorKind.AUTH,
    "authentication_error": ErrorKind.AUTH,
    "model_not_found": ErrorKind.NOT_FOUND,
    "insufficient_system_resource": ErrorKind.OVERLOADED,
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


def render_error(err: GatewayError, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """The status and body an OpenAI client gets for `err`."""
    status, _, _ = _TABLE[err.kind]
    return status, error_payload(err.kind, err.message)


def error_payload(kind: ErrorKind, message: str) -> dict[str, Any]:
    """`{"error": …}`: a response body, and the data of a mid-stream error chunk."""
    _, error_type, code = _TABLE[kind]
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream OpenAI-compatible error answer as the error a client should see."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    kind, message = error_from_payload(body, status) if isinstance(body, Mapping) else (None, "")
    if kind is None:
        text = raw[:500].decode("utf-8", errors="replace").strip() or f"HTTP {status}"
        kind, message = kind_for_status(status), f"upstream error {status}: {text}"
    if kind is not ErrorKind.CONTEXT_OVERFLOW and channel:
        message = f"[{channel}] {message}"
    return UpstreamError(message, kind=kind, status=status, body=raw, body_format=FORMAT, channel=channel)


def error_from_payload(body: Mapping[str, Any], status: int = 400) -> tuple[ErrorKind | None, str]:
    """The kind and client-facing message of an error object; (None, "") when `body` holds none.

    Reads `{"error":{…}}` (OpenAI, DeepSeek, OpenRouter) and vLLM's `{"object":"error",…}`.
    """
    error = body.get("error")
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, Mapping):
        if body.get("object") != "error":
            return None, ""
        error = body
    message = str(error.get("message") or "upstream error")
    code = str(error.get("code") or "")
    error_type = str(error.get("type") or "")
    status = _int(error.get("code"), status)
    kind = _CODE_KINDS.get(code) or _CODE_KINDS.get(error_type) or kind_for_status(status)
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
