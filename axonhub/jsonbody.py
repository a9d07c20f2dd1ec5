"""A client's JSON body, read strictly: what `json.loads` lets through but would break later is a 400.

`json.loads` takes more than JSON: `NaN` and `Infinity`, numbers too large for a float (read as
infinity), lone UTF-16 surrogates (`"\\ud800"`, which no UTF-8 encoder takes), an object naming a
key twice (the last one wins, but the fast path forwards the raw bytes, where an upstream may read
the other one), and nesting as deep as the interpreter's stack (a later serialiser then fails on
it). Each of those would crash a serialiser or desynchronise what the gateway routes on from what
the upstream reads, so the body is refused at the door, with the field named.

A normal request pays for one decode with a duplicate-key hook (the decoder is built once) and one
walk over its objects and lists for the depth; the surrogate check runs only when the text holds an
escaped surrogate, and everything that builds a message with a path (parsing again, keeping what
the first pass refused at once) runs only once something is wrong.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from axonhub.errors import InvalidRequest

MAX_DEPTH = 100  # objects and lists inside each other: far deeper than any real request nests
_PATH_STEPS = 5  # how much of a too-deep path a message names
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # a lone one, or half of a pair: only a hint
_CONTAINERS = (dict, list)


class _DuplicateKey(Exception):
    """Raised from the object hook; never leaves this module."""


class _NonFinite(Exception):
    """Raised from the number hooks; never leaves this module."""


class _Pairs(list[tuple[str, Any]]):
    """An object as its key/value pairs, duplicates kept: only to find where a duplicate is."""


def loads_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`, or InvalidRequest saying what is wrong and where."""
    try:
        text = raw.decode("utf-8-sig")  # strict: also refuses surrogates encoded as UTF-8 bytes
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"request body is not valid UTF-8: {exc}") from None
    try:
        body = _DECODER.decode(text)
    except _NonFinite:
        raise InvalidRequest(_non_finite_message(text)) from None
    except _DuplicateKey:
        raise InvalidRequest(_duplicate_message(text)) from None
    except RecursionError:
        raise InvalidRequest(f"request body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's guard against quadratic int parsing
            raise InvalidRequest(
                f"request body holds a number of more than {sys.get_int_max_str_digits()} digits"
            ) from None
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, not {type(body).__name__}")
    if _depth_exceeds(body, MAX_DEPTH):
        path = next(_deep_paths(body, (), MAX_DEPTH))
        raise InvalidRequest(f"{dotted(path[:_PATH_STEPS])}: nested more than {MAX_DEPTH} levels deep")
    if "\\" in text and _ESCAPED_SURROGATE.search(text) and _has_surrogate(body):
        path, char = next(_surrogate_paths(body, ()))
        raise InvalidRequest(
            f"{dotted(path)}: contains the lone surrogate \\u{ord(char):04x}, which is not valid Unicode"
        )
    return body


def dotted(path: tuple[str | int, ...]) -> str:
    """`messages.0.content`; a key that is no valid Unicode is shown escaped."""
    steps = (str(step).encode("utf-8", "backslashreplace").decode() for step in path)
    return ".".join(steps) or "request body"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _refuse_constant(name: str) -> float:
    raise _NonFinite


def _finite_float(number: str) -> float:
    value = float(number)
    if math.isinf(value):
        raise _NonFinite
    return value


# Built once: `json.loads` with hooks builds a decoder (and its scanner) on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_refuse_constant, parse_float=_finite_float)


def _non_finite_message(text: str) -> str:
    """Where the first NaN, Infinity or overflowing number is: the text is parsed again, keeping them
    (the hook fired before the parser saw the rest, which may hold other faults first in order)."""
    literals: list[str] = []

    def keep(number: str) -> float:
        value = float(number)
        if math.isinf(value) or math.isnan(value):
            literals.append(number)
        return value

    try:
        tree = json.loads(text, object_pairs_hook=_object, parse_constant=keep, parse_float=keep)
    except _DuplicateKey:
        return _duplicate_message(text)
    except RecursionError:
        return f"request body is nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:
        return f"request body is not valid JSON: {exc}"
    if not isinstance(tree, dict):
        return f"request body must be a JSON object, not {type(tree).__name__}"
    if _depth_exceeds(tree, MAX_DEPTH):  # reported first, as for a body without such numbers
        deep = next(_deep_paths(tree, (), MAX_DEPTH))
        return f"{dotted(deep[:_PATH_STEPS])}: nested more than {MAX_DEPTH} levels deep"
    path = next(_non_finite_paths(tree, ()))
    return f"{dotted(path)}: must be a finite number, not {literals[0]}"


def _duplicate_message(text: str) -> str:
    """Where the first duplicated key is: the text is parsed again, keeping every pair (the hook
    fired before the parser saw the rest, which may not be JSON at all)."""
    try:
        tree = json.loads(text, object_pairs_hook=_Pairs)
    except RecursionError:
        return f"request body is nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:
        return f"request body is not valid JSON: {exc}"
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(tree, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for key, _ in value:
                if key in seen:
                    return f"{dotted((*path, key))}: duplicate key (a JSON object may name a field only once)"
                seen.add(key)
            stack.extend((item, (*path, key)) for key, item in reversed(value))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(value))))
    raise AssertionError("the object hook saw a duplicate key that is not there")  # pragma: no cover


def _depth_exceeds(body: Any, limit: int) -> bool:
    """Level by level, without recursion: is any object or list nested deeper than `limit`?"""
    level: list[Any] = [body]
    for _ in range(limit):
        level = [item for value in level for item in _items(value) if type(item) in _CONTAINERS]
        if not level:
            return False
    return True


def _items(value: Any) -> Iterable[Any]:
    return value.values() if type(value) is dict else value  # type: ignore[no-any-return]


def _children(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[Any, tuple[str | int, ...]]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield item, (*path, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield item, (*path, index)


def _deep_paths(body: Any, path: tuple[str | int, ...], limit: int) -> Iterator[tuple[str | int, ...]]:
    """Paths of containers nested deeper than `limit`, depth first (only called once one exists)."""
    stack = [(body, path, 1)]
    while stack:
        value, at, depth = stack.pop()
        if depth > limit:
            yield at
            continue
        stack += [(item, where, depth + 1) for item, where in _children(value, at) if isinstance(item, dict | list)]


def _non_finite_paths(body: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Paths of NaN and infinite numbers, in document order."""
    stack = [(body, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield at
        stack += reversed(list(_children(value, at)))


def _has_surrogate(body: Any) -> bool:
    """Does any key or string hold a lone surrogate? ASCII text (most of it) is skipped in O(1)."""
    stack: list[Any] = [body]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            if any(not key.isascii() and _SURROGATE.search(key) for key in value):
                return True
            stack += value.values()
        elif type(value) is list:
            stack += value
        elif type(value) is str and not value.isascii() and _SURROGATE.search(value):
            return True
    return False


def _surrogate_paths(body: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, the surrogate) of every key or string holding a lone surrogate, in document order."""
    stack = [(body, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            for key in value:
                found = _SURROGATE.search(key)
                if found:
                    yield (*at, key), found.group()
        elif isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                yield at, found.group()
        stack += reversed(list(_children(value, at)))


def json_type(value: Any) -> str:
    """What a value is, in JSON's words: `null`, `a number`, `an object`, …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "an object"


def with_model(raw: bytes, body: dict[str, Any], model: str) -> bytes:
    """`raw` with its top-level `model` replaced, every other byte kept.

    The client's `"model": "<old>"` is spliced when it occurs exactly once in the body (then it is the
    top-level one); otherwise the body is re-serialised, which keeps every value but not the spacing.
    """
    old = body.get("model")
    if old == model:
        return raw
    pattern = re.compile(rb'"model"\s*:\s*' + re.escape(json.dumps(old, ensure_ascii=False).encode()))
    found = pattern.search(raw)
    if found is not None and pattern.search(raw, found.end()) is None:
        new = b'"model":' + json.dumps(model, ensure_ascii=False).encode()
        return raw[: found.start()] + new + raw[found.end() :]
    return json.dumps({**body, "model": model}, ensure_ascii=False, separators=(",", ":")).encode()


def objects_under(node: Any, budget: int = 200_000) -> Iterator[Mapping[str, Any]]:
    """Every JSON object under `node`, depth first, at most `budget` containers looked at (so a
    pathological body cannot make a scan unbounded)."""
    stack = [node]
    while stack and budget > 0:
        current = stack.pop()
        budget -= 1
        if isinstance(current, Mapping):
            yield current
            stack.extend(v for v in current.values() if isinstance(v, Mapping | list))
        elif isinstance(current, list):
            stack.extend(v for v in current if isinstance(v, Mapping | list))


def has_object_of_type(node: Any, types: frozenset[str]) -> bool:
    """Whether an object with one of `types` as its `type` lies anywhere under `node`."""
    return any(obj.get("type") in types for obj in objects_under(node))
