"""OpenAI Responses errors: OpenAI's error shape and status table before a stream, codes inside one.

Before the first byte a Responses client gets what an OpenAI Chat client gets (the same body shape
and the same status table, `formats/openai_chat/errors.py`). After a stream began, a failure is a
`response.failed` event whose `error.code` is the one Codex acts on: `context_length_exceeded`
(it compacts), `insufficient_quota`, `rate_limit_exceeded` (it waits), `invalid_prompt`, and
`server_error` for every failure worth a retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, UpstreamError, classify
from axonhub.formats.openai_chat import errors as openai_errors
from axonhub.formats.spec import WireFormat

_STREAM_CODES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_prompt",
    ErrorKind.CONTEXT_OVERFLOW: "context_length_exceeded",
    ErrorKind.BILLING: "insufficient_quota",
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
}
_CODE_KINDS = {"invalid_prompt": ErrorKind.INVALID_REQUEST, "content_filter": ErrorKind.INVALID_REQUEST}


def stream_code(kind: ErrorKind) -> str:
    """The `error.code` of a `response.failed` event for a failure of class `kind`."""
    return _STREAM_CODES.get(kind, "server_error")


def render_error(err: GatewayError, message: str) -> tuple[int, dict[str, Any]]:
    return openai_errors.render_error(err, message)


def parse_error(status: int, raw: bytes, channel: str = "") -> UpstreamError:
    """An upstream error answer of OpenAI's Responses API (OpenAI's error shape), kept for its own clients."""
    err = openai_errors.parse_error(status, raw, channel)
    if err.body_format == openai_errors.FORMAT:
        err.body_format = WireFormat.OPENAI_RESPONSES
    return err


def error_in_answer(body: Mapping[str, Any]) -> tuple[ErrorKind, str] | None:
    """The class and message of an error object or of a failed response; None for a real answer."""
    error = body.get("error")
    if not isinstance(error, Mapping) and body.get("status") != "failed" and body.get("object") != "error":
        return None
    kind, message = openai_errors.error_from_payload(body)
    if kind is None:
        return (ErrorKind.SERVER, "the upstream reported a failed response") if body.get("status") == "failed" else None
    code = error.get("code") if isinstance(error, Mapping) else None
    named = _CODE_KINDS.get(code) if isinstance(code, str) else None
    return (classify(None, named), message) if named is not None else (kind, message)
