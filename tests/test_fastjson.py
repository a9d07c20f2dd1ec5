"""fastjson: the standard library's compact JSON, faster, and what orjson refuses still goes through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from axonhub import fastjson
from axonhub.sse import encode_event

VALUES: list[Any] = [
    {"model": "deepseek-chat", "messages": [{"role": "user", "content": "héllo ✓ 日本"}], "n": 3, "t": 0.5},
    {"ok": True, "none": None, "nested": [[], {}, [1, [2, {"k": "v"}]]], "big": 2**63 - 1},
]
REFUSED_BY_ORJSON: list[Any] = [
    {"text": "half a character: \ud83d"},  # a lone surrogate, as an upstream fragment can carry
    {1: "a key that is not a string"},
    {"count": 2**70},
]


@pytest.mark.parametrize("value", VALUES + REFUSED_BY_ORJSON)
def test_dumps_is_compact_json_that_reads_back_the_same(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert fastjson.dumps_text(value) == expected
    if "\ud83d" not in expected:
        assert fastjson.dumps(value) == expected.encode()


def test_loads_takes_what_the_standard_library_takes() -> None:
    assert fastjson.loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert fastjson.loads('{"a": NaN, "b": "\\ud800"}')["b"] == "\ud800"
    with pytest.raises(ValueError):
        fastjson.loads(b'{"a": ')


def test_an_sse_frame_with_a_lone_surrogate_is_ascii_escaped_and_still_valid() -> None:
    frame = encode_event("content_block_delta", {"text": "\ud83d"})
    assert frame == b'event: content_block_delta\ndata: {"text":"\\ud83d"}\n\n'
    assert encode_event(None, {"text": "é"}) == 'data: {"text":"é"}\n\n'.encode()
