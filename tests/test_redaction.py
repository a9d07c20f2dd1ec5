"""Redaction: what a secret is; no key, token or secret reaches the trace; bodies only per `trace.bodies`,
capped; free text capped."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Any

import pytest

from axonhub import ir
from axonhub.caps import TEXT_LIMIT, cap_redacted, cap_text
from axonhub.config import Config, TraceConfig, hash_secret, load_config
from axonhub.errors import ErrorKind, UpstreamError
from axonhub.exchange import Attempt, Exchange
from axonhub.formats.spec import WireFormat
from axonhub.redact import Redaction, Redactor, is_credential_name, presented_credentials
from axonhub.trace import (
    TraceWriter,
    apply_body_policy,
    capped_body,
    capped_fields,
    redact_body,
    redact_headers,
    serialize,
)
from tests.conftest import base_config, write_config

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


# --- what a secret is ----------------------------------------------------------------------------

CHANNEL_KEY = "zq9Xv7Lw3Pt8Rk2M-opaque"  # looks like nothing in particular: only its exact value betrays it
CUSTOM_AXONHUB_KEY = "team-laptop-credential-000111222333"  # configured by hash, no `ah-` prefix


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "x-api-key",
        "api_key",
        "apiKey",
        "X-Goog-Api-Key",
        "access_token",
        "refreshToken",
        "client_secret",
        "Password",
        "Cookie",
        "Set-Cookie",
        "X-Upstream-Token",
    ],
)
def test_credential_names_are_recognised_by_their_words(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "input_tokens",
        "output_tokens",
        "max_tokens",
        "budget_tokens",
        "key",
        "key_name",
        "keys",
        "primary_key",
        "tokenizer",
        "secretary",
        "monkey",
        "request_id",
        "session-id",
    ],
)
def test_counts_and_names_are_not_credentials(name: str) -> None:
    assert not is_credential_name(name)


def config_with_secrets(tmp_path: Path, channel_key: str = CHANNEL_KEY) -> Config:
    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    data["keys"].append({"name": "laptop", "secret_hash": hash_secret(CUSTOM_AXONHUB_KEY)})
    data["channels"][0]["headers"] = {"X-Proxy-Authorization": "Basic cHJveHktdXNlcjpwcm94eS1wYXNz"}
    return load_config(write_config(tmp_path / "axonhub.yml", data), env={"FAKE_ANTHROPIC_KEY": channel_key})


def test_exact_channel_secrets_and_configured_keys_are_hidden_whatever_they_look_like(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.follow(config_with_secrets(tmp_path))
    text = (
        f"401: invalid key {CHANNEL_KEY}; proxy said cHJveHktdXNlcjpwcm94eS1wYXNz; "
        f"json {json.dumps({'k': CHANNEL_KEY})}; client sent {CUSTOM_AXONHUB_KEY}. and {SK}"
    )
    assert redactor.text(text) == (
        "401: invalid key [redacted]; proxy said [redacted]; "
        'json {"k": "[redacted]"}; client sent [redacted]. and [redacted]'
    )
    assert redactor.data(f"key={CHANNEL_KEY}\xff".encode("latin-1")) == b"key=[redacted]\xff"


def test_short_values_are_not_hidden_by_value(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.follow(config_with_secrets(tmp_path, channel_key="local"))
    assert redactor.text("a local model") == "a local model"


def test_secrets_follow_reloads_and_a_rotated_key_stays_hidden(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.follow(config_with_secrets(tmp_path))
    redactor.follow(config_with_secrets(tmp_path, channel_key="rotated-channel-key-987654"))
    assert redactor.text(f"{CHANNEL_KEY} rotated-channel-key-987654") == "[redacted] [redacted]"


def test_the_key_a_request_presented_is_hidden_only_in_that_request_context() -> None:
    redactor = Redactor()
    presented = "whatever-the-client-sent-42"
    outside: list[str] = []

    def elsewhere() -> None:
        outside.append(redactor.text(presented))

    token = redactor.bind_request(presented_credentials({"Authorization": f"Token {presented}"}))
    try:
        assert redactor.text(f"echo: {presented}") == "echo: [redacted]"
        contextvars.Context().run(elsewhere)  # another request's context knows nothing of it
    finally:
        redactor.release(token)
    assert outside == [presented]
    assert redactor.text(presented) == presented


def test_text_seen_before_a_reload_is_redacted_once_the_reload_names_its_secret(tmp_path: Path) -> None:
    """Redacted forms are remembered per set of secrets: a reload that adds a secret starts afresh."""
    redactor = Redactor()
    redactor.follow(config_with_secrets(tmp_path))
    text = "upstream said: rotated-channel-key-987654 is not valid"
    assert redactor.text(text) == text
    assert redactor.text(text) == text  # the second time from the memo
    redactor.follow(config_with_secrets(tmp_path, channel_key="rotated-channel-key-987654"))
    assert redactor.text(text) == "upstream said: [redacted] is not valid"


def test_a_presented_key_is_hidden_in_every_request_that_presents_it_and_in_no_other() -> None:
    """The redaction made for a set of presented credentials is shared by the requests presenting it."""
    redactor = Redactor()
    presented = "whatever-the-client-sent-42"
    seen: list[str] = []

    def request(headers: dict[str, str]) -> None:
        token = redactor.bind_request(presented_credentials(headers))
        try:
            seen.append(redactor.text(f"echo: {presented}"))
        finally:
            redactor.release(token)

    for headers in ({"x-api-key": presented}, {"x-api-key": "another-key-of-someone-else"}, {"x-api-key": presented}):
        contextvars.Context().run(request, headers)
    assert seen == ["echo: [redacted]", f"echo: {presented}", "echo: [redacted]"]


def test_a_secret_hidden_later_is_hidden_also_in_requests_presenting_a_key_seen_before() -> None:
    redactor = Redactor()
    presented = "whatever-the-client-sent-42"
    token = redactor.bind_request((presented,))
    try:
        assert redactor.text("admin-token-0123456789") == "admin-token-0123456789"
        redactor.hide(["admin-token-0123456789"])
        assert redactor.text("admin-token-0123456789 and " + presented) == "[redacted] and [redacted]"
    finally:
        redactor.release(token)


def test_a_cut_marks_how_much_was_cut_and_never_splits_a_secret_left_readable() -> None:
    assert cap_text("x" * 10, 4) == "xxxx…[+6 chars]"
    assert cap_text("short", 10) == "short"
    secret_at_the_edge = "y" * (2 * TEXT_LIMIT + 1024 - 10) + CHANNEL_KEY + "z" * 100_000
    capped = cap_redacted(secret_at_the_edge, Redaction.of([CHANNEL_KEY]).text)
    assert capped.startswith("y" * TEXT_LIMIT + "…[+") and CHANNEL_KEY[:6] not in capped
    assert len(capped) < TEXT_LIMIT + 30


def test_a_trace_line_caps_every_free_text_field(tmp_path: Path) -> None:
    huge = "m" * 300_000
    record = {
        "v": 1,
        "requested_model": huge,
        "user_agent": huge,
        "path": "/" + huge,
        "attempts": [{"channel": "c", "error": huge}],
        "error": {"type": "invalid_request", "message": f"no channel serves {huge}"},
    }
    line = serialize(capped_fields(record, Redaction.of([CHANNEL_KEY])))
    assert len(line) < 6 * (TEXT_LIMIT + 40)
    parsed = json.loads(line)
    assert parsed["requested_model"] == "m" * TEXT_LIMIT + f"…[+{300_000 - TEXT_LIMIT} chars]"
    assert parsed["error"]["message"].endswith(f"…[+{300_000 + 18 - TEXT_LIMIT} chars]")


async def test_a_trace_line_has_its_whole_shape_and_no_secret_wherever_a_client_or_upstream_put_one(
    tmp_path: Path,
) -> None:
    """The record as the trace writer writes it: every free-text field redacted (the channel's key, the
    request's own key), the fields the gateway fills from closed sets and numbers as they are."""
    presented = "client-presented-credential-0001"
    redactor = Redactor([CHANNEL_KEY])
    config = config_with_secrets(tmp_path)
    exchange = Exchange(
        request_id=f"req-{presented}",
        config=config,
        method="POST",
        path=f"/v1/messages/{CHANNEL_KEY}",
        client_format=WireFormat.ANTHROPIC,
        user_agent=f"agent/1.0 {presented}",
    )
    exchange.kind = "messages"
    exchange.trace_id, exchange.trace_source = f"session-{CHANNEL_KEY}", "x_trace_id"
    exchange.requested_model = exchange.resolved_model = f"claude-{CHANNEL_KEY}"
    exchange.profile, exchange.rule, exchange.rule_condition = "p", 1, f"model is {presented}"
    exchange.channel, exchange.upstream_model, exchange.upstream_id = "c", f"m-{SK}", f"chatcmpl-{CHANNEL_KEY}"
    exchange.attempts.append(Attempt("c", f"m-{SK}", 502, 12.3456, f"refused {CHANNEL_KEY}", 0.25, 0.125))
    exchange.status, exchange.stream, exchange.stop_reason = 502, True, f"stop {CHANNEL_KEY}"
    exchange.usage = ir.Usage(input_uncached=10, cache_read=3, cache_write=2, output=7, reasoning_output=1)
    exchange.notes.append(f"tools: {CHANNEL_KEY} left out")
    exchange.fail(UpstreamError(f"upstream said {CHANNEL_KEY}", kind=ErrorKind.OVERLOADED, detail=f"body: {presented}"))
    record = exchange.record()
    writer = TraceWriter(TraceConfig(path=tmp_path / "trace.jsonl"), redactor)
    await writer.start()
    bound = redactor.bind_request((presented,))
    try:
        writer.write(record)
    finally:
        redactor.release(bound)
    await writer.close()
    (line,) = (tmp_path / "trace.jsonl").read_text().splitlines()
    assert json.loads(line) == {
        "v": 2,
        "time": record["time"],
        "request_id": "req-[redacted]",
        "trace_id": "session-[redacted]",
        "trace_source": "x_trace_id",
        "kind": "messages",
        "key": None,
        "project": None,
        "client_format": "anthropic",
        "method": "POST",
        "path": "/v1/messages/[redacted]",
        "user_agent": "agent/1.0 [redacted]",
        "requested_model": "claude-[redacted]",
        "profile": "p",
        "rule": 1,
        "rule_condition": "model is [redacted]",
        "resolved_model": "claude-[redacted]",
        "channel": "c",
        "upstream_model": "m-[redacted]",
        "upstream_id": "chatcmpl-[redacted]",
        "attempts": [
            {
                "channel": "c",
                "upstream_model": "m-[redacted]",
                "status": 502,
                "latency_ms": 12.35,
                "started_ms": 0.25,
                "queued_ms": 0.12,
                "error": "refused [redacted]",
            }
        ],
        "stream": True,
        "status": 502,
        "stop_reason": "stop [redacted]",
        "usage": {"input": 10, "output": 7, "cache_read": 3, "cache_write": 2, "reasoning": 1},
        "timings": record["timings"],
        "error": {"type": "overloaded", "message": "upstream said [redacted]", "detail": "body: [redacted]"},
        "limit": None,
        "notes": ["tools: [redacted] left out"],
    }
    assert record["timings"]["ttfb_ms"] is None and isinstance(record["timings"]["total_ms"], float)
