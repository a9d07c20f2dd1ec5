"""Length caps for the free text the gateway writes to its logs and trace records.

A client controls much of what is logged (the model name, the user agent, the path, the text of an
upstream error it provoked), so every free-text field is cut at `TEXT_LIMIT` characters, with the
cut marked: `…[+N chars]`. Tracebacks get a larger `TRACEBACK_LIMIT`. Request and response bodies
kept in the trace have their own byte cap (`trace.max_body_bytes`).

Cut only text that is already redacted: a cut through a secret would leave its first half readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

TEXT_LIMIT: Final = 2048
TRACEBACK_LIMIT: Final = 16384


def cap_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text`, or its first `limit` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def cap_redacted(text: str, redact: Callable[[str], str], limit: int = TEXT_LIMIT) -> str:
    """`redact(text)` capped at `limit`; a huge text is redacted only as far as it will be shown.

    The head is cut well past `limit` before redacting, so that a secret split by that first cut
    lies beyond what is finally kept.
    """
    if len(text) <= limit:
        done = redact(text)
        return done if len(done) <= limit else cap_text(done, limit)
    room = 2 * limit + 1024
    if len(text) <= room:
        return cap_text(redact(text), limit)
    head = redact(text[:room])
    if len(head) <= limit:
        return f"{head}…[+{len(text) - room} chars]"
    return f"{head[:limit]}…[+{len(head) - limit + len(text) - room} chars]"


def cap_value(value: Any, limit: int = TEXT_LIMIT) -> Any:
    """Strings capped, also inside lists and mappings; anything else as it is."""
    if isinstance(value, str):
        return cap_text(value, limit)
    if isinstance(value, Mapping):
        return {k: cap_value(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cap_value(v, limit) for v in value]
    return value
