"""The SQLAlchemy unit of work: one session, one transaction, every repository."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """`async with uow: ...; await uow.commit()`; leaving without commit rolls back.

    A unit of work is used once: the factory makes a fresh one per flow.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The session of the open block (for storage-level helpers and tests)."""
        if self._session is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._session

    async def __aenter__(self) -> SqlAlchemyUnitOfWork:
        if self._session is not None:
            raise RuntimeError("a unit of work cannot be entered twice at once")
        session = self._session_factory()
        self._session = session
        self.references = SqlAlchemyReferenceRepository(session)
        self.accounts = SqlAlchemyAccountRepository(session)
        self.links = SqlAlchemyLinkRepository(session)
        self.meters = SqlAlchemyMeterRepository(session)
        self.readings = SqlAlchemyReadingRepository(session)
        self.billing = SqlAlchemyBillingRepository(session)
        self.tariffs = SqlAlchemyTariffRepository(session)
        self.persons = SqlAlchemyPersonRepository(session)
        self.requests = SqlAlchemyRequestRepository(session)
        self.outages = SqlAlchemyOutageRepository(session)
        self.dialogs = SqlAlchemyDialogRepository(session)
        self.payment_orders = SqlAlchemyPaymentOrderRepository(session)
        self.photos = SqlAlchemyPhotoRepository(session)
        self.operator = SqlAlchemyOperatorRepository(session)
        self.outbox = SqlAlchemyOutboxRepository(session)
        self.outage_store = SqlAlchemyOutageStore(session)
        self.schedules = SqlAlchemyScheduleStore(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        turn_queries.forget(session)
        try:
            await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        """Commit what the block did so far; the block may go on in a new transaction."""
        turn_queries.forget(self.session)
        await self.session.commit()

    async def rollback(self) -> None:
        """Throw away what the block did since the last commit."""
        turn_queries.forget(self.session)
        await self.session.rollback()


class SqlAlchemyUnitOfWorkFactory(AbstractUnitOfWorkFactory):
    """Makes units of work on one engine; build it once in the composition root."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session_factory = async_sessionmaker(
            engine, expire_on_commit=False, autoflush=True
        )

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._session_factory)
