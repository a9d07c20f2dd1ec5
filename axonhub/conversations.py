"""The conversations behind recent answers, for requests that continue an earlier answer by its id.

Bounded and per key: each AxonHub key keeps its most recent conversations (least recently used out
first), at most `limit` of them and at most `max_bytes` of them as JSON, so one key cannot evict
another's and a client that sends large conversations (every request of a long session whole, with
images) cannot fill the memory. The store lives in the server process's memory: it is not shared
between workers and is lost on restart, after which a request naming an older answer gets the
format's "unknown id" error.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


class ConversationStore:
    """(key, answer id) -> the whole conversation up to and including that answer."""

    def __init__(self) -> None:
        self._by_key: dict[str, OrderedDict[str, tuple[tuple[Any, ...], int]]] = {}
        self._bytes: dict[str, int] = {}  # per key: the sizes of its conversations, summed

    def get(self, key: str, answer_id: str) -> tuple[Any, ...] | None:
        kept = self._by_key.get(key)
        if kept is None or answer_id not in kept:
            return None
        kept.move_to_end(answer_id)
        return kept[answer_id][0]

    def put(
        self, key: str, answer_id: str, conversation: Sequence[Any], limit: int, size: int = 0, max_bytes: int = 0
    ) -> None:
        """Remember a conversation of `size` bytes (its JSON, about); with `limit` 0 nothing is kept.
        With `max_bytes`, the key's conversations hold that many bytes at most: older ones go first,
        and one larger than that is not kept at all."""
        kept = self._by_key.setdefault(key, OrderedDict())
        total = self._bytes.get(key, 0)
        replaced = kept.pop(answer_id, None)
        if replaced is not None:
            total -= replaced[1]
        if limit > 0 and not (max_bytes and size > max_bytes):
            kept[answer_id] = (tuple(conversation), size)
            total += size
        while len(kept) > limit or (max_bytes and total > max_bytes):
            total -= kept.popitem(last=False)[1][1]
        if kept:
            self._bytes[key] = total
        else:
            del self._by_key[key]
            self._bytes.pop(key, None)

    def size(self, key: str) -> int:
        """The bytes the key's conversations hold."""
        return self._bytes.get(key, 0)

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._by_key.values())
