"""The exception tree of AxonHub.

    AxonHubError
    ├── ConfigError            the YAML file is unreadable or invalid (carries every error with its path)
    └── GatewayError           an error a client sees; carries a canonical ErrorKind and a message
        ├── InvalidRequest         400  malformed JSON, missing or wrong fields
        │   └── ClientTooSlow      400  the body did not arrive within server.client_timeouts.body
        ├── AuthenticationFailed   401  missing, unknown or disabled AxonHub key
        ├── NotFound               404  no channel serves the model
        ├── UnknownRoute           404  no such path
        ├── MethodNotAllowed       405  a path that exists, asked with another method
        ├── RequestTooLarge        413  body above server.max_body_bytes
        ├── RateLimited            429  a key's or a channel's limit in AxonHub (with Retry-After)
        ├── ChannelUnavailable     503  the channel's secret env var is not set, or it is disabled
        └── UpstreamError          any status   the upstream answered with an error, or could not be reached

Each wire format renders a GatewayError in its own shape and status table
(`axonhub.formats.<name>.errors`); the ErrorKind is the shared vocabulary between them. A
GatewayError's `message` is what a client reads: one clear sentence, never raw exception text. Its
`detail` (the underlying exception, an upstream body) goes only to the log and the trace, and its
`hint` (advice for the operator that may name environment variables or config) reaches clients only
when `server.operator_hints` allows it. The CLI alone turns AxonHubError into a one-line click error.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus


class ErrorKind(StrEnum):
    """Canonical error classes shared by every wire format."""

    INVALID_REQUEST = "invalid_request"
    CONTEXT_OVERFLOW = "context_overflow"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    UNKNOWN_ROUTE = "unknown_route"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    BILLING = "billing"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    SERVER = "server"
    BAD_GATEWAY = "bad_gateway"
    UNAVAILABLE = "unavailable"


RETRYABLE_KINDS = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.OVERLOADED, ErrorKind.TIMEOUT, ErrorKind.SERVER, ErrorKind.BAD_GATEWAY}
)


class AxonHubError(Exception):
    """Base of every error AxonHub raises on purpose."""


class ConfigError(AxonHubError):
    """The config file could not be loaded; `errors` holds one `path: message` line per problem."""

    def __init__(self, errors: list[str], source: str = "") -> None:
        self.errors = errors
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(errors))


class GatewayError(AxonHubError):
    """An error that reaches a client, rendered in the client's wire format."""

    kind: ErrorKind = ErrorKind.SERVER

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        # The upstream's own status, kept when it is more precise than the kind's default.
        self.status = status
        self.headers = dict(headers or {})
        self.detail = detail
        self.hint = hint

    def client_message(self, hints: bool) -> str:
        """The text a client reads: the message, with the operator hint when hints are on."""
        return f"{self.message}; {self.hint}" if hints and self.hint else self.message


class InvalidRequest(GatewayError):
    kind = ErrorKind.INVALID_REQUEST


class ClientTooSlow(InvalidRequest, TimeoutError):
    """The client did not send its request body in time; the connection is closed after the answer.

    Also a TimeoutError, so that aiohttp, draining an unread body after the response, treats it
    as the timeout it is.
    """


class AuthenticationFailed(GatewayError):
    kind = ErrorKind.AUTH


class NotFound(GatewayError):
    kind = ErrorKind.NOT_FOUND


class UnknownRoute(GatewayError):
    kind = ErrorKind.UNKNOWN_ROUTE


class MethodNotAllowed(GatewayError):
    kind = ErrorKind.METHOD_NOT_ALLOWED


class RequestTooLarge(GatewayError):
    kind = ErrorKind.TOO_LARGE


class RateLimited(GatewayError):
    """A limit AxonHub enforces refused the request; `limit` says which one and when it resets."""

    kind = ErrorKind.RATE_LIMIT

    def __init__(self, message: str, *, headers: Mapping[str, str], limit: Mapping[str, object]) -> None:
        super().__init__(message, headers=headers)
        self.limit = dict(limit)


class ChannelUnavailable(GatewayError):
    kind = ErrorKind.UNAVAILABLE


class UpstreamError(GatewayError):
    """The upstream failed: an HTTP error answer, a connection failure or a timeout.

    `body` keeps the upstream's raw error body and `body_format` the wire format it is in, so a
    client speaking that same format gets it verbatim, with the upstream's status.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        body_format: str | None = None,
        channel: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status, headers=headers, detail=detail, hint=hint)
        self.body = body
        self.body_format = body_format
        self.channel = channel


def classify(status: int | None, named: ErrorKind | None) -> ErrorKind:
    """The class of an upstream error from its HTTP status and the class its body names.

    `status` is None for an error object that came inside a 200 answer or a stream. A 5xx status
    decides by itself (a 503 is an overload whatever type its body names), except that a body
    naming an overload, a rate limit or a context overflow keeps it; below 500 the body's class
    wins, and the status only fills in when the body names none.
    """
    if status is not None and status >= 500:
        if named in (ErrorKind.OVERLOADED, ErrorKind.RATE_LIMIT, ErrorKind.CONTEXT_OVERFLOW):
            return named
        return kind_for_status(status)
    if named is not None:
        return named
    return kind_for_status(status) if status is not None else ErrorKind.SERVER


def kind_for_status(status: int) -> ErrorKind:
    """The canonical class of an upstream HTTP error status."""
    match status:
        case 400 | 422:
            return ErrorKind.INVALID_REQUEST
        case 401:
            return ErrorKind.AUTH
        case 402:
            return ErrorKind.BILLING
        case 403:
            return ErrorKind.PERMISSION
        case 404:
            return ErrorKind.NOT_FOUND
        case 413:
            return ErrorKind.TOO_LARGE
        case 429:
            return ErrorKind.RATE_LIMIT
        case 503 | 529:
            return ErrorKind.OVERLOADED
        case 408 | 504:  # 408: the upstream gave up waiting for our request, a transient fault of its own
            return ErrorKind.TIMEOUT
        case 502:
            return ErrorKind.BAD_GATEWAY
    if 400 <= status < 500:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.SERVER


def status_phrase(status: int) -> str:
    """`503 (Service Unavailable)`, or the bare number for a status without a standard phrase."""
    try:
        return f"{status} ({HTTPStatus(status).phrase})"
    except ValueError:
        return str(status)


def describe_body(raw: bytes, limit: int = 300) -> str:
    """The head of a body that is not what was expected, for the log and the trace (never a client)."""
    text = raw[:limit].decode("utf-8", errors="replace").strip()
    return text + ("…" if len(raw) > limit else "") if text else "(empty body)"


def generic_error(status: int, raw: bytes, channel: str) -> UpstreamError:
    """An upstream error answer whose body no wire format reads (an HTML page from a proxy, plain text):
    its status class, a sentence for the client, the body's head for the operator."""
    where = f"[{channel}] " if channel else ""
    return UpstreamError(
        f"{where}the upstream answered HTTP {status_phrase(status)}",
        kind=kind_for_status(status),
        status=status,
        body=raw,
        channel=channel,
        detail=describe_body(raw),
    )


def internal_error(request_id: str, exc: BaseException) -> GatewayError:
    """A fault of the gateway itself: a sentence for the client, the exception for the log and trace."""
    return GatewayError(
        f"internal gateway error (request {request_id})",
        kind=ErrorKind.SERVER,
        detail=repr(exc),
        hint="see the AxonHub log",
    )
