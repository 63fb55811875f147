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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Channel, ChatMemory, MediaFile
from core.ports import AbstractChatMemories, AbstractMediaFiles
from storage.orm import DialogStateRow, MediaRow

_dialogs = DialogStateRow.__table__
_media = MediaRow.__table__


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for calls of one statement: in AUTOCOMMIT on PostgreSQL; as it is on SQLite,
    whose transactions take the database's write lock (storage.database) and cost no
    round trip."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class SqlChatMemories(AbstractChatMemories):
    """Adapters' chat memories in the dialog state rows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = single_statements(engine)

    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        """One primary-key read."""
        query = select(_dialogs.c.channel_memory, _dialogs.c.last_inbound_at).where(
            _dialogs.c.channel == Channel(channel).value, _dialogs.c.user_id == user_id
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return ChatMemory()
        return ChatMemory(dict(row.channel_memory or {}), row.last_inbound_at)

    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        """One update of the row the person's turns made. No row, nothing kept: the person
        erased their data meanwhile (their chat memory must not come back), or never wrote
        (a push: there is nothing of theirs to remember across turns yet)."""
        statement = (
            update(_dialogs)
            .where(_dialogs.c.channel == Channel(channel).value, _dialogs.c.user_id == user_id)
            .values(channel_memory=dict(data))
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)


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
