"""Transaction-scoped locks for writes that read before they insert.

A read-then-insert (the next schedule version, an import's "is this row new?") lets two
concurrent PostgreSQL transactions both decide to insert; the second then fails on the
unique key with a 500. Taking an advisory lock on what is being written first makes them
take turns, and the second sees the first one's rows. SQLite needs none: its transactions
start with BEGIN IMMEDIATE and already run one at a time.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lock_for_transaction(session: AsyncSession, name: str) -> None:
    """Wait for, then hold until commit or rollback, the lock called `name` (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
