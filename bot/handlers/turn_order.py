"""One person's turns one at a time, in the order the platform gave their messages.

A person's messages sent a few milliseconds apart reach the server on parallel
connections and can arrive in any order. Turns of one person never run at once (the
dialog holds this queue's place for the whole turn); when several wait, the next to run
is the one with the lowest platform sequence (Telegram's update_id, Viber's and
Messenger's timestamp), not the one that happened to arrive first. Events without a
sequence (the console) wait in arrival order.

A message that reaches an idle queue starts at once, unless `settle` is set: then it waits
that long for an earlier message still on its way (a cost on every turn, so off by
default). Across processes the state row lock keeps turns apart but in arrival order
(README "Security").
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Queue:
    """The waiters of one key, a heap of (unsequenced, sequence, arrival, granted); `busy`
    while a turn holds the key or settles before choosing who starts."""

    waiting: list[tuple[int, int, int, asyncio.Future[None]]] = field(default_factory=list)
    busy: bool = False
    users: int = 0


class TurnQueue:
    """Per key (a person on a channel) one holder at a time; the lowest sequence goes next."""

    def __init__(self, settle: float = 0.0, sleep: Sleep = asyncio.sleep) -> None:
        self._settle = settle
        self._sleep = sleep
        self._queues: dict[object, _Queue] = {}
        self._arrivals = itertools.count()

    def waiting(self, key: object) -> int:
        """How many turns of `key` wait for the one running (tests, metrics)."""
        queue = self._queues.get(key)
        if queue is None:
            return 0
        return sum(1 for *_, granted in queue.waiting if not granted.done())

    @asynccontextmanager
    async def hold(self, key: object, sequence: int | None = None) -> AsyncIterator[None]:
        """Wait for `key`'s turn (by `sequence`, then arrival) and hold it for the block."""
        queue = self._queues.setdefault(key, _Queue())
        queue.users += 1
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Sequenced turns by their sequence; the others (one channel has either) by arrival.
        rank = (0, sequence) if sequence is not None else (1, 0)
        heapq.heappush(queue.waiting, (*rank, next(self._arrivals), granted))
        try:
            if not queue.busy:
                queue.busy = True
                try:
                    if self._settle > 0:
                        await self._sleep(self._settle)
                finally:
                    _grant_next(queue)  # perhaps to this very turn
            await granted
            yield
        finally:
            if granted.done() and not granted.cancelled():
                # It held the key (or was given it as it was cancelled): pass it on.
                _grant_next(queue)
            else:
                granted.cancel()  # left while waiting; its heap entry is skipped later
            queue.users -= 1
            if queue.users == 0:
                del self._queues[key]


def _grant_next(queue: _Queue) -> None:
    """Give the key to the waiter with the lowest order, or mark it free."""
    while queue.waiting:
        *_, granted = heapq.heappop(queue.waiting)
        if not granted.done():
            granted.set_result(None)
            return
    queue.busy = False
