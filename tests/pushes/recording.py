"""A channel adapter that records pushes and answers with scripted results."""

from __future__ import annotations

from collections import deque

from aiohttp import web

from bot.channels.base import ChannelAdapter, DeliveryResult, DeliveryStatus, Push
from bot.messages import Reply
from core.model import Channel


class RecordingChannel(ChannelAdapter):
    """Records (user id, replies, extra) per send; `script` results are used first."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[tuple[str, list[Reply], dict]] = []
        self.script: deque[DeliveryResult] = deque()

    def register_routes(self, app: web.Application) -> None:
        return None

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        result = self.script.popleft() if self.script else DeliveryResult(DeliveryStatus.SENT)
        if result.status == DeliveryStatus.SENT:
            extra = {"topic": push.topic, "subject": push.subject}
            self.sent.append((user_id, push.replies, extra))
        return result

    def texts(self) -> list[str]:
        return ["\n".join(reply.text for reply in replies) for _, replies, _ in self.sent]
