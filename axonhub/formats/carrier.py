"""The reasoning carrier: a gateway-made thinking signature that says where its reasoning came from.

    "gw1." + base64url(JSON{"p": <provider family>, "m": <upstream model>, ...})

An Anthropic client keeps the carrier as the `signature` of a thinking block and sends it back
unchanged, so a later request can recognise reasoning the gateway produced itself.
Real Anthropic signatures are plain base64 and never contain a ".", so the two cannot be confused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "gw1."

# `p` values
CHAT = "chat"  # an OpenAI Chat Completions upstream (DeepSeek/Moonshot reasoning_content, OpenRouter reasoning)
ANTHROPIC = "anthropic"
GATEWAY = "gateway"  # reasoning of unknown origin, signed only so a client accepts the block


@dataclass(frozen=True, slots=True)
class Carrier:
    provider: str
    model: str
    fields: Mapping[str, Any]  # every other key of the carrier (sig, enc, rid, text…)


def make_carrier(provider: str, model: str, **fields: Any) -> str:
    payload = {"p": provider, "m": model, **{k: v for k, v in fields.items() if v is not None}}
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_carrier(signature: str | None) -> Carrier | None:
    """The carrier inside a signature; None for a real provider signature or a damaged carrier."""
    if not signature or not signature.startswith(PREFIX):
        return None
    encoded = signature[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), str):
        return None
    rest = {k: v for k, v in payload.items() if k not in ("p", "m")}
    return Carrier(provider=payload["p"], model=str(payload.get("m", "")), fields=rest)
