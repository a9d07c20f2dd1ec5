"""The batch writer: lines keep their order, arrive in a few batches, and close() writes them all."""

from __future__ import annotations

import threading
import time

from axonhub.batch_writer import BatchWriter


def test_lines_added_together_reach_the_sink_in_order_in_one_batch() -> None:
    batches: list[list[bytes]] = []
    writer = BatchWriter(batches.append, name="test-writer", interval=0.2)
    writer.start()
    for n in range(1000):
        assert writer.add(b"%d\n" % n)
    writer.close()
    assert [line for batch in batches for line in batch] == [b"%d\n" % n for n in range(1000)]
    assert len(batches) == 1  # one wake-up for the lot, not one per line


def test_a_line_added_after_a_batch_went_out_starts_the_next_batch() -> None:
    batches: list[list[bytes]] = []
    written = threading.Event()

    def sink(batch: list[bytes]) -> None:
        batches.append(batch)
        written.set()

    writer = BatchWriter(sink, name="test-writer", interval=0.001)
    writer.start()
    writer.add(b"first\n")
    assert written.wait(5)
    writer.add(b"second\n")
    writer.close()
    assert batches == [[b"first\n"], [b"second\n"]]


def test_a_full_queue_refuses_lines_and_a_closed_writer_takes_none() -> None:
    release = threading.Event()
    batches: list[list[bytes]] = []
    writer = BatchWriter(batches.append, name="test-writer", limit=3, on_start=lambda: release.wait(5))
    writer.start()
    assert [writer.add(b"%d" % n) for n in range(5)] == [True, True, True, False, False]
    release.set()
    writer.close()
    assert writer.add(b"late") is False
    assert [line for batch in batches for line in batch] == [b"0", b"1", b"2"]


def test_close_waits_for_the_sink_and_runs_on_stop_last() -> None:
    events: list[str] = []

    def slow_sink(batch: list[bytes]) -> None:
        time.sleep(0.05)
        events.append(f"wrote {len(batch)}")

    writer = BatchWriter(slow_sink, name="test-writer", on_stop=lambda: events.append("stopped"))
    writer.start()
    writer.add(b"a")
    writer.add(b"b")
    writer.close()
    assert events == ["wrote 2", "stopped"]


def test_flush_returns_once_every_earlier_line_is_written_without_waiting_for_the_batch() -> None:
    batches: list[list[bytes]] = []
    writer = BatchWriter(batches.append, name="test-writer", interval=30.0)
    writer.start()
    writer.add(b"first\n")
    writer.add(b"second\n")
    began = time.monotonic()
    assert writer.flush(timeout=5)
    assert time.monotonic() - began < 5  # not the 30 s a batch would otherwise gather for
    assert [line for batch in batches for line in batch] == [b"first\n", b"second\n"]
    writer.close()
