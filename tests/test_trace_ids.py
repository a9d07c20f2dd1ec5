"""Trace ids: one per Claude Code (or Codex) session with the flag on, one per request without it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict

from axonhub.trace import session_from_user_id, trace_id_for

SESSION = "0b5c4f6e-3a2d-4e1f-9c8b-7a6d5e4f3c2b"
OTHER = "11111111-2222-4333-8444-555555555555"
CODEX = "01a20c36-7b8e-7c3d-9a4f-0123456789ab"
USER_ID_JSON = json.dumps({"device_id": "ab" * 32, "account_uuid": "", "session_id": SESSION})
USER_ID_LEGACY = f"user_{'cd' * 32}_account__session_{SESSION}"


def body_with(user_id: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "metadata": {"user_id": user_id}, "messages": []}


CASES = [
    # (headers, body, flag) -> (trace id, source)
    ({"X-Claude-Code-Session-Id": SESSION}, None, True, (SESSION, "claude_code_header")),
    ({"x-claude-code-session-id": SESSION}, None, True, (SESSION, "claude_code_header")),
    (
        {"X-Claude-Code-Session-Id": SESSION},
        body_with(json.dumps({"session_id": OTHER})),
        True,
        (SESSION, "claude_code_header"),
    ),
    ({}, body_with(USER_ID_JSON), True, (SESSION, "claude_code_metadata")),
    ({}, body_with(USER_ID_LEGACY), True, (SESSION, "claude_code_metadata")),
    ({}, body_with(f"user_{'cd' * 32}_account_{OTHER}_session_{SESSION}"), True, (SESSION, "claude_code_metadata")),
    ({"session-id": CODEX}, {"model": "gpt-5-codex"}, True, (CODEX, "codex_session")),
    ({"session_id": CODEX}, None, True, (CODEX, "codex_session")),
    ({"session-id": CODEX, "X-Trace-Id": "mine"}, None, True, (CODEX, "codex_session")),
    ({"thread-id": CODEX}, None, True, (CODEX, "codex_session")),
    (
        {"x-codex-turn-metadata": json.dumps({"session_id": CODEX, "turn_id": "t1"})},
        None,
        True,
        (CODEX, "codex_session"),
    ),
    ({"x-codex-turn-metadata": "{cut"}, None, True, ("req_1", "request")),
    ({"X-Trace-Id": "my-trace.1"}, None, True, ("my-trace.1", "x_trace_id")),
    ({}, {"model": "m"}, True, ("req_1", "request")),
    # flag off: only an explicit X-Trace-Id groups requests
    ({"X-Claude-Code-Session-Id": SESSION}, body_with(USER_ID_JSON), False, ("req_1", "request")),
    ({"session-id": CODEX}, None, False, ("req_1", "request")),
    ({"X-Claude-Code-Session-Id": SESSION, "X-Trace-Id": "mine"}, None, False, ("mine", "x_trace_id")),
    # malformed values fall through to the next rule
    ({"X-Claude-Code-Session-Id": ""}, body_with(USER_ID_JSON), True, (SESSION, "claude_code_metadata")),
    ({"X-Claude-Code-Session-Id": "has spaces in it"}, None, True, ("req_1", "request")),
    ({"X-Trace-Id": "x" * 200}, None, True, ("req_1", "request")),
    ({}, body_with("{not json"), True, ("req_1", "request")),
    ({}, body_with(json.dumps({"session_id": 42})), True, ("req_1", "request")),
    ({}, body_with(12345), True, ("req_1", "request")),
    ({}, {"metadata": "not an object"}, True, ("req_1", "request")),
]


@pytest.mark.parametrize(("headers", "body", "flag", "expected"), CASES)
def test_the_trace_id_follows_the_documented_order(
    headers: dict[str, str], body: dict[str, Any] | None, flag: bool, expected: tuple[str, str]
) -> None:
    assert trace_id_for(headers, body, claude_code_enabled=flag, request_id="req_1") == expected


def test_aiohttp_style_case_insensitive_headers_work_too() -> None:
    headers = CIMultiDict({"X-CLAUDE-CODE-SESSION-ID": SESSION})
    assert trace_id_for(headers, None, claude_code_enabled=True, request_id="r") == (SESSION, "claude_code_header")


@pytest.mark.parametrize(
    ("user_id", "session"),
    [
        (USER_ID_JSON, SESSION),
        (USER_ID_LEGACY, SESSION),
        (json.dumps({"device_id": "d", "account_uuid": "a"}), None),
        ("user_abc", None),
        (None, None),
        ("[1, 2]", None),
    ],
)
def test_the_session_is_read_from_both_forms_of_metadata_user_id(user_id: object, session: str | None) -> None:
    assert session_from_user_id(user_id) == session
