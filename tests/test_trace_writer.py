"""The trace writer: whole lines under concurrency, rotation, reopen after a log rotator, failures."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from axonhub.config import TraceConfig
from axonhub.trace import ReadStats, TraceWriter, iter_records, trace_files

# Records larger than PIPE_BUF, so atomicity is not an accident of size (in short strings: a free-text
# field is capped at a few KB).
PAYLOAD = ["x" * 90] * 100


def record(n: int, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "request_id": f"req_{n:05d}", "trace_id": "t", "status": 200, "note": PAYLOAD, **extra}


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def started(config: TraceConfig) -> TraceWriter:
    writer = TraceWriter(config)
    await writer.start()
    return writer


def ids_in(path: Path) -> list[str]:
    return [json.loads(line)["request_id"] for line in path.read_bytes().splitlines()]


async def write_concurrently(writer: TraceWriter, numbers: range, tasks: int = 50) -> list[str]:
    """Many tasks writing at once; returns the request ids in the order write() was called."""
    order: list[str] = []

    async def worker(offset: int) -> None:
        for n in numbers[offset::tasks]:
            writer.write(record(n))
            order.append(f"req_{n:05d}")
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return order


async def test_500_concurrent_writes_give_exactly_500_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    await write_concurrently(writer, range(500))
    await writer.close()

    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert len(parsed) == 500
    assert sorted(r["request_id"] for r in parsed) == [f"req_{n:05d}" for n in range(500)]
    assert all(r == record(int(r["request_id"][4:])) for r in parsed)
    assert (writer.written, writer.dropped) == (500, 0)


async def test_a_line_is_compact_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    writer.write({"v": 1, "request_id": "req_1", "text": "héllo ✓"})
    await writer.close()
    assert path.read_bytes() == '{"v":1,"request_id":"req_1","text":"héllo ✓"}\n'.encode()


async def test_rotation_under_load_loses_nothing_and_keeps_the_order(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path, max_bytes=60_000, keep=200))
    order = await write_concurrently(writer, range(500))
    await writer.close()

    files = trace_files(path)
    assert len(files) > 50
    assert all(f.stat().st_size <= 60_000 for f in files)
    stats = ReadStats()
    got = [r["request_id"] for r in iter_records(path, stats=stats)]
    assert got == order
    assert sorted(got) == [f"req_{n:05d}" for n in range(500)]
    assert stats.damaged == 0


async def test_rotation_keeps_only_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path, max_bytes=20_000, keep=2))  # two records per file
    for n in range(10):
        writer.write(record(n))
    await writer.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.jsonl", "trace.jsonl.1", "trace.jsonl.2"]
    assert [r["request_id"] for r in iter_records(path)] == [f"req_{n:05d}" for n in range(4, 10)]
    assert [r["request_id"] for r in iter_records(path, include_rotated=False)] == ["req_00008", "req_00009"]


async def test_keep_zero_starts_over_without_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path, max_bytes=20_000, keep=0))
    for n in range(5):
        writer.write(record(n))
    await writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["trace.jsonl"]
    assert ids_in(path) == ["req_00004"]


async def test_a_file_moved_by_a_log_rotator_is_reopened_before_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    for n in range(100):
        writer.write(record(n))
    await until(lambda: writer.written == 100)
    path.rename(tmp_path / "trace.jsonl-20260501")
    for n in range(100, 200):
        writer.write(record(n))
    await writer.close()

    assert ids_in(tmp_path / "trace.jsonl-20260501") == [f"req_{n:05d}" for n in range(100)]
    assert ids_in(path) == [f"req_{n:05d}" for n in range(100, 200)]


async def test_a_deleted_file_is_recreated_and_every_later_record_is_in_it(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    for n in range(50):
        writer.write(record(n))
    await until(lambda: writer.written == 50)
    path.unlink()
    for n in range(50, 150):
        writer.write(record(n))
    await writer.close()
    assert ids_in(path) == [f"req_{n:05d}" for n in range(50, 150)]
    assert writer.dropped == 0


async def test_moving_the_file_while_writing_loses_no_record(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    moved = tmp_path / "trace.jsonl.old"
    writer = await started(TraceConfig(path=path))

    moved_event = asyncio.Event()

    async def mover() -> None:
        await until(lambda: writer.written >= 200)
        path.rename(moved)
        moved_event.set()

    async def after_the_move() -> None:
        # The writer may finish the first 500 before the mover looks; these always follow the move.
        await moved_event.wait()
        await write_concurrently(writer, range(500, 1000))

    await asyncio.gather(write_concurrently(writer, range(500)), mover(), after_the_move())
    await writer.close()
    got = ids_in(moved) + ids_in(path)
    assert sorted(got) == [f"req_{n:05d}" for n in range(1000)]
    assert len(ids_in(path)) > 0


async def test_an_unwritable_path_is_logged_counted_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = TraceConfig(path=blocker / "trace.jsonl")
    with capture_logs() as logs:
        writer = await started(config)
        for n in range(10):
            writer.write(record(n))
        await until(lambda: writer.dropped == 10)
        await writer.close()
    errors = [e for e in logs if e["log_level"] == "error"]
    assert errors[0]["event"] == "cannot open the trace file"
    assert errors[0]["path"] == str(blocker / "trace.jsonl")
    assert len(errors) <= 2  # rate-limited, not one line per record
    assert writer.written == 0


async def test_a_full_disk_drops_and_counts_records_then_writing_recovers(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    writer = await started(TraceConfig(path=Path("/dev/full")))
    with capture_logs() as logs:
        for n in range(20):
            writer.write(record(n))
        await until(lambda: writer.dropped == 20)
    await writer.close()
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["event"] == "cannot write the trace file; record dropped, serving continues"
    assert errors[0]["error"] == "No space left on device"


async def test_writing_recovers_once_the_path_becomes_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("")
    writer = await started(TraceConfig(path=blocker / "trace.jsonl"))
    with capture_logs() as logs:
        writer.write(record(0))
        await until(lambda: writer.dropped == 1)
        blocker.unlink()
        writer.write(record(1))
        await writer.close()
    assert ids_in(blocker / "trace.jsonl") == ["req_00001"]
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["trace writing recovered"]


async def test_a_stalled_disk_never_blocks_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "trace.fifo"
    os.mkfifo(path)  # opening a FIFO for writing blocks until a reader comes: a disk that hangs
    writer = await started(TraceConfig(path=path))
    began = time.perf_counter()
    for n in range(300):
        writer.write(record(n))
    await asyncio.sleep(0.05)
    assert time.perf_counter() - began < 1.0
    assert writer.written == 0

    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(path.read_bytes()))
    reader.start()
    await writer.close()
    await asyncio.to_thread(reader.join)
    assert [json.loads(line)["request_id"] for line in received[0].splitlines()] == [f"req_{n:05d}" for n in range(300)]


async def test_close_flushes_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    for n in range(2000):
        writer.write(record(n))
    await writer.close()
    assert ids_in(path) == [f"req_{n:05d}" for n in range(2000)]


async def test_a_record_after_close_is_dropped_and_counted(tmp_path: Path) -> None:
    writer = await started(TraceConfig(path=tmp_path / "trace.jsonl"))
    await writer.close()
    writer.write(record(1))
    assert writer.dropped == 1


async def test_an_unserialisable_record_is_dropped_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = await started(TraceConfig(path=path))
    circular: dict[str, Any] = {"v": 1}
    circular["self"] = circular
    writer.write(circular)
    writer.write(record(2))
    await writer.close()
    assert (ids_in(path), writer.dropped) == (["req_00002"], 1)


def test_a_header_with_invalid_utf8_still_makes_a_valid_line() -> None:
    from axonhub.trace import serialize

    line = serialize({"v": 1, "user_agent": "curl/8 \udc80\udcff"})
    assert json.loads(line) == {"v": 1, "user_agent": "curl/8 \udc80\udcff"}


async def test_two_writers_on_one_file_rotate_it_without_overflowing_it(tmp_path: Path) -> None:
    """`serve --workers` runs one writer per process on the same file: a batch is sized against the
    file under the rotation lock, so the other writer cannot grow the file past max_bytes meanwhile."""
    path = tmp_path / "trace.jsonl"
    first = await started(TraceConfig(path=path, max_bytes=60_000, keep=500))
    second = await started(TraceConfig(path=path, max_bytes=60_000, keep=500))
    for writer, numbers in ((first, range(0, 1000, 2)), (second, range(1, 1000, 2))):
        for n in numbers:
            writer.write(record(n))
    await asyncio.gather(first.close(), second.close())

    files = trace_files(path)
    assert len(files) > 100
    assert [f.name for f in files if f.stat().st_size > 60_000] == []
    stats = ReadStats()
    got = [r["request_id"] for r in iter_records(path, stats=stats)]
    assert sorted(got) == [f"req_{n:05d}" for n in range(1000)]
    assert stats.damaged == 0
    for mine in (range(0, 1000, 2), range(1, 1000, 2)):  # each writer's lines keep their order
        assert [i for i in got if int(i[4:]) in mine] == [f"req_{n:05d}" for n in mine]
