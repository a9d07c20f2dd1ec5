"""Tool ids normalised both ways, tool arguments repaired, and the gateway's reasoning carrier."""

from __future__ import annotations

import re
from typing import Any

import pytest

from axonhub.formats.carrier import make_carrier, parse_carrier
from axonhub.formats.tool_calls import (
    anthropic_tool_id,
    join_surrogates,
    openai_tool_id,
    parse_arguments,
    stable_arguments,
)

LONG = "toolu_vrtx_01XyZabcdefghijklmnopqrstuvwxyz0123456789"


def test_ids_that_fit_are_kept_and_others_are_hashed_deterministically() -> None:
    assert openai_tool_id("toolu_01A") == "toolu_01A"
    assert anthropic_tool_id("call_00_abc") == "call_00_abc"
    rewritten = openai_tool_id(LONG)
    assert rewritten == openai_tool_id(LONG) != openai_tool_id(LONG + "x")
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", rewritten)
    odd = anthropic_tool_id("functions.get_weather:0")
    assert odd == anthropic_tool_id("functions.get_weather:0") and re.fullmatch(r"toolu_[A-Za-z0-9]{24}", odd)
    # a rewritten id fits the other side too, so it survives the next turn unchanged
    assert anthropic_tool_id(rewritten) == rewritten and openai_tool_id(odd) == odd


def test_missing_ids_get_fresh_ones() -> None:
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", anthropic_tool_id(""))
    assert openai_tool_id("") != openai_tool_id("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ("   ", {}),
        ("null", {"value": None}),
        ("[1, 2]", {"value": [1, 2]}),
        ('```json\n{"a": "b"}\n```', {"a": "b"}),
        ('{"a": 1}}garbage', {"a": 1}),
        ('{"path": "/tmp/x", "lines": [1, 2', {"path": "/tmp/x", "lines": [1, 2]}),
        ('{"s": "unterminated', {"s": "unterminated"}),
        ('{"s": "ends in escape\\', {"s": "ends in escape"}),
        ('{"a": 1,', {"a": 1}),
        ("not json at all", {"_raw_arguments": "not json at all"}),
    ],
)
def test_arguments_are_parsed_repaired_or_kept_raw(text: str, expected: dict[str, Any]) -> None:
    assert parse_arguments(text) == expected


def test_stable_arguments_are_compact_and_keep_key_order_and_unicode() -> None:
    assert stable_arguments('{ "b" : 1 , "a" : "é" }') == '{"b":1,"a":"é"}'


def test_split_surrogate_halves_are_joined_and_lone_ones_replaced() -> None:
    assert join_surrogates("a\ud83d\ude00b") == "a😀b"
    assert join_surrogates("a\ud83d") == "a\ufffd"


def test_a_carrier_round_trips_and_real_signatures_are_not_carriers() -> None:
    signature = make_carrier("chat", "deepseek-reasoner", text=None, rid="r1")
    assert signature.startswith("gw1.") and "=" not in signature
    found = parse_carrier(signature)
    assert found is not None and (found.provider, found.model, dict(found.fields)) == (
        "chat",
        "deepseek-reasoner",
        {"rid": "r1"},
    )
    assert parse_carrier("EqQBCkgIARABGAIiQLr3/abc+def==") is None
    assert parse_carrier("gw1.not-base64-json!") is None
    assert parse_carrier(None) is None
