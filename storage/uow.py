"""The SQLAlchemy unit of work: one session, one transaction, every repository.

On PostgreSQL (asyncpg) the unit of work checks a connection out of the engine's pool when
it opens, binds its session to it, and leaves the transaction to whoever needs it first: a
turn statement of `storage.turn_queries` begins it on the driver (a chat turn then never
goes through the session's transaction machinery, which cost more CPU than the turn's SQL),
and a repository method that uses the session joins it through SQLAlchemy (see
`turn_queries.DriverTransaction`). Commit and rollback end both, in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Generic, TypeVar, overload

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.model import Channel
from core.ports import AbstractUnitOfWork, AbstractUnitOfWorkFactory
from storage import turn_queries
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
        # Set for PostgreSQL on asyncpg only: the engine to check the connection out of.
        self._driver_engine = engine
        self._session: AsyncSession | None = None
        self._connection: AsyncConnection | None = None

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
            connection = await self._driver_engine.connect()
            try:
                session = self._session_factory(bind=connection)
                raw = await connection.get_raw_connection()
                turn_queries.attach(session, raw.driver_connection)
            except BaseException:
                await connection.close()
                raise
            self._connection = connection
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
        session, self._session = self.session, None
        connection, self._connection = self._connection, None
        turn_queries.forget(session)
        try:
            await session.rollback()
            await turn_queries.end(session, commit=False)
        finally:
            try:
                await session.close()
            finally:
                if connection is not None:
                    await self._release(session, connection)

    async def _release(self, session: AsyncSession, connection: AsyncConnection) -> None:
        """Give the connection back to the pool, unless it is lost or stuck in a transaction."""
        try:
            if turn_queries.connection_lost(session):
                # What SQLAlchemy does when it sees a lost connection, for one it did not
                # see: the database restarted or dropped us, so the pooled connections are
                # likely gone too. Drop this one and the idle ones; new ones are opened.
                log.warning("database connection lost: the connection pool is renewed")
                await connection.invalidate()
                if self._driver_engine is not None:
                    await self._driver_engine.dispose()
            elif turn_queries.still_open(session):
                # The rollback failed: such a connection must not go back to the pool in
                # the middle of a transaction.
                await connection.invalidate()
        finally:
            await connection.close()

    async def commit(self) -> None:
        """Commit what the block did so far; the block may go on in a new transaction."""
        session = self.session
        turn_queries.forget(session)
        if self._connection is None or _session_has_work(session):
            await session.commit()
        await turn_queries.end(session, commit=True)

    async def rollback(self) -> None:
        """Throw away what the block did since the last commit."""
        session = self.session
        turn_queries.forget(session)
        await session.rollback()
        await turn_queries.end(session, commit=False)


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
        self._session_factory = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
        self._driver_engine = engine if engine.dialect.driver == "asyncpg" else None

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._session_factory, self._driver_engine, self.push_channels)
