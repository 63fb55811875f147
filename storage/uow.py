"""The SQLAlchemy unit of work: one session, one transaction, every repository.

Repositories work through the session. The turn's own questions — `begin_turn` and
`balance_facts`, the two statements of a balance turn — are the unit of work's: it runs the
prebuilt statements of `storage.turn_queries` and turns their rows into records.

On SQLite the session's transaction is the unit of work's (BEGIN IMMEDIATE, see
storage.database). On PostgreSQL (asyncpg) the unit of work owns its transaction on the
driver: it checks a connection out when it opens, with SQLAlchemy in AUTOCOMMIT so that
SQLAlchemy itself never begins, commits or nests anything on it, and begins the
transaction on asyncpg before the first statement, whichever path that statement takes —
a turn statement on the driver directly (a chat turn then never goes through SQLAlchemy's
execution machinery, which cost more CPU than the turn's SQL), or the session, whose
`after_begin` asks the unit of work to begin. Commit flushes the session and commits that
one transaction; rollback rolls it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from core.model import BalanceFacts, Channel, TurnSnapshot
from core.ports import AbstractUnitOfWork, AbstractUnitOfWorkFactory, StoreUnavailable
from storage import turn_queries
from storage.database import unavailable
from storage.importing import SqlAlchemyOperatorRepository
from storage.outage_store import SqlAlchemyOutageStore
from storage.outbox import SqlAlchemyOutboxRepository
from storage.repositories import (
    SqlAlchemyAccountRepository,
    SqlAlchemyBillingRepository,
    SqlAlchemyDialogRepository,
    SqlAlchemyLinkRepository,
    SqlAlchemyMeterRepository,
    SqlAlchemyOutageRepository,
    SqlAlchemyPaymentOrderRepository,
    SqlAlchemyPersonRepository,
    SqlAlchemyPhotoRepository,
    SqlAlchemyReadingRepository,
    SqlAlchemyReferenceRepository,
    SqlAlchemyRequestRepository,
    SqlAlchemyTariffRepository,
)
from storage.schedule_store import SqlAlchemyScheduleStore

log = logging.getLogger(__name__)


R = TypeVar("R")


class _Repository(Generic[R]):
    """A repository on the open block's session, made when a flow first asks for it.

    A turn uses two or three of the seventeen, and making all of them for every turn
    showed in profiles. The first access stores the repository in the instance, where
    later accesses find it without coming here.
    """

    def __init__(self, kind: Callable[..., R], *, routes_pushes: bool = False) -> None:
        self._kind = kind
        self._name = ""
        # Repositories that queue pushes choose channels among those that are on.
        self._routes_pushes = routes_pushes

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> _Repository[R]: ...
    @overload
    def __get__(self, uow: SqlAlchemyUnitOfWork, owner: type) -> R: ...
    def __get__(self, uow: SqlAlchemyUnitOfWork | None, owner: type) -> R | _Repository[R]:
        if uow is None:
            return self
        if self._routes_pushes:
            repository = self._kind(uow.session, uow.push_channels)
        else:
            repository = self._kind(uow.session)
        uow.__dict__[self._name] = repository
        return repository


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """`async with uow: ...; await uow.commit()`; leaving without commit rolls back.

    A unit of work is used once: the factory makes a fresh one per flow.
    """

    references = _Repository(SqlAlchemyReferenceRepository)
    accounts = _Repository(SqlAlchemyAccountRepository)
    links = _Repository(SqlAlchemyLinkRepository)
    meters = _Repository(SqlAlchemyMeterRepository)
    readings = _Repository(SqlAlchemyReadingRepository)
    billing = _Repository(SqlAlchemyBillingRepository)
    tariffs = _Repository(SqlAlchemyTariffRepository)
    persons = _Repository(SqlAlchemyPersonRepository)
    requests = _Repository(SqlAlchemyRequestRepository)
    outages = _Repository(SqlAlchemyOutageRepository)
    dialogs = _Repository(SqlAlchemyDialogRepository)
    payment_orders = _Repository(SqlAlchemyPaymentOrderRepository)
    photos = _Repository(SqlAlchemyPhotoRepository)
    operator = _Repository(SqlAlchemyOperatorRepository)
    outbox = _Repository(SqlAlchemyOutboxRepository, routes_pushes=True)
    outage_store = _Repository(SqlAlchemyOutageStore)
    schedules = _Repository(SqlAlchemyScheduleStore, routes_pushes=True)

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        engine: AsyncEngine | None = None,
        push_channels: Collection[Channel] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.push_channels = push_channels
        # Set for PostgreSQL on asyncpg only: the engine (in AUTOCOMMIT) to connect with.
        self._driver_engine = engine
        self._session: AsyncSession | None = None
        self._connection: AsyncConnection | None = None
        # On PostgreSQL: the block's asyncpg connection, and the transaction open on it.
        self._driver: Any = None
        self._transaction: Any = None

    @property
    def session(self) -> AsyncSession:
        """The session of the open block (for storage-level helpers and tests)."""
        if self._session is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._session

    async def __aenter__(self) -> SqlAlchemyUnitOfWork:
        if self._session is not None:
            raise RuntimeError("a unit of work cannot be entered twice at once")
        if self._driver_engine is not None:
            try:
                connection = await self._driver_engine.connect()
            except Exception as error:
                if isinstance(error, OSError) or unavailable(error):
                    raise StoreUnavailable(type(error).__name__) from error
                raise
            try:
                raw = await connection.get_raw_connection()
                session = self._session_factory(bind=connection, info={_BEGIN: self._begin})
            except BaseException:
                await connection.close()
                raise
            self._connection = connection
            self._driver = raw.driver_connection
        else:
            session = self._session_factory()
        self._session = session
        # Repositories of an earlier block (a unit of work is used once, but be safe).
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only failures: a cancellation (or an exit) must stay what it is.
        ordinary = exc is None or isinstance(exc, Exception)
        lost = exc is not None and ordinary and self._lost(exc)
        try:
            await self._close()
        except Exception as error:
            if not (ordinary and (lost or self._lost(error))):
                raise
            # Rolling back on a dead connection fails too; the first failure is the news.
            raise StoreUnavailable(type(exc or error).__name__) from exc or error
        if lost:
            raise StoreUnavailable(type(exc).__name__) from exc

    def _lost(self, error: BaseException) -> bool:
        """Whether the block failed because the database is out of reach (not a bug, not
        a rule): callers are told `StoreUnavailable`, so they can ask for a retry."""
        if isinstance(error, StoreUnavailable) or unavailable(error):
            return True
        driver = self._driver
        # asyncpg's own errors on a connection that died under a statement.
        return driver is not None and driver.is_closed()

    async def _close(self) -> None:
        session = self.session
        connection, self._connection = self._connection, None
        try:
            await self.rollback()
        finally:
            self._session = None
            # The session's way back to this unit of work (a reference cycle otherwise).
            session.info.pop(_BEGIN, None)
            try:
                await session.close()
            finally:
                if connection is not None:
                    await self._release(connection)
                self._driver = self._transaction = None

    async def _release(self, connection: AsyncConnection) -> None:
        """Give the connection back to the pool, unless it is lost or stuck in a transaction."""
        driver = self._driver
        try:
            if driver.is_closed():
                # What SQLAlchemy does when it sees a lost connection, for one it did not
                # see: the database restarted or dropped us, so the pooled connections are
                # likely gone too. Drop this one and the idle ones; new ones are opened.
                log.warning("database connection lost: the connection pool is renewed")
                await connection.invalidate()
                if self._driver_engine is not None:
                    await self._driver_engine.dispose()
            elif driver.is_in_transaction():
                # The rollback failed: such a connection must not go back to the pool in
                # the middle of a transaction.
                await connection.invalidate()
        finally:
            await connection.close()

    async def commit(self) -> None:
        """Commit what the block did so far; the block may go on in a new transaction."""
        session = self.session
        if self._driver is None or _session_has_work(session):
            # On PostgreSQL this flushes and ends the session's own bookkeeping; SQLAlchemy,
            # in AUTOCOMMIT, sends no COMMIT: the transaction is committed just below.
            await session.commit()
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            await transaction.commit()

    async def rollback(self) -> None:
        """Throw away what the block did since the last commit."""
        session = self.session
        try:
            await session.rollback()
        finally:
            transaction, self._transaction = self._transaction, None
            if transaction is not None:
                await transaction.rollback()

    async def _begin(self) -> Any:
        """The asyncpg connection, inside the block's transaction (begun here if need be)."""
        if self._transaction is None:
            transaction = self._driver.transaction()
            await transaction.start()
            self._transaction = transaction
        return self._driver

    async def _fetch(
        self, statement: turn_queries.TurnStatement, params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        """The rows of a statement of `storage.turn_queries`, as mappings by column name."""
        if self._driver is None:
            return (await self.session.execute(statement, params)).mappings().all()
        driver = await self._begin()
        prepared = turn_queries.for_driver(statement, self.session.get_bind().dialect)
        return await driver.fetch(prepared.sql, *prepared.arguments(params))

    async def begin_turn(
        self, channel: Channel, user_id: str, update_key: str | None, at: datetime
    ) -> TurnSnapshot | None:
        """One statement on PostgreSQL (`turn_queries.begin_turn`); on SQLite, where BEGIN
        IMMEDIATE already holds the database, the update, the state, then the caller."""
        if at.tzinfo is None:
            raise ValueError(f"naive datetime {at!r}: times must be timezone-aware")
        channel_value = Channel(channel).value
        caller = {"channel": channel_value, "external_id": user_id}
        if self._driver is None:
            if update_key is not None and not await self.dialogs.first_time_seen(
                channel, update_key, at
            ):
                return None
            state = await self.dialogs.load_for_turn(channel, user_id, at)
            rows = await self._fetch(turn_queries.caller(), caller)
            return turn_queries.snapshot(channel, user_id, state.state, state.data, rows)
        rows = await self._fetch(
            turn_queries.begin_turn(),
            {**caller, "key": update_key, "at": at, "user_id": user_id},
        )
        first = rows[0]
        if not first["fresh"]:
            return None
        if not first["current"]:
            # Another process's turn of this person committed after the statement's
            # snapshot (see turn_queries.begin_turn): the row is locked now, so read it
            # and the caller again.
            where = {"channel": channel_value, "user_id": user_id, "at": at}
            first = (await self._fetch(turn_queries.state_of(), where))[0]
            rows = await self._fetch(turn_queries.caller(), caller)
        return turn_queries.snapshot(
            channel, user_id, first["dialog_state"], first["dialog_data"], rows
        )

    async def balance_facts(
        self, account_id: int, window: tuple[datetime, datetime] | None = None
    ) -> BalanceFacts:
        """One statement (`turn_queries.balance_facts`)."""
        since, until = window if window is not None else (None, None)
        rows = await self._fetch(
            turn_queries.balance_facts(),
            {"account_id": account_id, "since": since, "until": until},
        )
        return turn_queries.balance_facts_of(account_id, rows)


_BEGIN = "kabinet.begin"
"""Where a unit of work's session finds how to begin the unit of work's transaction."""


class _UnitOfWorkSession(Session):
    """The session of a unit of work on PostgreSQL (see `_join_transaction`)."""


def _join_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """Before the session's first statement, begin its unit of work's transaction."""
    begin = session.info.get(_BEGIN)
    if begin is not None:
        # Events run inside SQLAlchemy's greenlet: this is how they await the driver.
        connection.connection.dbapi_connection.run_async(lambda _driver: begin())  # type: ignore[union-attr]


_REPOSITORIES = tuple(
    name for name, value in vars(SqlAlchemyUnitOfWork).items() if isinstance(value, _Repository)
)


def _session_has_work(session: AsyncSession) -> bool:
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


class SqlAlchemyUnitOfWorkFactory(AbstractUnitOfWorkFactory):
    """Makes units of work on one engine; build it once in the composition root.

    `push_channels`: the channels that are on in the installation; pushes are routed among
    them (None: every channel, as in tests that need no configuration).
    """

    def __init__(
        self, engine: AsyncEngine, push_channels: Collection[Channel] | None = None
    ) -> None:
        self.engine = engine
        self.push_channels = frozenset(push_channels) if push_channels is not None else None
        self._driver_engine: AsyncEngine | None = None
        if engine.dialect.driver == "asyncpg":
            # SQLAlchemy leaves the transaction to the unit of work (see the module's doc).
            self._driver_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
            if not event.contains(_UnitOfWorkSession, "after_begin", _join_transaction):
                event.listen(_UnitOfWorkSession, "after_begin", _join_transaction)
        self._session_factory = async_sessionmaker(
            engine, expire_on_commit=False, autoflush=True, sync_session_class=_UnitOfWorkSession
        )

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._session_factory, self._driver_engine, self.push_channels)
