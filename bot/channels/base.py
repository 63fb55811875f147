"""What every messenger adapter offers the composition root and the delivery workers."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from bot.messages import Incoming, Reply
from core.model import Channel

Handle = Callable[[Incoming], Awaitable[list[Reply]]]
"""The dialog's entry point: a neutral input in, replies out."""


class DeliveryStatus(StrEnum):
    """How sending to one person ended; delivery decides about retries from it."""

    SENT = "sent"
    RETRY_LATER = "retry_later"  # rate limited or a network error: try again after `retry_after`
    UNREACHABLE = "unreachable"  # blocked, unsubscribed, outside the messaging window
    FAILED = "failed"  # a permanent error that is not about the person (bad request, token)


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of `send`, with the platform's words for the log."""

    status: DeliveryStatus
    retry_after: float = 0.0
    detail: str = ""


class ChannelAdapter(abc.ABC):
    """One messenger: routes for its webhook, start/stop, and sending replies to a user."""

    channel: Channel

    @abc.abstractmethod
    def register_routes(self, app: web.Application) -> None:
        """Add the webhook routes of this channel to the HTTP application."""

    async def start(self) -> None:
        """Called when the server starts: register the webhook or start polling."""
        return None

    async def stop(self) -> None:
        """Called when the server stops: release sessions and tasks."""
        return None

    @abc.abstractmethod
    async def send(self, user_id: str, replies: list[Reply]) -> DeliveryResult:
        """Send replies to a user outside a conversation turn (pushes)."""


class BackgroundWork:
    """Tasks an adapter starts outside a request (registrations, slow turns, typing).

    Keeping a reference stops them being garbage-collected mid-flight; `drain` lets them
    finish on shutdown, within a bound, and cancels the rest.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `work` in the background and keep it referenced until it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace_seconds: float = 10) -> None:
        """Wait for running work up to `grace_seconds`, then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:  # e.g. a start-up registration still waiting to retry
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends or spaces when possible.

    Every platform caps a message's length; a long answer goes out as several messages.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces
