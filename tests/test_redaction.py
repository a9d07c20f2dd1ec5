"""Redaction: no key, token or secret reaches the trace; bodies only per `trace.bodies`, capped."""

from __future__ import annotations

import json
from typing import Any

from axonhub.config import TraceConfig
from axonhub.trace import apply_body_policy, capped_body, redact_body, redact_headers, serialize

AH = "ah-live-0123456789abcdefghijklmnopqrstuv"
SK = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
SK_ANT = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
OPAQUE = "opaque-credential-without-a-known-prefix-42"
SECRETS = (AH, SK, SK_ANT, OPAQUE)


def test_secret_headers_are_replaced_and_the_rest_kept() -> None:
    headers = {
        "Authorization": f"Bearer {AH}",
        "x-api-key": SK_ANT,
        "api-key": OPAQUE,
        "x-goog-api-key": OPAQUE,
        "Cookie": f"session={OPAQUE}",
        "Proxy-Authorization": f"Basic {OPAQUE}",
        "X-Upstream-Token": OPAQUE,
        "X-Client-Secret": OPAQUE,
        "X-Password": OPAQUE,
        "X-Note": f"please use {SK} and Bearer {OPAQUE}",
        "anthropic-version": "2023-06-01",
        "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)",
    }
    assert redact_headers(headers) == {
        "Authorization": "[redacted]",
        "x-api-key": "[redacted]",
        "api-key": "[redacted]",
        "x-goog-api-key": "[redacted]",
        "Cookie": "[redacted]",
        "Proxy-Authorization": "[redacted]",
        "X-Upstream-Token": "[redacted]",
        "X-Client-Secret": "[redacted]",
        "X-Password": "[redacted]",
        "X-Note": "please use [redacted] and [redacted]",
        "anthropic-version": "2023-06-01",
        "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)",
    }


def test_body_keys_named_like_secrets_are_replaced_and_key_looking_strings_masked() -> None:
    body = {
        "model": "claude-sonnet-5",
        "max_tokens": 1024,
        "api_key": OPAQUE,
        "metadata": {"user_id": "u", "access_token": OPAQUE, "Password": OPAQUE, "secret_ref": ["a", "b"]},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"my key is {SK_ANT}, and {AH}."}]},
            {"role": "user", "content": f"export OPENAI_API_KEY={SK}"},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": True,
        "authorization": None,
    }
    assert redact_body(body) == {
        "model": "claude-sonnet-5",
        "max_tokens": 1024,
        "api_key": "[redacted]",
        "metadata": {
            "user_id": "u",
            "access_token": "[redacted]",
            "Password": "[redacted]",
            "secret_ref": "[redacted]",
        },
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "my key is [redacted], and [redacted]."}]},
            {"role": "user", "content": "export OPENAI_API_KEY=[redacted]"},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": True,
        "authorization": None,
    }


def record(status: int = 200, error: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "v": 1,
        "request_id": "req_1",
        "status": status,
        "error": error,
        "request_body": {"model": "m", "api_key": OPAQUE},
        "response_body": {"content": [{"type": "text", "text": f"here: {SK}"}]},
    }


def test_bodies_none_drops_both_bodies() -> None:
    assert apply_body_policy(record(), TraceConfig(bodies="none")) == {
        "v": 1,
        "request_id": "req_1",
        "status": 200,
        "error": None,
    }


def test_bodies_errors_keeps_them_only_for_failed_exchanges() -> None:
    config = TraceConfig(bodies="errors")
    assert "request_body" not in apply_body_policy(record(200), config)
    failed = apply_body_policy(record(400, {"type": "invalid_request_error", "message": "bad"}), config)
    assert failed["request_body"] == {"model": "m", "api_key": "[redacted]"}
    assert failed["response_body"] == {"content": [{"type": "text", "text": "here: [redacted]"}]}


def test_bodies_all_keeps_them_redacted() -> None:
    kept = apply_body_policy(record(), TraceConfig(bodies="all"))
    assert (kept["request_body"], kept["response_body"]) == (
        {"model": "m", "api_key": "[redacted]"},
        {"content": [{"type": "text", "text": "here: [redacted]"}]},
    )


def test_a_body_over_the_cap_becomes_a_truncated_marker_with_its_head() -> None:
    body = {"text": "é" * 100}
    full = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    assert capped_body(body, 10_000) == body
    assert capped_body(body, 20) == {
        "truncated": True,
        "bytes": len(full.encode()),
        "head": full.encode()[:20].decode(errors="ignore"),
    }
    assert capped_body(body, 0) == {"truncated": True, "bytes": len(full.encode()), "head": ""}


def test_the_serialised_line_masks_key_looking_values_in_any_field() -> None:
    line = serialize({"v": 1, "error": {"type": "api_error", "message": f"upstream said: bad key {SK_ANT}"}})
    assert line == b'{"v":1,"error":{"type":"api_error","message":"upstream said: bad key [redacted]"}}\n'


def test_no_secret_survives_in_any_place() -> None:
    rec = record(500, {"type": "api_error", "message": f"Bearer {OPAQUE}"})
    rec["request_body"] = {
        "x-api-key": OPAQUE,
        "nested": [{"token": OPAQUE}, {"text": f"{AH} {SK} {SK_ANT}"}],
        "headers": {"authorization": f"Bearer {OPAQUE}"},
    }
    line = serialize(apply_body_policy(rec, TraceConfig(bodies="all"))).decode()
    assert [s for s in SECRETS if s in line] == []
    assert json.loads(line)["request_body"] == {
        "x-api-key": "[redacted]",
        "nested": [{"token": "[redacted]"}, {"text": "[redacted] [redacted] [redacted]"}],
        "headers": {"authorization": "[redacted]"},
    }
