"""A dedicated thread that writes lines in batches, so that the event loop never waits on a disk or pipe.

The event loop hands over whole lines (`add()`: a deque append, no lock, no syscall); the thread
lets a batch gather for `interval` seconds, then gives everything queued to its `sink` at once.
Lines keep their order; `flush()` waits until the lines added so far are written (for a caller
about to write to the same place another way), `close()` writes everything still queued.

What such a thread costs is mostly not its own work but its wake-ups: each time it blocks (a wait,
a system call) it has to take the interpreter lock back from the event loop, a hand-over that costs
both threads tens of microseconds on a busy core. So the thread wakes once per batch and no more:
while lines keep coming it sleeps one gathering after the other and writes what gathered, without
being signalled; only after a gathering that brought nothing does it park on an event, which the
next `add()` sets (the only `add()` that touches a lock). Longer batches would wake the thread less
often, but they also make longer bursts of work after the exchange (the dashboard index takes a
whole batch of records at once), and on a shared core that showed as added latency: 100 ms batches
raised the median latency at concurrency 1 from about 2.4 ms to 3.4 ms on a loaded machine, so the
batches stay at `interval`. A queued item need not be a line: the sink gets whatever was added (the
trace writer queues a line with the record it was made from).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Final, Generic, TypeVar

DEFAULT_INTERVAL: Final = 0.02  # seconds a batch gathers: 50 wake-ups a second at most
DEFAULT_LIMIT: Final = 100_000  # lines queued at most; beyond, add() refuses them

Item = TypeVar("Item")


class BatchWriter(Generic[Item]):
    """Items in, batches out to `sink` on a daemon thread."""

    def __init__(
        self,
        sink: Callable[[list[Item]], None],
        *,
        name: str,
        interval: float = DEFAULT_INTERVAL,
        limit: int = DEFAULT_LIMIT,
        on_start: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """`on_start` and `on_stop` run on the thread, before the first batch and after the last."""
        self._sink = sink
        self._on_start = on_start
        self._on_stop = on_stop
        self._name = name
        self._interval = interval
        self._limit = limit
        self._queue: deque[Item] = deque()
        self._wake = threading.Event()  # set by the first add() while the thread is parked
        self._parked = False  # the thread found nothing to write and waits on _wake
        self._started = threading.Event()  # on_start has run
        self._flushes: deque[threading.Event] = deque()  # flush() callers waiting for their lines
        self._hurry = threading.Event()  # cuts a batch's gathering short (flush, close)
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def wait_started(self, timeout: float) -> bool:
        """Block until `on_start` has run (at most `timeout` seconds); whether it has."""
        return self._started.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Block until every line added before this call is with the sink (at most `timeout` seconds):
        for writing to the same place by another way right after (a terminal the lines also go to)."""
        if self._thread is None or self._stopping or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._flushes.append(done)
        self._hurry.set()
        self._wake.set()
        return done.wait(timeout)

    def add(self, item: Item) -> bool:
        """Queue one line; False (and nothing queued) when the queue is full or the writer closed."""
        if self._stopping or len(self._queue) >= self._limit:
            return False
        self._queue.append(item)
        # Read after the append: a thread that parks after this read sees the line in the queue.
        if self._parked and not self._wake.is_set():
            self._wake.set()
        return True

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, then stop the thread (blocking: call it off the event loop)."""
        if self._thread is None or self._stopping:
            return
        self._stopping = True
        self._hurry.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        if self._on_start is not None:
            self._on_start()
        self._started.set()
        lines = 0
        while True:
            if not lines and not self._busy():  # nothing came during the last gathering
                self._parked = True
                if not self._busy():  # an add() between the two looks saw _parked unset: look again
                    self._wake.wait()
                self._parked = False
                self._wake.clear()
            if not self._hurry.is_set():
                self._hurry.wait(self._interval)  # let the batch gather, unless a flush or close is waiting
            self._hurry.clear()
            flushes = [self._flushes.popleft() for _ in range(len(self._flushes))]
            lines = self._drain()  # every line added before those flush() calls
            for done in flushes:
                done.set()
            if self._stopping and not self._queue:
                break
        if self._on_stop is not None:
            self._on_stop()

    def _busy(self) -> bool:
        return bool(self._queue) or bool(self._flushes) or self._stopping

    def _drain(self) -> int:
        queue = self._queue
        batch = [queue.popleft() for _ in range(len(queue))]  # popleft is atomic: lines added meanwhile stay
        if batch:
            self._sink(batch)
        return len(batch)
