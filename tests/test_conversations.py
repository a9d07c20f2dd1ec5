"""The conversation store behind `previous_response_id`: bounded per key, least recently used out first."""

from __future__ import annotations

from axonhub.conversations import ConversationStore


def test_a_conversation_is_found_only_under_its_own_key() -> None:
    store = ConversationStore()
    store.put("alice", "resp_1", [{"role": "user", "content": "hi"}], limit=10)
    assert store.get("alice", "resp_1") == ({"role": "user", "content": "hi"},)
    assert store.get("bob", "resp_1") is None
    assert store.get("alice", "resp_2") is None


def test_each_key_keeps_its_most_recently_used_conversations() -> None:
    store = ConversationStore()
    for n in range(3):
        store.put("alice", f"resp_{n}", [n], limit=3)
    store.put("bob", "resp_b", ["b"], limit=3)
    assert store.get("alice", "resp_0") == (0,)  # used: now the most recent
    store.put("alice", "resp_3", [3], limit=3)
    assert [store.get("alice", f"resp_{n}") for n in range(4)] == [(0,), None, (2,), (3,)]
    assert store.get("bob", "resp_b") == ("b",)  # another key's answers do not push bob's out
    assert len(store) == 4


def test_a_limit_of_zero_keeps_nothing() -> None:
    store = ConversationStore()
    store.put("alice", "resp_1", ["x"], limit=0)
    assert store.get("alice", "resp_1") is None
    assert len(store) == 0


def test_a_key_keeps_at_most_max_bytes_oldest_out_first() -> None:
    store = ConversationStore()
    for n in range(3):
        store.put("alice", f"resp_{n}", [n], limit=10, size=400, max_bytes=1000)
    # 1,200 bytes would be over the bound: the oldest went
    assert [store.get("alice", f"resp_{n}") for n in range(3)] == [None, (1,), (2,)]
    assert store.size("alice") == 800
    store.put("bob", "resp_b", ["b"], limit=10, size=900, max_bytes=1000)
    assert store.size("alice") == 800  # one key's bytes do not push another's out


def test_a_conversation_larger_than_the_bound_is_not_kept_and_pushes_nothing_out() -> None:
    store = ConversationStore()
    store.put("alice", "resp_small", ["s"], limit=10, size=100, max_bytes=1000)
    store.put("alice", "resp_huge", ["h"], limit=10, size=5000, max_bytes=1000)
    assert store.get("alice", "resp_huge") is None
    assert store.get("alice", "resp_small") == ("s",)
    assert store.size("alice") == 100


def test_remembering_an_id_again_replaces_its_conversation_and_its_size() -> None:
    store = ConversationStore()
    store.put("alice", "resp_1", ["old"], limit=10, size=300, max_bytes=1000)
    store.put("alice", "resp_1", ["new"], limit=10, size=200, max_bytes=1000)
    assert (store.get("alice", "resp_1"), store.size("alice"), len(store)) == (("new",), 200, 1)
    store.put("alice", "resp_1", ["x"], limit=0)
    assert (store.get("alice", "resp_1"), store.size("alice"), len(store)) == (None, 0, 0)
