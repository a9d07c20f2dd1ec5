"""The exception tree of AxonHub.

    AxonHubError
    ├── ConfigError            the YAML file is unreadable or invalid (carries every error with its path)
    └── GatewayError           an error a client sees; carries a canonical ErrorKind and a message
        ├── InvalidRequest         400  malformed JSON, missing or wrong fields
        ├── AuthenticationFailed   401  missing, unknown or disabled AxonHub key
        ├── NotFound               404  unknown route, or no channel serves the model
        ├── RequestTooLarge        413  body above server.max_body_bytes
        ├── RateLimited            429  a key's or a channel's limit in AxonHub (with Retry-After)
        ├── ChannelUnavailable     503  the channel's secret env var is not set, or it is disabled
        └── UpstreamError          any status   the upstream answered with an error, or could not be reached

Each wire format renders a GatewayError in its own shape and status table
(`axonhub.formats.<name>.errors`); the ErrorKind is the shared vocabulary between them
(PROTOCOLS.md §13). The CLI alone turns AxonHubError into a one-line click error.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ErrorKind(StrEnum):
    """Canonical error classes shared by every wire format."""

    INVALID_REQUEST = "invalid_request"
    CONTEXT_OVERFLOW = "context_overflow"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
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
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        # The upstream's own status, kept when it is more precise than the kind's default.
        self.status = status
        self.headers = dict(headers or {})


class InvalidRequest(GatewayError):
    kind = ErrorKind.INVALID_REQUEST


class AuthenticationFailed(GatewayError):
    kind = ErrorKind.AUTH


class NotFound(GatewayError):
    kind = ErrorKind.NOT_FOUND


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
    ) -> None:
        super().__init__(message, kind=kind, status=status, headers=headers)
        self.body = body
        self.body_format = body_format
        self.channel = channel


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
        case 504:
            return ErrorKind.TIMEOUT
        case 502:
            return ErrorKind.BAD_GATEWAY
    if 400 <= status < 500:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.SERVER
