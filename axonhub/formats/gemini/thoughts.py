"""Thought signatures: Gemini's own, carried through clients of other formats, and other providers'
reasoning carried through Gemini clients.

From a Gemini channel, each `thoughtSignature` becomes the signature of a thinking block, wrapped
in a gateway carrier `{"p": "gemini", "m": <model>, "sig": <signature>, "pos": <where it sat>}`:
`thought` (on a thought part: the thinking block is that part), `call` (on a function call: the
thinking block sits right before the call) or `text` (on a text part: right after the text). Going
back to Gemini, a carrier of the same model puts the signature on the same kind of part again;
a carrier of another model, or another provider's signature, is never sent (Gemini rejects it).

Toward a Gemini client, reasoning from another provider is carried the other way round: its
signature, the thinking text included, is wrapped in a carrier (`gw1.…`) and base64-encoded, since
Gemini clients hold signatures as bytes (the google-genai Python SDK decodes them, and sends them
back in URL-safe base64), on the part after the thinking, so read back it goes before that part,
text included. A client's signature that decodes to a carrier is ours; any other is a real Gemini
signature, which only a Gemini channel can use (and gets on the fast path, untouched).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum

from axonhub import ir
from axonhub.formats import carrier

GEMINI = "gemini"  # the carrier's provider for Gemini's own signatures
# Gemini's documented stand-in for a function call whose signature is unknown (history written by
# another model or provider): it skips the check Gemini 3 makes on the current turn's calls.
SKIP_SIGNATURE = "skip_thought_signature_validator"


class Position(StrEnum):
    THOUGHT = "thought"
    CALL = "call"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Signature:
    """A Gemini signature and the kind of part it sat on."""

    value: str
    position: str


def wrap(model: str, signature: str, position: str) -> str:
    """The carrier a Gemini signature travels in through clients of other formats."""
    return carrier.make_carrier(GEMINI, model, sig=signature, pos=position)


def unwrap(signature: str | None, model: str) -> Signature | None:
    """The Gemini signature in a thinking block's signature, when it was made by `model` (or came from
    a Gemini client's history, model unknown); None for another model's, another provider's, or none."""
    found = carrier.parse_carrier(signature)
    if found is None or found.provider != GEMINI or found.model not in (model, ""):
        return None
    value, position = found.fields.get("sig"), found.fields.get("pos")
    if not isinstance(value, str) or not value:
        return None
    return Signature(value, position if isinstance(position, str) else Position.CALL)


def for_client(thinking: ir.Thinking | ir.RedactedThinking, model: str) -> str | None:
    """The `thoughtSignature` a Gemini client is given for a thinking block: Gemini's own signature
    as it came; any other signature in a base64-encoded carrier that keeps the thinking text (or a
    redacted block's data)."""
    if isinstance(thinking, ir.RedactedThinking):
        wrapped = carrier.make_carrier(carrier.ANTHROPIC, model, redacted=thinking.data)
        return base64.b64encode(wrapped.encode()).decode("ascii")
    own = carrier.parse_carrier(thinking.signature)
    if own is not None and own.provider == GEMINI:
        value = own.fields.get("sig")
        return value if isinstance(value, str) and value else None
    if own is not None:
        fields = {**own.fields, "text": own.fields.get("text", thinking.text)}
        wrapped = carrier.make_carrier(own.provider, own.model, **fields)
    elif thinking.signature:
        wrapped = carrier.make_carrier(carrier.ANTHROPIC, model, sig=thinking.signature, text=thinking.text)
    else:
        return None
    return base64.b64encode(wrapped.encode()).decode("ascii")


def from_client(value: object, position: Position, text: str = "") -> ir.Thinking | ir.RedactedThinking | None:
    """The thinking block a Gemini client's `thoughtSignature` stands for: the reasoning our carrier
    brings back, or Gemini's own signature kept for Gemini (the model that made it unknown), on a part
    at `position` with the thought `text` it signed. None for no signature."""
    if not isinstance(value, str) or not value:
        return None
    return _ours(value) or ir.Thinking(text, wrap("", value, position))


def ours(value: object) -> bool:
    """Whether a Gemini client's `thoughtSignature` is one of our carriers (another provider's reasoning)."""
    return isinstance(value, str) and _ours(value) is not None


def _ours(value: str) -> ir.Thinking | ir.RedactedThinking | None:
    compact = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(carrier.PREFIX.encode()):
        return None
    text = raw.decode("ascii", errors="replace")
    found = carrier.parse_carrier(text)
    if found is None:
        return None
    redacted = found.fields.get("redacted")
    if found.provider == carrier.ANTHROPIC and isinstance(redacted, str):
        return ir.RedactedThinking(redacted)
    thought = found.fields.get("text")
    return ir.Thinking(thought if isinstance(thought, str) else "", text)
