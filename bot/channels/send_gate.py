"""The gate a push's platform call waits at, at the last step before the wire.

Delivery marks a part's rows `sending` right before their calls; a worker killed after that
commit and before a call's bytes leave loses that push (it stays `uncertain`, never sent
twice). For an adapter that passes its calls through this gate (`ChannelAdapter.gated`),
delivery starts the part's sends first: each does its work (the chat's memory, rendering,
the request body, a connection, the request's headers) and waits here with nothing left but
one write; once all have arrived, the rows are marked and the gate opens. What is left
between the commit and the bytes is that write per call.

A call outside delivery (a turn's reply) finds no gate and goes straight on.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Collection


class GateRefused(Exception):
    """The push's row was not marked `sending` (another worker took it back meanwhile, or
    the mark failed): its call must not go out."""


class SendGate:
    """One part's gate: `arrived` when every send has reached it (or ended without a call),
    then `open` lets the marked ones through."""

    def __init__(self, expected: int) -> None:
        self._expected = expected
        self._seen: set[int] = set()
        self._all_here = asyncio.Event()
        self._opened = asyncio.Event()
        self._allowed: frozenset[int] = frozenset()
        if expected <= 0:
            self._all_here.set()

    def _count(self, push_id: int) -> None:
        if push_id not in self._seen:
            self._seen.add(push_id)
            if len(self._seen) >= self._expected:
                self._all_here.set()

    async def passage(self, push_id: int) -> None:
        """Wait until the gate opens; GateRefused if this push may not go."""
        self._count(push_id)
        await self._opened.wait()
        if push_id not in self._allowed:
            raise GateRefused(push_id)

    def ended(self, push_id: int) -> None:
        """A send ended (with or without a call): it no longer keeps the part waiting."""
        self._count(push_id)

    async def arrived(self, seconds: float) -> bool:
        """Whether every send reached the gate (or ended) within `seconds`."""
        try:
            await asyncio.wait_for(self._all_here.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def refuses(self, push_id: int) -> bool:
        """Whether the gate has opened without this push."""
        return self._opened.is_set() and push_id not in self._allowed

    def open(self, allowed: Collection[int]) -> None:
        """Let the sends of these pushes through; the others are refused."""
        self._allowed = frozenset(allowed)
        self._opened.set()


CURRENT: contextvars.ContextVar[tuple[SendGate, int] | None] = contextvars.ContextVar(
    "send_gate", default=None
)
"""The gate and push id of the send running in this task (None: not a gated push)."""


async def through_gate() -> None:
    """Called by an adapter right before a call goes on the wire."""
    current = CURRENT.get()
    if current is not None:
        gate, push_id = current
        await gate.passage(push_id)


def refused() -> bool:
    """Whether the send running in this task was refused at its gate (an HTTP client may
    report the refusal raised in its body writer as a failed connection)."""
    current = CURRENT.get()
    return current is not None and current[0].refuses(current[1])
