"""Identifiers the gateway mints: request ids and fresh message, completion and tool-call ids.

They must be unique, never secret: nothing is authorised by knowing one. So they come from the
process's Mersenne Twister (`random.getrandbits`, reseeded in every forked child) rather than from
the OS random source, whose system call cost more than the rest of minting an id together.
"""

from __future__ import annotations

import base64
import random
from typing import Final

# base64's two symbols outside [0-9A-Za-z] folded onto letters: ids stay base62-shaped (the pattern
# Anthropic's and OpenAI's own ids follow); 142 bits of randomness remain in 24 characters.
_TO_BASE62: Final = bytes.maketrans(b"-_", b"xy")


def random_id(prefix: str) -> str:
    """`prefix` and 24 random base62 characters."""
    raw = random.getrandbits(144).to_bytes(18, "big")
    return prefix + base64.urlsafe_b64encode(raw).translate(_TO_BASE62).decode()


def request_id() -> str:
    """A request id: `req_` and 24 hex digits (96 random bits)."""
    return f"req_{random.getrandbits(96):024x}"
