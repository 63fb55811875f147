"""Engine set-up: SQLite pragmas, time zones on the way back, foreign keys everywhere."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Channel
from core.ports import StoreUnavailable
from observability.logs import CHATTY_LIBRARIES, quiet_chatty_libraries
from storage.database import make_engine
from storage.migrate import migrate
from storage.orm import MeterRow, ProcessedUpdateRow
from storage.uow import SqlAlchemyUnitOfWorkFactory

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


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


async def test_a_lost_connection_costs_one_unit_of_work(engine: AsyncEngine) -> None:
    """The server drops every connection (a restart does): the unit of work that meets a
    dead pooled connection fails, the pool is renewed, and the next one works."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server drops connections; the embedded SQLite has none")
    factory = SqlAlchemyUnitOfWorkFactory(engine)
    keys = iter(f"lost-{n}" for n in range(10))

    async def turn() -> None:
        async with factory() as uow:
            assert await uow.begin_turn(Channel.TELEGRAM, "5", next(keys), NOON) is not None
            await uow.commit()

    async def drop_every_connection() -> None:
        server = await asyncpg.connect(
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            await server.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await server.close()

    # Three connections in the pool, all dropped by the server.
    await asyncio.gather(turn(), turn(), turn())
    await drop_every_connection()
    await asyncio.sleep(0.2)
    # The unit of work says the database was out of reach (the channel then has the update
    # delivered again), naming only the error's kind; the driver's words are its cause.
    with pytest.raises(StoreUnavailable) as failure:
        await turn()
    cause = str(failure.value.__cause__).lower()
    assert "closed" in cause or "terminat" in cause or "connection" in cause, cause
    for _ in range(3):
        await turn()


async def test_a_database_error_logs_no_parameter_values(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 18: the failing statement is logged with placeholders, never the values."""
    log = logging.getLogger("kabinet.test")
    levels = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    quiet_chatty_libraries()  # as the application configures logging
    statement = text("INSERT INTO persons (name, phone, created_at) VALUES (:name, :phone, NULL)")
    with caplog.at_level(logging.DEBUG):
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    statement, {"name": "Секретна Олена", "phone": "+380501112233"}
                )
        except IntegrityError:
            log.exception("the turn failed")
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
    assert "INSERT INTO persons" in caplog.text  # the error was logged, with its statement
    assert "Секретна" not in caplog.text and "380501112233" not in caplog.text
