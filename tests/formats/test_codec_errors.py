"""Errors across formats: OpenAI-compatible upstream errors read, rewritten for Claude Code, rendered for each client."""

from __future__ import annotations

import json

import pytest

from axonhub.errors import ErrorKind, GatewayError, InvalidRequest
from axonhub.formats.anthropic import errors as anthropic_errors
from axonhub.formats.anthropic.codec import parse_error as parse_anthropic_error
from axonhub.formats.openai_chat.errors import error_from_payload, overflow_message, parse_error, render_error
from axonhub.formats.registry import CHANNEL_FORMATS, FORMATS
from axonhub.formats.spec import WireFormat
from axonhub.schema import CHANNEL_TYPES


def openai_error(message: str, type_: str = "invalid_request_error", code: object = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "raw", "kind", "message"),
    [
        (
            400,
            openai_error(
                "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens "
                "(135000 in the messages, 5000 in the completion). Please reduce the length of the messages or completion."
            ),
            ErrorKind.CONTEXT_OVERFLOW,
            "prompt is too long: 135000 tokens > 131072 maximum",
        ),
        (
            400,
            openai_error(
                "This model's maximum context length is 131072 tokens. However, you requested 160000 tokens "
                "(100000 in the messages, 60000 in the completion)."
            ),
            ErrorKind.CONTEXT_OVERFLOW,
            "input length and `max_tokens` exceed context limit: 100000 + 60000 > 131072",
        ),
        (
            400,
            openai_error(
                "'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum context length "
                "is 32768 tokens and your request has 900 input tokens (32000 > 32768 - 900)."
            ),
            ErrorKind.CONTEXT_OVERFLOW,
            "input length and `max_tokens` exceed context limit: 900 + 32000 > 32768",
        ),
        (
            400,
            openai_error("Your messages resulted in 300000 tokens.", code="context_length_exceeded"),
            ErrorKind.CONTEXT_OVERFLOW,
            "prompt is too long: 0 tokens > 0 maximum",
        ),
        (
            400,
            openai_error(
                "This endpoint's maximum context length is 163840 tokens. However, you requested about 200000 tokens "
                "(190000 of text input, 10000 in the output). Please reduce the length."
            ),
            ErrorKind.CONTEXT_OVERFLOW,
            "prompt is too long: 190000 tokens > 163840 maximum",
        ),
        (
            400,
            openai_error("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]"),
            ErrorKind.INVALID_REQUEST,
            "[ds] Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
        ),
        (
            401,
            openai_error("Authentication Fails", "authentication_error"),
            ErrorKind.AUTH,
            "[ds] Authentication Fails",
        ),
        (402, openai_error("Insufficient Balance", "unknown_error"), ErrorKind.BILLING, "[ds] Insufficient Balance"),
        (
            429,
            openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
            ErrorKind.BILLING,
            "[ds] You exceeded your current quota",
        ),
        (
            429,
            openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
            ErrorKind.RATE_LIMIT,
            "[ds] Rate limit reached",
        ),
        (503, openai_error("Server Busy", "server_error"), ErrorKind.OVERLOADED, "[ds] Server Busy"),
    ],
)
def test_upstream_openai_errors_are_classified_and_overflows_rewritten(
    status: int, raw: bytes, kind: ErrorKind, message: str
) -> None:
    err = parse_error(status, raw, "ds")
    assert (err.kind, err.message, err.status, err.body, err.body_format) == (kind, message, status, raw, "openai_chat")


def test_an_upstream_error_page_is_described_to_the_client_and_its_text_kept_for_the_operator() -> None:
    err = parse_error(500, b"<html>oops</html>", "ds")
    assert (err.kind, err.message, err.detail, err.body_format) == (
        ErrorKind.SERVER,
        "[ds] the upstream answered HTTP 500 (Internal Server Error)",
        "<html>oops</html>",
        None,  # never relayed as if it were an OpenAI error body
    )


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (503, {"type": "error", "error": {"type": "api_error", "message": "x"}}, ErrorKind.OVERLOADED),
        (500, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, ErrorKind.OVERLOADED),
        (502, {"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}, ErrorKind.BAD_GATEWAY),
        (422, {"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}, ErrorKind.INVALID_REQUEST),
        (None, {"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}, ErrorKind.RATE_LIMIT),
        (None, {"type": "error", "error": {"type": "?", "message": "x"}}, ErrorKind.SERVER),
    ],
)
def test_an_anthropic_error_is_classified_by_its_5xx_status_else_by_its_type(
    status: int | None, body: dict[str, object], kind: ErrorKind
) -> None:
    assert anthropic_errors.error_in_object(body, status) == (kind, "x")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"error": {"message": "x", "type": "server_error"}}, ErrorKind.SERVER),
        ({"error": {"message": "x", "code": 429}}, ErrorKind.RATE_LIMIT),
        ({"error": {"message": "x", "type": "invalid_request_error"}}, ErrorKind.INVALID_REQUEST),
        ({"error": {"message": "x"}}, ErrorKind.SERVER),
        ({"object": "error", "message": "x", "code": 503}, ErrorKind.OVERLOADED),
    ],
)
def test_an_error_object_inside_a_200_is_the_error_it_describes(body: dict[str, object], kind: ErrorKind) -> None:
    assert error_from_payload(body) == (kind, "x")


def test_claude_codes_compaction_regex_matches_the_rewritten_overflow() -> None:
    import re

    claude_code = re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.IGNORECASE)
    found = claude_code.search(overflow_message("maximum context length is 10 tokens. you requested 12 tokens"))
    assert found is not None and found.groups() == ("12", "10")


@pytest.mark.parametrize(
    ("err", "status", "body"),
    [
        (
            GatewayError("prompt is too long: 5 tokens > 4 maximum", kind=ErrorKind.CONTEXT_OVERFLOW),
            400,
            {
                "error": {
                    "message": "prompt is too long: 5 tokens > 4 maximum",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "context_length_exceeded",
                }
            },
        ),
        (
            InvalidRequest("bad"),
            400,
            {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}},
        ),
        (
            GatewayError("busy", kind=ErrorKind.OVERLOADED),
            503,
            {"error": {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"}},
        ),
        (
            GatewayError("no money", kind=ErrorKind.BILLING),
            402,
            {
                "error": {
                    "message": "no money",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": "insufficient_quota",
                }
            },
        ),
    ],
)
def test_gateway_errors_render_in_the_openai_shape(err: GatewayError, status: int, body: dict[str, object]) -> None:
    assert render_error(err, err.message) == (status, body)


def test_an_overflow_from_a_chat_upstream_reaches_an_anthropic_client_as_claude_code_expects() -> None:
    err = parse_error(400, openai_error("x", code="context_length_exceeded"), "deepseek")
    assert FORMATS[WireFormat.ANTHROPIC].codec.render_error(err, err.message, "req_1") == (
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "prompt is too long: 0 tokens > 0 maximum"},
            "request_id": "req_1",
        },
    )


def test_anthropic_upstream_errors_keep_their_type_and_gain_the_channel_prefix() -> None:
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    err = parse_anthropic_error(529, raw, "claude")
    assert (err.kind, err.message, err.body_format) == (ErrorKind.OVERLOADED, "[claude] Overloaded", "anthropic")


def test_the_schema_serves_exactly_the_channel_types_of_the_registered_formats() -> None:
    assert set(CHANNEL_FORMATS) == set(CHANNEL_TYPES)


def test_every_channel_type_speaks_a_registered_format() -> None:
    assert {name: FORMATS[wire].wire.value for name, wire in CHANNEL_FORMATS.items()} == {
        "anthropic": "anthropic",
        "openai": "openai_chat",
        "deepseek": "openai_chat",
        "openrouter": "openai_chat",
        "moonshot": "openai_chat",
        "openai_responses": "openai_responses",
        "gemini": "gemini",
    }
