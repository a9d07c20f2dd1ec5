"""Gateway-minted message and completion ids in whole-shape assertions.

Every message or completion the gateway renders gets a fresh random id, so a test cannot spell it
out. `minted(value)` checks the shape of each such id in a decoded body (or a list of SSE events)
and puts a fixed marker in its place: `MSG_ID` for `msg_…`, `COMPLETION_ID` for `chatcmpl-…`, and
for the Responses API `RESP_ID`, `RS_ID`, `FC_ID`, `CTC_ID` (`resp_`, `rs_`, `fc_`, `ctc_`).
"""

from __future__ import annotations

import re
from typing import Any

MSG_ID = "<minted msg_>"
COMPLETION_ID = "<minted chatcmpl->"
RESP_ID = "<minted resp_>"
RS_ID = "<minted rs_>"
FC_ID = "<minted fc_>"
CTC_ID = "<minted ctc_>"
_MINTED = {
    prefix: (re.compile(rf"^{prefix}[0-9A-Za-z]{{24}}$"), marker)
    for prefix, marker in (
        ("msg_", MSG_ID),
        ("chatcmpl-", COMPLETION_ID),
        ("resp_", RESP_ID),
        ("rs_", RS_ID),
        ("fc_", FC_ID),
        ("ctc_", CTC_ID),
    )
}


def minted(value: Any) -> Any:
    """`value` with every `"id"` the gateway minted replaced by its marker (after checking its shape)."""
    if isinstance(value, dict):
        return {k: _id(v) if k in ("id", "item_id") else minted(v) for k, v in value.items()}
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
