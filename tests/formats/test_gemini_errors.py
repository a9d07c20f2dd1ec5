"""Gemini errors both ways: upstream error bodies read into a class and message, and a Gemini client's error bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.gemini.errors import error_in_object, parse_error, render_error
from tests.fakes import gemini as g_wire


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            400,
            g_wire.error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"),
            ErrorKind.INVALID_REQUEST,
            "[g] Invalid JSON payload received.",
        ),
        (
            400,
            g_wire.error(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID"),
            ErrorKind.AUTH,
            "[g] API key not valid.",
        ),
        (
            400,
            g_wire.error(
                400,
                "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).",
                "INVALID_ARGUMENT",
            ),
            ErrorKind.CONTEXT_OVERFLOW,
            "prompt is too long: 1048577 tokens > 1048576 maximum",
        ),
        (
            400,
            g_wire.error(400, "Please enable billing.", "FAILED_PRECONDITION"),
            ErrorKind.BILLING,
            "[g] Please enable billing.",
        ),
        (
            400,
            g_wire.error(400, "User location is not supported.", "FAILED_PRECONDITION"),
            ErrorKind.INVALID_REQUEST,
            "[g] User location is not supported.",
        ),
        (403, g_wire.error(403, "denied", "PERMISSION_DENIED"), ErrorKind.PERMISSION, "[g] denied"),
        (
            404,
            g_wire.error(404, "models/x is not found", "NOT_FOUND"),
            ErrorKind.NOT_FOUND,
            "[g] models/x is not found",
        ),
        (429, g_wire.error(429, "Quota exceeded", "RESOURCE_EXHAUSTED"), ErrorKind.RATE_LIMIT, "[g] Quota exceeded"),
        (500, g_wire.error(500, "Internal error", "INTERNAL"), ErrorKind.SERVER, "[g] Internal error"),
        (503, g_wire.error(503, "overloaded", "UNAVAILABLE"), ErrorKind.OVERLOADED, "[g] overloaded"),
        (504, g_wire.error(504, "Deadline", "DEADLINE_EXCEEDED"), ErrorKind.TIMEOUT, "[g] Deadline"),
    ],
)
def test_upstream_gemini_errors_are_classified_by_their_status_and_reason(
    status: int, body: dict[str, Any], kind: ErrorKind, message: str
) -> None:
    raw = json.dumps(body).encode()
    err = parse_error(status, raw, "g")
    assert (err.kind, err.message, err.status, err.body, err.body_format) == (kind, message, status, raw, "gemini")


def test_a_body_that_is_not_gemini_json_is_described_not_relayed() -> None:
    err = parse_error(502, b"<html>bad gateway</html>", "g")
    assert (err.kind, err.message, err.body_format) == (
        ErrorKind.BAD_GATEWAY,
        "[g] the upstream answered HTTP 502 (Bad Gateway)",
        None,
    )


def test_an_error_in_a_200_or_a_stream_takes_its_class_from_its_code() -> None:
    assert error_in_object({"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}) == (
        ErrorKind.OVERLOADED,
        "busy",
    )
    assert error_in_object({"error": {"code": 429, "message": "slow"}}) == (ErrorKind.RATE_LIMIT, "slow")
    assert error_in_object({"candidates": []}) is None


@pytest.mark.parametrize(
    ("err", "status", "name"),
    [
        (GatewayError("bad", kind=ErrorKind.INVALID_REQUEST), 400, "INVALID_ARGUMENT"),
        (GatewayError("who", kind=ErrorKind.AUTH), 401, "UNAUTHENTICATED"),
        (GatewayError("nope", kind=ErrorKind.NOT_FOUND), 404, "NOT_FOUND"),
        (UpstreamError("slow", kind=ErrorKind.RATE_LIMIT, status=429), 429, "RESOURCE_EXHAUSTED"),
        (UpstreamError("busy", kind=ErrorKind.OVERLOADED, status=529), 503, "UNAVAILABLE"),
        (UpstreamError("cut", kind=ErrorKind.BAD_GATEWAY), 502, "UNAVAILABLE"),
        (UpstreamError("slow", kind=ErrorKind.TIMEOUT), 504, "DEADLINE_EXCEEDED"),
        (UpstreamError("pay", kind=ErrorKind.BILLING, status=402), 400, "FAILED_PRECONDITION"),
    ],
)
def test_a_gemini_client_gets_googles_status_names(err: GatewayError, status: int, name: str) -> None:
    assert render_error(err, err.message) == (
        status,
        {"error": {"code": status, "message": err.message, "status": name}},
    )
