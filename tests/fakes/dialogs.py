"""The dialog state port in memory."""

from __future__ import annotations

from datetime import datetime

from core.model import Channel, DialogState
from core.ports import AbstractDialogRepository
from tests.fakes.data import FakeRepo


class FakeDialogs(FakeRepo, AbstractDialogRepository):
    async def load_for_update(self, channel: Channel, user_id: str) -> DialogState:
        state = self.data.dialogs.get((channel, user_id))
        if state is None:
            return DialogState(channel, user_id)
        return DialogState(channel, user_id, state.state, dict(state.data))

    async def save(self, state: DialogState, at: datetime) -> None:
        self.data.dialogs[(state.channel, state.user_id)] = state

    async def first_time_seen(self, channel: Channel, key: str, at: datetime) -> bool:
        if (channel, key) in self.data.seen:
            return False
        self.data.seen.add((channel, key))
        return True
