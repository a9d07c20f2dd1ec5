"""Live updates: server-sent events to open pages as records reach the index, and waiters for replays.

The index thread hands each batch of new records to `LiveHub.publish_threadsafe`; the hub turns
them into small summaries (no bodies) and queues them for every open event stream. A stream whose
page does not keep up loses its backlog and gets a `resync` event instead (it reloads what it
shows), so a slow browser never grows the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

from axonhub import fastjson
from axonhub.trace import is_error
from axonhub.trace_record import TraceRecord

QUEUE_LIMIT: Final = 500
KEEPALIVE_S: Final = 15.0
_SUMMARY_FIELDS: Final = (
    "time",
    "request_id",
    "trace_id",
    "kind",
    "key",
    "requested_model",
    "resolved_model",
    "channel",
    "profile",
    "status",
    "stop_reason",
    "replay_of",
)


def record_event(record: TraceRecord) -> dict[str, Any]:
    """What a page needs to show a new exchange: no bodies, no headers."""
    timings = record.get("timings") or {}
    return {
        **{name: record.get(name) for name in _SUMMARY_FIELDS},
        "usage": record.get("usage"),
        "total_ms": timings.get("total_ms") if isinstance(timings, dict) else None,
        "error": is_error(record),
    }


def sse_frame(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + fastjson.dumps_ascii(data) + b"\n\n"


class Subscriber:
    """One open event stream: a bounded queue of frames."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, frame: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(sse_frame("resync", {"reason": "too many updates at once"}))


class LiveHub:
    """Fans records out to subscribers; resolves replay waiters. Lives on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.subscribers: set[Subscriber] = set()
        self._waiters: dict[str, asyncio.Future[TraceRecord]] = {}

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish_threadsafe(self, records: list[TraceRecord]) -> None:
        """From the index thread: queue the records for every page (on the loop); with no page open,
        nothing (a page that opens meanwhile starts from the index, which holds them)."""
        if not self.subscribers:
            return
        events = [record_event(r) for r in records]
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self._publish, events)

    def broadcast_threadsafe(self, event: str, data: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self.broadcast, event, data)

    def broadcast(self, event: str, data: Any) -> None:
        frame = sse_frame(event, data)
        for subscriber in list(self.subscribers):
            subscriber.offer(frame)

    def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.broadcast("record", event)

    # -- replay waiters -----------------------------------------------------------------------

    def expect(self, request_id: str) -> asyncio.Future[TraceRecord]:
        """A future resolved with the record of `request_id` as soon as that exchange finishes."""
        future: asyncio.Future[TraceRecord] = self.loop.create_future()
        self._waiters[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        self._waiters.pop(request_id, None)

    def on_exchange(self, record: TraceRecord) -> None:
        """ON_EXCHANGE_DONE callback (on the loop): resolve the waiter for this request, if any."""
        future = self._waiters.pop(str(record.get("request_id")), None)
        if future is not None and not future.done():
            future.set_result(record)
