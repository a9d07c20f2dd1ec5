"""Reasoning through a Responses client: the `encrypted_content` of reasoning items, both ways.

A Responses client keeps each reasoning item it receives and sends it back on later turns with its
`encrypted_content` untouched (Codex does so on every turn). That field carries what the next turn
needs to replay the reasoning to the provider that produced it:

- reasoning from OpenAI's own Responses API keeps OpenAI's encrypted content as it came;
- reasoning from any other upstream is wrapped in the gateway's carrier (`formats/carrier.py`):
  the provider family, the model, the exact reasoning text and, for Anthropic, its signature (or the
  data of a redacted block).

On the way back a carrier becomes the thinking block it was, which each channel's codec keeps only
when the channel is the provider that produced it (Anthropic verifies its signature over the exact
text; DeepSeek takes its own reasoning back as `reasoning_content`); OpenAI's encrypted content is
kept for a Responses channel and dropped, never forwarded, everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.formats import carrier

OPENAI = "openai-resp"  # the carrier `p` of reasoning from OpenAI's Responses API


def seal(block: ir.Thinking, model: str) -> str:
    """The `encrypted_content` a Responses client is given for a thinking block."""
    found = carrier.parse_carrier(block.signature)
    if found is None:
        if block.signature:  # a real Anthropic signature
            return carrier.make_carrier(carrier.ANTHROPIC, model, sig=block.signature, text=block.text)
        return carrier.make_carrier(carrier.GATEWAY, model, text=block.text)
    if found.provider == OPENAI and isinstance(found.fields.get("enc"), str):
        return str(found.fields["enc"])
    fields = {"text": block.text, **found.fields}
    return carrier.make_carrier(found.provider, found.model or model, **fields)


def seal_redacted(block: ir.RedactedThinking, model: str) -> str:
    return carrier.make_carrier(carrier.ANTHROPIC, model, redacted=block.data)


def summary_text(item: Mapping[str, Any]) -> str:
    """The visible text of a reasoning item: its summaries, else its raw reasoning text."""
    for field, kind in (("summary", "summary_text"), ("content", "reasoning_text")):
        parts = item.get(field)
        if isinstance(parts, list):
            texts = [str(p.get("text", "")) for p in parts if isinstance(p, Mapping) and p.get("type") == kind]
            if any(texts):
                return "\n\n".join(texts)
    return ""


def unseal(item: Mapping[str, Any]) -> ir.Block | None:
    """A reasoning item a Responses client sent back, as the thinking block it stands for; None when it
    carries nothing any provider could verify (no encrypted content)."""
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted:
        return None
    found = carrier.parse_carrier(encrypted)
    if found is None:  # OpenAI's own encrypted content
        rid = item.get("id") if isinstance(item.get("id"), str) else None
        return from_openai(summary_text(item), encrypted, rid, "")
    redacted = found.fields.get("redacted")
    if found.provider == carrier.ANTHROPIC and isinstance(redacted, str):
        return ir.RedactedThinking(redacted)
    text = found.fields.get("text")
    return ir.Thinking(text if isinstance(text, str) else summary_text(item), encrypted)


def from_openai(text: str, encrypted: str | None, item_id: str | None, model: str) -> ir.Thinking:
    """Reasoning from OpenAI's Responses API, signed with a carrier that keeps its encrypted content."""
    return ir.Thinking(text, carrier.make_carrier(OPENAI, model, enc=encrypted, rid=item_id))


def replay(block: ir.Thinking) -> dict[str, Any] | None:
    """The reasoning item a Responses channel is sent for a thinking block; None unless OpenAI produced it."""
    found = carrier.parse_carrier(block.signature)
    if found is None or found.provider != OPENAI or not isinstance(found.fields.get("enc"), str):
        return None
    summary = [{"type": "summary_text", "text": block.text}] if block.text else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": found.fields["enc"]}
