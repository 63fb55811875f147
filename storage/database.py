"""Engines for the embedded SQLite database and for PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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
    engine = create_async_engine(
        parsed,
        echo=echo,
        # A database error would otherwise log the bound values: names, phones, e-mails,
        # call-centre texts. The statement is still logged, with placeholders.
        hide_parameters=True,
        # A fixed pool by default: under a burst of updates an overflow pool opens and
        # closes connections all the time, which costs more than waiting for one.
        # Connections are recycled instead of pinged before every use (a round trip per turn).
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "kabinet"}},
    )
    event.listen(engine.sync_engine, "handle_error", _drop_row_details)
    return engine


def _drop_row_details(context: ExceptionContext) -> None:
    """Forget PostgreSQL's DETAIL of a failed statement before anyone logs the error.

    hide_parameters keeps the bound values out of SQLAlchemy's message, but asyncpg's own
    exception (chained below it, so in every logged traceback) ends with the server's
    DETAIL: "Failing row contains (1, Олена, +380…)" or "Key (…)=(…) already exists".
    """
    error: BaseException | None = context.original_exception
    seen = 0
    while error is not None and seen < 5:  # the driver's error sits a link or two below
        if isinstance(getattr(error, "detail", None), str):
            error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__ or error.__context__
        seen += 1


def unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now, rather than that one
    statement failed: a refused or broken connection, a server shutting down or refusing
    connections, the connection pool exhausted, SQLite's file locked or unopenable.

    The unit of work turns these into `core.ports.StoreUnavailable` (503, a redelivery)."""
    import asyncpg

    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(
        error,
        # Refused, reset or broken connections, an unknown host; not any OSError: a
        # missing file read inside a unit of work is no reason to try again later.
        ConnectionError
        | socket.gaierror
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError  # shutdown, "cannot connect now"
        | asyncpg.exceptions.TooManyConnectionsError,
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
        await _let_sqlite_threads_finish()
        raise DatabaseUnreachable(f"{where}: {reason}") from None


async def _let_sqlite_threads_finish(within: float = 2.0) -> None:
    """Wait for aiosqlite's worker threads of failed connections to end.

    After a failed connect aiosqlite queues its own stop and does not wait for it; if the
    command's event loop closes first, the thread prints an "Event loop is closed"
    traceback under the one line the operator should read.
    """
    import threading

    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, within)


def _is_file_database(url: URL) -> bool:
    database = url.database or ""
    return database not in ("", ":memory:") and not database.startswith("file::memory:")


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, hide_parameters=True)  # see make_engine
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
