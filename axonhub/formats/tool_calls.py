"""Tool-call plumbing shared by codecs: id normalisation and arguments.

Ids are rewritten deterministically and statelessly: an id that already fits the target's pattern
is kept, any other becomes `prefix + base62(sha256(id))[:24]`. The same function applied to a
tool call and to its result keeps the pair matched across turns without any server state.

Arguments travel as JSON text in the IR. `stable_json` serialises objects byte-stably (prefix caches
depend on it); `parse_arguments` turns a model's possibly broken JSON text into an object.
`result_text` is a tool result as the providers that take results as text read it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, assert_never

from axonhub import ir
from axonhub.ids import random_id

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_OPENAI_ID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_SURROGATE = re.compile("[\\ud800-\\udfff]")  # a UTF-16 surrogate half, which only a split fragment holds


def base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or "0"


def _hashed(prefix: str, old: str) -> str:
    return prefix + base62(hashlib.sha256(old.encode("utf-8", "surrogatepass")).digest())[:24]


def anthropic_tool_id(old: str) -> str:
    """An id Anthropic accepts (`^[a-zA-Z0-9_-]+$`): kept when it fits, else hashed; new when empty."""
    if not old:
        return random_id("toolu_")
    return old if _ANTHROPIC_ID.match(old) else _hashed("toolu_", old)


def openai_tool_id(old: str) -> str:
    """An id OpenAI accepts (≤ 40 chars, and the Anthropic alphabet so it also round-trips back)."""
    if not old:
        return random_id("call_")
    return old if _OPENAI_ID.match(old) else _hashed("call_", old)


def stable_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def join_surrogates(text: str) -> str:
    """Combine UTF-16 surrogate halves split across fragments; a lone half becomes U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):  # nearly always: no scan in Python
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_arguments(text: str) -> dict[str, Any]:
    """A tool call's arguments as an object: parsed, else repaired, else `{"_raw_arguments": text}`.

    A non-object value is wrapped as `{"value": …}`; an empty text is `{}`.
    """
    text = join_surrogates(text).strip()
    if not text:
        return {}
    for candidate in _repair_candidates(text):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {"value": value}
    return {"_raw_arguments": text}


def stable_arguments(text: str) -> str:
    """The arguments re-serialised stably: what goes upstream and what a client receives."""
    return stable_json(parse_arguments(text))


def _repair_candidates(text: str) -> list[str]:
    text = _unfenced(text)
    candidates = [text]
    scan = _scan(text)
    if scan.balanced_end is not None and scan.balanced_end < len(text):
        candidates.append(text[: scan.balanced_end])
    candidates.append(scan.closed(text))
    return candidates


def _unfenced(text: str) -> str:
    """Without a markdown code fence around it (closed or not)."""
    if not text.startswith("```"):
        return text
    _, _, body = text.partition("\n")
    return body.rstrip().removesuffix("```").strip()


@dataclass(slots=True)
class _Scan:
    """One walk over a JSON text: where its first top-level value ends, and what is left open."""

    balanced_end: int | None = None
    open_brackets: list[str] = field(default_factory=list)
    in_string: bool = False
    escaped: bool = False

    def closed(self, text: str) -> str:
        """The text with its unterminated string and still-open brackets closed (a truncated value)."""
        tail = text[:-1] if self.escaped else text
        if self.in_string:
            tail += '"'
        tail = tail.rstrip().removesuffix(",")
        return tail + "".join(reversed(self.open_brackets))


def _scan(text: str) -> _Scan:
    scan = _Scan()
    depth = 0
    for i, ch in enumerate(text):
        if scan.in_string:
            if scan.escaped:
                scan.escaped = False
            elif ch == "\\":
                scan.escaped = True
            elif ch == '"':
                scan.in_string = False
        elif ch == '"':
            scan.in_string = True
        elif ch in "{[":
            depth += 1
            scan.open_brackets.append("}" if ch == "{" else "]")
        elif ch in "}]":
            depth -= 1
            if scan.open_brackets:
                scan.open_brackets.pop()
            if depth == 0 and scan.balanced_end is None:
                scan.balanced_end = i + 1
    return scan


NO_OUTPUT = "(no output)"


def result_text(result: ir.ToolResult) -> str:
    """A tool result's text and documents as one text (its images travel elsewhere, per provider)."""
    pieces = []
    for part in result.content:
        match part:
            case ir.Text(text=text):
                pieces.append(text)
            case ir.Document():
                pieces.append(document_text(part))
            case ir.Image():
                pass
            case _:
                assert_never(part)
    return "\n".join(pieces) or NO_OUTPUT


def document_text(document: ir.Document) -> str:
    """A document as text: a text document inline in a `<document>` element, any other named only."""
    if document.source is not ir.SourceKind.TEXT:
        return f"[document omitted: {document.title or 'document'}]"
    title = f' title="{document.title}"' if document.title else ""
    return f"<document{title}>\n{document.data}\n</document>"
