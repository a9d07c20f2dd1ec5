"""The conversations behind recent answers, for requests that continue an earlier answer by its id.

Bounded and per key: each AxonHub key keeps its most recent `limit` conversations (least recently
used out first), so one key cannot evict another's. The store lives in the server process's memory:
it is not shared between workers and is lost on restart, after which a request naming an older
answer gets the format's "unknown id" error.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


class ConversationStore:
    """(key, answer id) -> the whole conversation up to and including that answer."""

    def __init__(self) -> None:
        self._by_key: dict[str, OrderedDict[str, tuple[Any, ...]]] = {}

    def get(self, key: str, answer_id: str) -> tuple[Any, ...] | None:
        kept = self._by_key.get(key)
        if kept is None or answer_id not in kept:
            return None
        kept.move_to_end(answer_id)
        return kept[answer_id]

    def put(self, key: str, answer_id: str, conversation: Sequence[Any], limit: int) -> None:
        """Remember a conversation; with `limit` 0 nothing is kept."""
        kept = self._by_key.setdefault(key, OrderedDict())
        kept[answer_id] = tuple(conversation)
        kept.move_to_end(answer_id)
        while len(kept) > limit:
            kept.popitem(last=False)
        if not kept:
            del self._by_key[key]

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._by_key.values())
