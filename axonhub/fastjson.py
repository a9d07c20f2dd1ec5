"""JSON on the request path through orjson, with the standard library's answer where orjson has none.

Serialising an 80 KB Claude Code request for an upstream takes orjson about a twentieth of what
`json.dumps(..., ensure_ascii=False)` takes, and a trace record about a tenth; parsing is two to four
times faster. The output is the same compact JSON, UTF-8 encoded. Where orjson refuses a value the
standard library takes (a lone UTF-16 surrogate, a key that is not a string, an integer beyond 64
bits, `NaN` in a text to parse) the standard library does the work, so nothing that used to pass
fails now. Two differences remain, both for values no wire format carries: a float `NaN` or infinity
is written as `null` (valid JSON, where the standard library writes `NaN`), and a parsed integer
beyond 64 bits becomes a float.

Client request bodies are not parsed here: `axonhub.jsonbody` needs the standard library's hooks to
refuse duplicate keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON: `json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()`."""
    try:
        return orjson.dumps(value, default=default)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default).encode()


def dumps_text(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """`dumps` as text: a lone surrogate, which UTF-8 cannot carry, stays in the text as it is."""
    try:
        return orjson.dumps(value, default=default).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)


def dumps_ascii(value: Any) -> bytes:
    """Compact JSON for an SSE frame; a value with a lone surrogate is ASCII-escaped instead, so an
    upstream fragment that split a character cannot break the frame."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """`json.loads(data)`, faster."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
