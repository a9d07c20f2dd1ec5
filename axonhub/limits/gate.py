"""A channel's concurrency cap with a bounded FIFO wait queue (one `Gate` per channel per process).

Coding-plan upstreams answer 429 when parallel subagents fan out; a request that finds every slot
taken waits in line instead of failing. Only the head of the line tries to take a slot, so requests
go upstream in the order they arrived. The head tries again as soon as a slot is given back in this
process, and every `poll` seconds in any case (a slot freed by another instance sharing Redis, or
one whose holder died and whose lease expired). The wait is bounded twice: at most `max_queue`
requests wait (the next one is turned away at once) and none waits longer than `wait_at_most`.

The gate does not know where slots live: `try_take()` asks the state backend and answers True
(taken), False (all taken: wait) or raises (give up on this channel now).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable


class QueueFull(Exception):
    """`max_queue` requests are already waiting for this channel."""


class QueueTimeout(Exception):
    """No slot became free within the queue timeout."""


class Gate:
    """The line of requests waiting for one channel's slots."""

    def __init__(self) -> None:
        self._line: deque[asyncio.Event] = deque()

    @property
    def waiting(self) -> int:
        return len(self._line)

    async def enter(
        self, try_take: Callable[[], Awaitable[bool]], *, wait_at_most: float, max_queue: int, poll: float
    ) -> None:
        """Return once `try_take()` took a slot; raise QueueFull or QueueTimeout otherwise."""
        if not self._line and await try_take():
            return
        if len(self._line) >= max_queue:
            raise QueueFull
        turn = asyncio.Event()
        self._line.append(turn)
        try:
            async with asyncio.timeout(wait_at_most):
                await self._wait_in_line(turn, try_take, poll)
        except TimeoutError:
            raise QueueTimeout from None
        finally:
            was_head = bool(self._line) and self._line[0] is turn
            self._line.remove(turn)
            if was_head and self._line:
                self._line[0].set()  # the next in line tries now

    async def _wait_in_line(self, turn: asyncio.Event, try_take: Callable[[], Awaitable[bool]], poll: float) -> None:
        while True:
            if self._line[0] is turn:
                if await try_take():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(turn.wait(), poll)
            else:
                await turn.wait()
            turn.clear()

    def released(self) -> None:
        """A slot was given back in this process: the head of the line tries at once."""
        if self._line:
            self._line[0].set()
