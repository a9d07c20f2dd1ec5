"""The index takes this process's records from the trace writer: every line still once, in file order.

Two trace writers append to one log, as two processes of `serve --workers` do (each its own
descriptor, the rotation lock between them); only the first hands its records to the index, the
other's lines must be parsed. The index built while following must be the index a fresh build
parses from the same files.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from axonhub.config import TraceConfig
from axonhub.dashboard.index import Index, Indexer, unpack_dims
from axonhub.trace import TraceWriter, Written, iter_records
from tests.dashboard.records import line, record


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def exchange(n: int, writer: str) -> dict[str, Any]:
    """A version-2 record; every fifth failed, every seventh a count_tokens call, sessions of three."""
    changes: dict[str, Any] = {"v": 2, "request_id": f"req_{writer}_{n:04d}", "rule": 1, "key": writer}
    if n % 5 == 4:
        changes |= {"status": 529, "usage": None, "error": {"type": "overloaded_error", "message": "busy"}}
    if n % 7 == 6:
        changes |= {"kind": "count_tokens", "usage": None, "counted_tokens": 1200}
    return record(n, f"s-{writer}-{n // 3}", **changes)


def snapshot(index: Index) -> dict[str, Any]:
    """Everything the pages read, by name rather than by the ids interned along the way."""
    names = (index.keys.names, index.models.names, index.channels.names, index.profiles.names)

    def dims(packed: int) -> tuple[str, ...]:
        return tuple(n[i] for n, i in zip(names, unpack_dims(packed), strict=True))

    rows = []
    for i in range(len(index)):
        rows.append(
            (
                index.t[i],
                index.sessions.ids[index.sess[i]],
                index.nxt[i],
                index.flags[i],
                (index.tin[i], index.tout[i], index.tcr[i], index.tcw[i]),
                dims(index.key[i] << 48 | index.model[i] << 32 | index.channel[i] << 16 | index.profile[i]),
                index.rid[i],
                index.read(i),
            )
        )
    sessions = index.sessions
    levels = {}
    for level in (index.rollups.fine, index.rollups.coarse):
        levels[level.seconds] = (
            {b: {dims(d): row for d, row in rows_.items()} for b, rows_ in level.usage.items()},
            {b: {k: list(h) for k, h in cells.items()} for b, cells in level.latency.items()},
            {b: {index.channels.names[c]: t for c, t in cells.items()} for b, cells in level.attempts.items()},
        )
    return {
        "rows": rows,
        "sessions": [
            (
                sessions.ids[s],
                sessions.first[s],
                sessions.last[s],
                sessions.requests[s],
                sessions.errors[s],
                sessions.tin[s],
                index.clients.names[sessions.client[s]],
            )
            for s in range(len(sessions))
        ],
        "rollups": levels,
        "damaged": index.damaged,
    }


async def test_own_lines_interleaved_with_another_writers_across_rotations_are_indexed_once_in_file_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "trace.jsonl"
    config = TraceConfig(path=path, max_bytes=6_000, keep=50)  # a dozen lines a file: many rotations
    ours, theirs = TraceWriter(config), TraceWriter(config)
    seen: list[dict[str, Any]] = []
    indexer = Indexer(path, 100_000, on_records=seen.extend)
    ours.on_written.append(indexer.written)
    await ours.start()
    await theirs.start()
    indexer.start()
    try:
        for n in range(240):
            ours.write(exchange(n, "ours"))  # type: ignore[arg-type]
            if n % 3 == 0:
                theirs.write(exchange(n, "theirs"))  # type: ignore[arg-type]
            if n % 40 == 39:
                await asyncio.sleep(0.03)  # let batches go out between the bursts
        await ours.close()
        await theirs.close()
        in_files = [r["request_id"] for r in iter_records(path)]
        assert len(in_files) == 320 and len(set(in_files)) == 320  # the writers lost and doubled nothing
        assert len(list(tmp_path.glob("trace.jsonl.*"))) > 10
        indexer.wake()
        await until(lambda: len(seen) >= 320)
        await asyncio.sleep(0.6)  # a poll later, nothing more comes
        assert [r["request_id"] for r in seen] == in_files
        with indexer.lock:
            followed = indexer.current
            assert followed.handed > 0  # most of our 240 came from the writer, not from the file
            assert followed.handed <= 240
            assert len(followed) == 320
            following = snapshot(followed)
    finally:
        indexer.stop()
    rebuilt = Indexer(path, 100_000)
    rebuilt.start()
    try:
        await until(lambda: rebuilt.progress.state == "ready")
        with rebuilt.lock:
            assert rebuilt.current.handed == 0
            assert snapshot(rebuilt.current) == following
    finally:
        rebuilt.stop()


async def test_a_handed_over_line_is_trusted_only_where_its_very_bytes_are(tmp_path: Path) -> None:
    """A hand-over whose offset holds another line, and one that comes after its line was read, change
    nothing: the line on disk is what is indexed, once."""
    path = tmp_path / "trace.jsonl"
    theirs = exchange(0, "theirs")
    path.write_bytes(line(theirs))
    st = os.stat(path)
    file = (st.st_ino, st.st_dev)
    seen: list[dict[str, Any]] = []
    indexer = Indexer(path, 1000, on_records=seen.extend)
    impostor = exchange(1, "ours")
    indexer.start()
    try:
        await until(lambda: indexer.progress.state == "ready" and len(indexer.current) == 1)
        # a hand-over claiming the offset where the next line of another writer lands
        size = st.st_size
        indexer.written(Written(file, size, [(line(impostor), impostor)]))  # type: ignore[list-item]
        other = exchange(2, "theirs")
        with path.open("ab") as handle:
            handle.write(line(other))
        indexer.wake()
        await until(lambda: len(seen) == 1)
        # a hand-over of a line already read: nothing happens
        indexer.written(Written(file, 0, [(line(theirs), theirs)]))  # type: ignore[list-item]
        # and a true one, handed over before the follow reaches its line
        ours = exchange(3, "ours")
        mark = {**ours, "note": "the handed-over record"}
        offset = os.stat(path).st_size
        indexer.written(Written(file, offset, [(line(ours), mark)]))  # type: ignore[list-item]
        with path.open("ab") as handle:
            handle.write(line(ours))
        indexer.wake()
        await until(lambda: len(seen) == 2)
        await asyncio.sleep(0.6)
        assert [r["request_id"] for r in seen] == ["req_theirs_0002", "req_ours_0003"]
        assert seen[0] == json.loads(line(other))  # parsed: the impostor was not taken for it
        assert seen[1] is mark  # taken as handed over
        with indexer.lock:
            index = indexer.current
            assert (len(index), index.handed, index.damaged) == (3, 1, 0)
    finally:
        indexer.stop()
