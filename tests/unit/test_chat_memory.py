"""`remembering`: a chat's adapter memory is read once, written back once and only when it
changed; lazily read when asked to; a database that fails costs the memory, not the turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.channels.base import LocalChatMemories, PrefetchedMemories, remembering
from core.model import Channel, ChatMemory
from core.ports import AbstractChatMemories


class Counting(AbstractChatMemories):
    """Local memories that count the calls, and can be made to fail."""

    def __init__(self, *, failing: bool = False) -> None:
        self.inner = LocalChatMemories()
        self.recalls = 0
        self.keeps = 0
        self.failing = failing

    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        self.recalls += 1
        if self.failing:
            raise ConnectionError("database down")
        return await self.inner.recall(channel, user_id)

    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        self.keeps += 1
        if self.failing:
            raise ConnectionError("database down")
        await self.inner.keep(channel, user_id, data)


async def test_written_back_only_when_changed() -> None:
    memories = Counting()
    async with remembering(memories, Channel.TELEGRAM, "1") as memo:
        memo.data["keyboard"] = {"Не зараз": "menu"}
    async with remembering(memories, Channel.TELEGRAM, "1") as memo:
        assert memo.data == {"keyboard": {"Не зараз": "menu"}}
        memo.data["keyboard"]["Так"] = "yes"  # changed in place: a copy was handed out
    async with remembering(memories, Channel.TELEGRAM, "1") as memo:
        assert memo.data["keyboard"] == {"Не зараз": "menu", "Так": "yes"}
    assert (memories.recalls, memories.keeps) == (3, 2)


async def test_a_lazy_memory_is_read_only_when_asked() -> None:
    memories = Counting()
    async with remembering(memories, Channel.MESSENGER, "p", lazy=True) as memo:
        memo.data["ignored"] = True  # never read: nothing to compare with, nothing written
    assert (memories.recalls, memories.keeps) == (0, 0)
    async with remembering(memories, Channel.MESSENGER, "p", lazy=True) as memo:
        await memo.load()
        await memo.load()
        memo.data["phone_offered"] = True
    assert (memories.recalls, memories.keeps) == (1, 1)
    assert (await memories.recall(Channel.MESSENGER, "p")).data == {"phone_offered": True}


async def test_a_failing_database_costs_the_memory_not_the_turn(caplog) -> None:
    memories = Counting(failing=True)
    async with remembering(memories, Channel.TELEGRAM, "1") as memo:
        assert memo.data == {} and memo.last_inbound is None
        memo.data["last_message"] = 5
    assert "chat memory not read" in caplog.text and "chat memory not kept" in caplog.text


class Batched(Counting):
    """Counting memories that also count reads of many chats at once."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def recall_many(self, channel: Channel, user_ids: Sequence[str]) -> dict[str, ChatMemory]:
        self.batches.append(list(user_ids))
        return {user_id: await self.inner.recall(channel, user_id) for user_id in user_ids}


async def test_pushes_of_a_batch_take_their_memories_read_ahead_at_once() -> None:
    store = Batched()
    await store.inner.keep(Channel.TELEGRAM, "1", {"keyboard_shown": True})
    memories = PrefetchedMemories(store)
    await memories.prefetch(Channel.TELEGRAM, ["1", "2", "3"])
    assert store.batches == [["1", "2", "3"]]
    async with remembering(memories, Channel.TELEGRAM, "1") as memo:
        assert memo.data == {"keyboard_shown": True}
    async with remembering(memories, Channel.TELEGRAM, "2") as memo:
        assert memo.data == {}
    assert store.recalls == 0  # no read of its own per push
    # Taken once: the next recall of the chat reads again.
    assert (await memories.recall(Channel.TELEGRAM, "1")).data == {"keyboard_shown": True}
    assert store.recalls == 1
    # Keeping a chat's memory forgets what was read ahead of it.
    await memories.keep(Channel.TELEGRAM, "3", {"standing": "abc"})
    assert (await memories.recall(Channel.TELEGRAM, "3")).data == {"standing": "abc"}
    assert store.recalls == 2


async def test_memories_read_ahead_go_stale() -> None:
    store = Batched()
    memories = PrefetchedMemories(store, fresh_seconds=0.0)
    await memories.prefetch(Channel.TELEGRAM, ["1"])
    await store.inner.keep(Channel.TELEGRAM, "1", {"changed": True})
    assert (await memories.recall(Channel.TELEGRAM, "1")).data == {"changed": True}


async def test_memories_read_ahead_are_bounded() -> None:
    memories = PrefetchedMemories(Batched(), size=2)
    await memories.prefetch(Channel.TELEGRAM, ["1", "2", "3"])
    assert len(memories._ahead) == 2
