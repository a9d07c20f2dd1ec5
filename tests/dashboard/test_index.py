"""The dashboard's index of the trace log: rotated files, damaged lines, following, rotation, bounds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from axonhub.dashboard.index import Indexer, bin_value, latency_bin
from tests.dashboard.records import append, record, rotated_log, write_log


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def started() -> Iterator[Callable[..., Indexer]]:
    indexers: list[Indexer] = []

    def start(path: Path, max_records: int = 1000, seen: list[dict[str, Any]] | None = None) -> Indexer:
        indexer = Indexer(path, max_records, on_records=seen.extend if seen is not None else None)
        indexer.start()
        indexers.append(indexer)
        until(lambda: indexer.progress.state == "ready")
        return indexer

    yield start
    for indexer in indexers:
        indexer.stop()


def sessions_of(indexer: Indexer) -> dict[str, list[str]]:
    """trace id -> its request ids in order, read back from the files."""
    with indexer.lock:
        index = indexer.current
        out = {}
        for s, trace_id in enumerate(index.sessions.ids):
            out[trace_id] = [str((index.read(i) or {}).get("request_id")) for i in index.session_records(s)]
        return out


def test_a_rotated_log_is_read_oldest_file_first_with_damaged_lines_skipped_and_counted(tmp_path, started):
    indexer = started(rotated_log(tmp_path))
    index = indexer.current
    assert (len(index), index.damaged, index.skipped) == (9, 2, 0)
    assert [ref.path.name for ref in index.files] == ["trace.jsonl.2", "trace.jsonl.1", "trace.jsonl"]
    assert sessions_of(indexer) == {
        "s-alpha": ["req_0000", "req_0060", "req_0120"],
        "s-beta": ["req_0180", "req_0240"],
        **{f"s-single-{i}": [f"req_{300 + i:04d}"] for i in range(4)},
    }
    s = index.sessions.number["s-alpha"]
    # the count_tokens estimate (9999) is not usage; the failed call has none
    assert (index.sessions.requests[s], index.sessions.errors[s], index.sessions.tin[s]) == (3, 1, 1000)


def test_appended_lines_are_indexed_and_announced_and_a_torn_tail_waits_for_its_newline(tmp_path, started):
    path = write_log(tmp_path / "trace.jsonl", [record(0, "s-1")])
    seen: list[dict[str, Any]] = []
    indexer = started(path, seen=seen)
    append(path, record(1, "s-1"), record(2, "s-2"))
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"time":"2026-05-01T10:00:03.000+00:00","request_id":"req_0003",')
    indexer.wake()
    until(lambda: len(seen) == 2)
    assert [r["request_id"] for r in seen] == ["req_0001", "req_0002"]
    with path.open("ab") as handle:
        handle.write(b'"trace_id":"s-2","kind":"messages"}\n')
    indexer.wake()
    until(lambda: len(seen) == 3)
    assert sessions_of(indexer) == {"s-1": ["req_0000", "req_0001"], "s-2": ["req_0002", "req_0003"]}
    assert indexer.current.damaged == 0


def test_rotation_is_followed_and_a_session_spans_the_old_and_the_new_file(tmp_path, started):
    path = write_log(tmp_path / "trace.jsonl", [record(0, "s-1")])
    seen: list[dict[str, Any]] = []
    indexer = started(path, seen=seen)
    append(path, record(1, "s-1"))  # written just before the rotation
    path.rename(tmp_path / "trace.jsonl.1")
    write_log(path, [record(2, "s-1"), record(3, "s-2")])
    indexer.wake()
    until(lambda: len(seen) == 3)
    assert sessions_of(indexer) == {"s-1": ["req_0000", "req_0001", "req_0002"], "s-2": ["req_0003"]}


def test_when_the_oldest_file_is_deleted_by_rotation_the_index_is_rebuilt_without_it(tmp_path, started):
    path = rotated_log(tmp_path)
    indexer = started(path)
    first = indexer.current
    (tmp_path / "trace.jsonl.2").unlink()
    indexer._checked_files = 0.0  # look at the folder now rather than in five seconds
    indexer.wake()
    until(lambda: indexer.current is not first and indexer.progress.state == "ready")
    assert sessions_of(indexer)["s-alpha"] == ["req_0120"]
    assert indexer.current.damaged == 1


def test_a_log_truncated_in_place_is_indexed_again_from_its_start(tmp_path, started):
    path = write_log(tmp_path / "trace.jsonl", [record(0, "s-1"), record(1, "s-1")])
    indexer = started(path)
    first = indexer.current
    with path.open("r+b") as handle:  # copytruncate
        handle.truncate(0)
    append(path, record(5, "s-5"))
    indexer.wake()
    until(lambda: indexer.current is not first and "s-5" in indexer.current.sessions.number)
    assert sessions_of(indexer) == {"s-5": ["req_0005"]}


def test_only_the_newest_max_records_are_indexed(tmp_path, started):
    path = write_log(tmp_path / "trace.jsonl", [record(n, f"s-{n}") for n in range(1500)])
    indexer = started(path, max_records=1000)
    index = indexer.current
    assert (len(index), index.skipped) == (1000, 500)
    assert index.sessions.ids[0] == "s-500"


def test_no_log_yet_then_the_first_line_arrives(tmp_path, started):
    path = tmp_path / "trace.jsonl"
    indexer = started(path)
    assert len(indexer.current) == 0
    write_log(path, [record(0, "s-1")])
    indexer.wake()
    until(lambda: len(indexer.current) == 1)


def test_latency_bins_are_within_ten_percent():
    for ms in (12.0, 95.0, 850.0, 4321.0, 60_000.0):
        assert abs(bin_value(latency_bin(ms)) - ms) / ms < 0.1
    assert latency_bin(3.0) == 0


def test_a_line_read_back_after_its_file_was_replaced_is_none_not_a_crash(tmp_path, started):
    path = write_log(tmp_path / "trace.jsonl", [record(0, "s-1")])
    indexer = started(path)
    with indexer.lock:
        index = indexer.current
        os.truncate(path, 0)
        assert index.read(0) is None
