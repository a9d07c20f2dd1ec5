"""The one place that lists the wire formats: WireFormat -> its Format record, channel type -> its format.

Adding a format is one package under `formats/`, one line in `FORMATS` and its channel type in the
config schema; nothing in the request path changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from axonhub.formats.anthropic.format import FORMAT as ANTHROPIC
from axonhub.formats.gemini.format import FORMAT as GEMINI
from axonhub.formats.openai_chat.format import FORMAT as OPENAI_CHAT
from axonhub.formats.openai_responses.format import FORMAT as OPENAI_RESPONSES
from axonhub.formats.spec import Format, WireFormat

FORMATS: dict[WireFormat, Format] = {f.wire: f for f in (ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES, GEMINI)}

# channel type (the config's `type`) -> the wire format its upstream speaks
CHANNEL_FORMATS: dict[str, WireFormat] = {t: f.wire for f in FORMATS.values() for t in f.channel_types}

# Where no route matches and no header claims the request, errors are OpenAI's: the shape most
# generic clients (curl scripts, SDK wrappers) parse.
UNCLAIMED = WireFormat.OPENAI_CHAT

_PREFIXES = sorted(((p, f.wire) for f in FORMATS.values() for p in f.path_prefixes), key=lambda pf: -len(pf[0]))


def format_of_channel(channel_type: str) -> Format | None:
    """The format a channel type speaks; None for a type this version cannot talk to."""
    wire = CHANNEL_FORMATS.get(channel_type)
    return FORMATS[wire] if wire is not None else None


def format_of_request(path: str, headers: Mapping[str, str]) -> WireFormat:
    """The format a request speaks: its path's (the longest matching prefix of any format); on a path
    no format owns (`/v1/models`, an unknown one), the format whose clients' headers it carries."""
    for prefix, wire in _PREFIXES:
        if path == prefix.rstrip("/") or path.startswith(prefix):
            return wire
    for fmt in FORMATS.values():
        if any(name in headers for name in fmt.claiming_headers):
            return fmt.wire
    return UNCLAIMED
