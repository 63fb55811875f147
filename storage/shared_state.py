"""What used to live in one `kabinet serve` process and now lives in the database, so that
replicas behind a proxy behave as one:

- channel adapters' memories of a chat (`dialog_states.channel_memory`) and when the person
  last wrote (`dialog_states.last_inbound_at`, written by every turn's first statement);
- the files behind signed media URLs (`media`), which Viber's and Messenger's servers fetch
  from whichever replica the proxy picks.

Each call is one short transaction of its own on the engine, outside any turn: an adapter
reads a chat's memory before the dialog's turn and writes it back after the answer is sent.
A call of one statement runs in AUTOCOMMIT on PostgreSQL: one round trip, no BEGIN and
COMMIT around it (a single statement is atomic anyway).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, String, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import ReturningUpdate

from core.model import Channel, ChatMemory, MediaFile
from core.ports import AbstractChatMemories, AbstractMediaFiles
from storage.orm import DialogStateRow, MediaRow
from storage.turn_queries import TurnStatement, for_driver

_dialogs = DialogStateRow.__table__
_media = MediaRow.__table__


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for calls of one statement: in AUTOCOMMIT on PostgreSQL; as it is on SQLite,
    whose transactions take the database's write lock (storage.database) and cost no
    round trip."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@cache
def _recall() -> Select[Any]:
    """The memory and last message time of (:of_channel, :of_user)."""
    return select(_dialogs.c.channel_memory, _dialogs.c.last_inbound_at).where(
        _dialogs.c.channel == bindparam("of_channel", type_=String),
        _dialogs.c.user_id == bindparam("of_user", type_=String),
    )


@cache
def _keep() -> ReturningUpdate:
    """Replace the memory of (:of_channel, :of_user) with :memory (bind names that are not
    column names, as an UPDATE needs); its key when a row was there."""
    return (
        update(_dialogs)
        .where(
            _dialogs.c.channel == bindparam("of_channel", type_=String),
            _dialogs.c.user_id == bindparam("of_user", type_=String),
        )
        .values(channel_memory=bindparam("memory", type_=_dialogs.c.channel_memory.type))
        .returning(_dialogs.c.user_id)
    )


class SqlChatMemories(AbstractChatMemories):
    """Adapters' chat memories in the dialog state rows.

    A call is one statement by primary key, made for every Telegram turn: on PostgreSQL
    it runs on the asyncpg connection directly, compiled once (as the turn's own
    statements, `storage.turn_queries.for_driver`), outside a transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = single_statements(engine)
        self._on_driver = engine.dialect.driver == "asyncpg"

    async def _run(self, statement: TurnStatement, params: dict[str, Any]) -> Sequence[Any]:
        async with self._engine.connect() as connection:
            if not self._on_driver:
                rows = (await connection.execute(statement, params)).all()
                await connection.commit()
                return rows
            raw = await connection.get_raw_connection()
            prepared = for_driver(statement, self._engine.dialect)
            assert raw.driver_connection is not None  # an open asyncpg connection
            return await raw.driver_connection.fetch(prepared.sql, *prepared.arguments(params))

    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        """One primary-key read."""
        where = {"of_channel": Channel(channel).value, "of_user": user_id}
        rows = await self._run(_recall(), where)
        if not rows:
            return ChatMemory()
        memory, last_inbound = rows[0][0], rows[0][1]
        if isinstance(memory, str):  # the driver hands json over as text
            memory = json.loads(memory)
        return ChatMemory(dict(memory or {}), last_inbound)

    async def recall_many(self, channel: Channel, user_ids: Sequence[str]) -> dict[str, ChatMemory]:
        """One read for a batch of pushes' chats (a chat with no row: an empty memory)."""
        found = {user_id: ChatMemory() for user_id in user_ids}
        if not user_ids:
            return found
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(
                    _dialogs.c.user_id, _dialogs.c.channel_memory, _dialogs.c.last_inbound_at
                ).where(
                    _dialogs.c.channel == Channel(channel).value,
                    _dialogs.c.user_id.in_(list(user_ids)),
                )
            )
            for user_id, memory, last_inbound in rows:
                if isinstance(memory, str):
                    memory = json.loads(memory)
                found[user_id] = ChatMemory(dict(memory or {}), last_inbound)
        return found

    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        """One update of the row the person's turns made. No row, nothing kept: the person
        erased their data meanwhile (their chat memory must not come back), or never wrote
        (a push: there is nothing of theirs to remember across turns yet)."""
        memory: Any = dict(data)
        if self._on_driver:  # no bind processing on the driver: json goes as text
            memory = json.dumps(memory, ensure_ascii=False)
        params = {"of_channel": Channel(channel).value, "of_user": user_id, "memory": memory}
        await self._run(_keep(), params)


class SqlMediaFiles(AbstractMediaFiles):
    """Media files in the `media` table, at most `max_items` of them and `max_bytes` in all:
    each put drops the oldest beyond either cap (expired ones go with retention)."""

    def __init__(self, engine: AsyncEngine, *, max_items: int, max_bytes: int) -> None:
        self._engine = engine
        self._single = single_statements(engine)
        self._max_items = max_items
        self._max_bytes = max_bytes

    async def put(
        self, key: str, file: MediaFile, created_at: datetime, expires_at: datetime
    ) -> None:
        """Insert, then evict beyond the caps, in one transaction."""
        newest_first = (_media.c.created_at.desc(), _media.c.key)
        ranked = select(
            _media.c.key,
            func.row_number().over(order_by=newest_first).label("number"),
            func.sum(_media.c.size).over(order_by=newest_first, rows=(None, 0)).label("total"),
        ).subquery("ranked")
        beyond = select(ranked.c.key).where(
            or_(ranked.c.number > self._max_items, ranked.c.total > self._max_bytes)
        )
        async with self._engine.begin() as connection:
            await connection.execute(
                _media.insert().values(
                    key=key,
                    mime_type=file.mime_type,
                    filename=file.filename,
                    content=file.content,
                    size=len(file.content),
                    created_at=created_at,
                    expires_at=expires_at,
                )
            )
            await connection.execute(delete(_media).where(_media.c.key.in_(beyond)))

    async def get(self, key: str, now: datetime) -> MediaFile | None:
        """One primary-key read."""
        query = select(_media.c.filename, _media.c.content, _media.c.mime_type).where(
            _media.c.key == key, _media.c.expires_at >= now
        )
        async with self._single.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return None
        return MediaFile(row.filename, bytes(row.content), row.mime_type)
