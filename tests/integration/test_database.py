"""Engine set-up: SQLite pragmas, time zones on the way back, foreign keys everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import make_engine
from storage.migrate import migrate
from storage.orm import MeterRow, ProcessedUpdateRow


async def test_sqlite_file_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA busy_timeout")) >= 1000
    finally:
        await engine.dispose()


async def test_sqlite_in_memory_works(tmp_path: Path) -> None:
    engine = make_engine("sqlite+aiosqlite://")
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("SELECT count(*) FROM accounts")) == 0
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                MeterRow.__table__.insert().values(
                    account_id=999_999,
                    serial="x",
                    type_name="x",
                    zones=["day"],
                    digit_count=6,
                    installed_on=date(2020, 1, 1),
                    install_readings={"day": 0},
                )
            )


async def test_times_come_back_aware_in_utc(engine: AsyncEngine) -> None:
    kyiv_summer = timezone(timedelta(hours=3))
    seen = datetime(2026, 7, 1, 0, 30, tzinfo=kyiv_summer)
    table = ProcessedUpdateRow.__table__
    async with engine.begin() as connection:
        await connection.execute(table.insert().values(channel="viber", key="k", seen_at=seen))
    async with engine.connect() as connection:
        stored = await connection.scalar(select(table.c.seen_at))
        earlier = await connection.scalar(
            select(table.c.seen_at).where(table.c.seen_at < datetime(2026, 6, 30, 22, tzinfo=UTC))
        )
    assert stored == seen
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 21 and stored.day == 30
    assert earlier == seen  # compared as instants, not as wall-clock text
