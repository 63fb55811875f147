"""Engines for the embedded SQLite database and for PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(
    url: str | URL, *, echo: bool = False, pool_size: int = 15, max_overflow: int = 0
) -> AsyncEngine:
    """An async engine for `url` (sqlite+aiosqlite or postgresql+asyncpg), ready to use.

    SQLite gets foreign keys on, WAL and a busy timeout for files, and transactions that take
    the write lock at BEGIN. PostgreSQL gets a bounded pool (DATABASE_POOL_SIZE, with
    DATABASE_MAX_OVERFLOW more connections under a burst). Statement parameters are never
    put into error messages: they hold personal data, and errors are logged.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return create_async_engine(
        parsed,
        echo=echo,
        # A fixed pool by default: under a burst of updates an overflow pool opens and
        # closes connections all the time, which costs more than waiting for one.
        # Connections are recycled instead of pinged before every use (a round trip per turn).
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "kabinet"}},
    )


class DatabaseUnreachable(Exception):
    """The database cannot be reached; the message is one line for an operator."""


async def check_reachable(engine: AsyncEngine, within: float = 10.0) -> None:
    """Connect and run `SELECT 1`, or raise DatabaseUnreachable naming where and why.

    Commands call it first, so an operator reads one line instead of a traceback; the URL
    is shown without its password.
    """
    where = engine.url.render_as_string(hide_password=True)
    try:
        async with asyncio.timeout(within), engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
    except TimeoutError:
        raise DatabaseUnreachable(f"{where}: no answer in {within:g} s") from None
    except Exception as error:  # whatever the driver raises, it is reported in one line
        cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
        reason = " ".join(str(cause).split()) or type(cause).__name__
        raise DatabaseUnreachable(f"{where}: {reason}") from None


def _is_file_database(url: URL) -> bool:
    database = url.database or ""
    return database not in ("", ":memory:") and not database.startswith("file::memory:")


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, hide_parameters=True)
    on_file = _is_file_database(url)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see on_begin) instead of the driver's lazy BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if on_file:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and
        # then writes fails at once with SQLITE_BUSY when another process committed in
        # between; IMMEDIATE waits for the busy timeout instead, and it is what serialises
        # two inputs of one user on SQLite (no SELECT ... FOR UPDATE there).
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine
