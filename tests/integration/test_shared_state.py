"""Issue 16, point 3, on SQLite and PostgreSQL: what replicas share through the database —
when a person last wrote (noted by the turn itself), adapters' chat memories, and the files
behind signed media URLs (bounded, expiring, deleted by retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.media import MediaStore
from bot.messages import Attachment
from core.model import Channel, ChatMemory, DialogState, MediaFile
from storage.database import make_engine
from storage.retention import Retention, RetentionPolicy
from storage.shared_state import SqlChatMemories, SqlMediaFiles
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.integration.wire import WireCounter

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def _turn(
    uow_factory: SqlAlchemyUnitOfWorkFactory, user_id: str, key: str | None, at: datetime
) -> bool:
    """The first statement of a turn, committed; False for an update seen before."""
    async with uow_factory() as uow:
        fresh = await uow.begin_turn(Channel.MESSENGER, user_id, key, at) is not None
        await uow.commit()
    return fresh


async def test_every_turn_notes_when_the_person_wrote(
    uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    memories = SqlChatMemories(engine)
    assert await memories.recall(Channel.MESSENGER, "psid-1") == ChatMemory()
    assert await _turn(uow_factory, "psid-1", "m-1", NOW)
    assert (await memories.recall(Channel.MESSENGER, "psid-1")).last_inbound == NOW
    later = NOW + timedelta(hours=30)
    assert await _turn(uow_factory, "psid-1", "m-2", later)
    assert (await memories.recall(Channel.MESSENGER, "psid-1")).last_inbound == later
    # A redelivered update is not a new message.
    assert not await _turn(uow_factory, "psid-1", "m-1", later + timedelta(hours=1))
    assert (await memories.recall(Channel.MESSENGER, "psid-1")).last_inbound == later
    # Other people and channels are their own.
    assert (await memories.recall(Channel.TELEGRAM, "psid-1")).last_inbound is None


async def test_chat_memories_are_kept_beside_the_state_and_only_for_who_wrote(
    uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    memories = SqlChatMemories(engine)
    remembered = {"keyboard": {"Не зараз": "menu"}, "keyboard_shown": True, "last_message": 7}
    # Nobody wrote (or they erased their data): nothing is kept, no row is made.
    await memories.keep(Channel.TELEGRAM, "42", remembered)
    assert await memories.recall(Channel.TELEGRAM, "42") == ChatMemory()

    async with uow_factory() as uow:
        await uow.begin_turn(Channel.TELEGRAM, "42", "u-1", NOW)
        await uow.commit()
    await memories.keep(Channel.TELEGRAM, "42", remembered)
    assert (await SqlChatMemories(engine).recall(Channel.TELEGRAM, "42")).data == remembered
    # The dialog's own writes leave the adapter's memory alone, and the other way round.
    async with uow_factory() as uow:
        await uow.begin_turn(Channel.TELEGRAM, "42", "u-2", NOW)
        await uow.dialogs.save(DialogState(Channel.TELEGRAM, "42", "asked", {"a": 1}), NOW)
        await uow.commit()
    await memories.keep(Channel.TELEGRAM, "42", {"last_message": 8})
    recalled = await memories.recall(Channel.TELEGRAM, "42")
    assert recalled.data == {"last_message": 8}
    async with uow_factory() as uow:
        state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "42")
    assert (state.state, state.data) == ("asked", {"a": 1})


async def test_media_files_are_read_by_any_store_within_their_caps(engine: AsyncEngine) -> None:
    files = SqlMediaFiles(engine, max_items=3, max_bytes=10)
    elsewhere = SqlMediaFiles(engine, max_items=3, max_bytes=10)  # another replica
    later = NOW + timedelta(hours=1)

    def file(content: bytes) -> MediaFile:
        return MediaFile("bill.pdf", content, "application/pdf")

    await files.put("k1", file(b"12345"), NOW, later)
    assert await elsewhere.get("k1", NOW) == file(b"12345")
    assert await elsewhere.get("k1", later + timedelta(seconds=1)) is None  # expired
    assert await elsewhere.get("nobody", NOW) is None
    await files.put("k2", file(b"67890"), NOW + timedelta(seconds=1), later)
    assert await elsewhere.get("k1", NOW) is not None  # 10 bytes: within the cap
    await files.put("k3", file(b"x"), NOW + timedelta(seconds=2), later)
    assert await elsewhere.get("k1", NOW) is None  # 11 bytes: the oldest went
    await files.put("k4", file(b"y"), NOW + timedelta(seconds=3), later)
    await files.put("k5", file(b"z"), NOW + timedelta(seconds=4), later)
    kept = [key for key in ("k2", "k3", "k4", "k5") if await elsewhere.get(key, NOW)]
    assert kept == ["k3", "k4", "k5"]  # at most three files


async def test_a_media_url_made_by_one_store_is_served_by_another(engine: AsyncEngine) -> None:
    def store() -> MediaStore:
        files = SqlMediaFiles(engine, max_items=10, max_bytes=10_000)
        return MediaStore(b"the same secret", "https://k.example", files=files)

    made, other = store(), store()
    bill = Attachment("bill.pdf", b"%PDF-1.4 bill", "application/pdf")
    token = made.url_for(bill).rsplit("/", 1)[1]
    await made.save()
    assert await other.get(token) == (200, bill)
    assert (await other.get(token.replace(".pdf", "x.pdf")))[0] == 403


async def test_retention_deletes_expired_media_only(engine: AsyncEngine) -> None:
    files = SqlMediaFiles(engine, max_items=10, max_bytes=10_000)
    wall = datetime.now(UTC)  # media expire by the wall clock, whatever the app's clock says
    pdf = MediaFile("a.pdf", b"1", "application/pdf")
    for n in range(3):
        await files.put(f"old-{n}", pdf, wall - timedelta(days=2), wall - timedelta(days=1))
    await files.put("fresh", pdf, wall, wall + timedelta(hours=1))
    policy = RetentionPolicy(
        processed_updates=None, outbox=None, expired_photos=False, pending_photos=None, batch=2
    )
    retention = Retention(engine, None, policy)

    assert await retention.run(NOW) == {"media": 3}
    assert await files.get("fresh", wall) == pdf
    assert await retention.run(NOW) == {"media": 0}


async def test_a_chat_memory_costs_one_round_trip_each_way(
    database_url: str, dialect_name: str, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    """What an adapter adds to a turn on PostgreSQL: one read before, one write after (only
    when the memory changed), each a single statement without BEGIN and COMMIT."""
    if dialect_name != "postgresql":
        pytest.skip("round trips are counted on PostgreSQL's wire protocol")
    async with uow_factory() as uow:
        await uow.begin_turn(Channel.TELEGRAM, "43", "u-1", NOW)
        await uow.commit()
    counter = WireCounter(database_url)
    engine = make_engine(await counter.start())
    try:
        memories = SqlChatMemories(engine)
        await memories.keep(Channel.TELEGRAM, "43", {"last_message": 1})  # statements are
        await memories.recall(Channel.TELEGRAM, "43")  # prepared on first use
        counter.reset()
        recalled = await memories.recall(Channel.TELEGRAM, "43")
        assert counter.round_trips == 1, counter.queries
        counter.reset()
        await memories.keep(Channel.TELEGRAM, "43", {**recalled.data, "last_message": 2})
        assert counter.round_trips == 1, counter.queries
    finally:
        await engine.dispose()
        await counter.stop()


async def test_a_batch_of_pushes_reads_its_chats_memories_at_once(
    uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    memories = SqlChatMemories(engine)
    for user_id in ("51", "52"):
        async with uow_factory() as uow:
            await uow.begin_turn(Channel.TELEGRAM, user_id, f"u-{user_id}", NOW)
            await uow.commit()
    await memories.keep(Channel.TELEGRAM, "51", {"keyboard_shown": True})
    recalled = await memories.recall_many(Channel.TELEGRAM, ["51", "52", "53"])
    # Someone who never wrote (53) has an empty memory, as a single recall says.
    assert recalled == {
        "51": ChatMemory({"keyboard_shown": True}, NOW),
        "52": ChatMemory({}, NOW),
        "53": ChatMemory(),
    }
    assert await memories.recall_many(Channel.TELEGRAM, []) == {}
