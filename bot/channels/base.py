"""What every messenger adapter offers the composition root and the delivery workers."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

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
