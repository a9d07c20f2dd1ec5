"""Gateway-minted message and completion ids in whole-shape assertions.

Every message or completion the gateway renders gets a fresh random id, so a test cannot spell it
out. `minted(value)` checks the shape of each such id in a decoded body (or a list of SSE events)
and puts a fixed marker in its place: `MSG_ID` for `msg_…`, `COMPLETION_ID` for `chatcmpl-…`.
"""

from __future__ import annotations

import re
from typing import Any

MSG_ID = "<minted msg_>"
COMPLETION_ID = "<minted chatcmpl->"
_MINTED = {
    "msg_": (re.compile(r"^msg_[0-9A-Za-z]{24}$"), MSG_ID),
    "chatcmpl-": (re.compile(r"^chatcmpl-[0-9A-Za-z]{24}$"), COMPLETION_ID),
}


def minted(value: Any) -> Any:
    """`value` with every `"id"` the gateway minted replaced by its marker (after checking its shape)."""
    if isinstance(value, dict):
        return {k: _id(v) if k == "id" else minted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(minted(v) for v in value)
    return value


def _id(value: Any) -> Any:
    if isinstance(value, str):
        for prefix, (pattern, marker) in _MINTED.items():
            if value.startswith(prefix):
                assert pattern.match(value), f"not a minted id: {value!r}"
                return marker
    return minted(value)
