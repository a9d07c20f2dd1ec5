"""The fast path's model splice: every byte but the model name stays as the client sent it."""

from __future__ import annotations

import json

from axonhub.jsonbody import with_model


def test_the_model_is_spliced_and_every_other_byte_kept() -> None:
    raw = b'{ "model" : "claude-sonnet-4-5",\n "max_tokens": 5, "x": 1.50, "s": "\\u00e9"}'
    out = with_model(raw, json.loads(raw), "deepseek-chat")
    assert out == b'{ "model":"deepseek-chat",\n "max_tokens": 5, "x": 1.50, "s": "\\u00e9"}'


def test_an_unchanged_model_sends_the_very_same_bytes() -> None:
    raw = b'{"model":"m","max_tokens":5}'
    assert with_model(raw, json.loads(raw), "m") is raw


def test_a_second_model_field_deeper_in_the_body_forces_a_reserialisation() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "model": "m"}]}]}
    raw = json.dumps(body).encode()
    out = json.loads(with_model(raw, body, "n"))
    assert out == {**body, "model": "n"}
    assert out["messages"][0]["content"][0]["model"] == "m"
