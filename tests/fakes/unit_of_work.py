"""The unit of work over every fake repository, and its factory."""

from __future__ import annotations

from core.ports import AbstractUnitOfWork, AbstractUnitOfWorkFactory
from tests.fakes.accounts import FakeAccounts
from tests.fakes.billing import FakeBilling
from tests.fakes.data import FakeData
from tests.fakes.dialogs import FakeDialogs
from tests.fakes.links import FakeLinks
from tests.fakes.meters import FakeMeters
from tests.fakes.operator_repo import FakeOperator
from tests.fakes.outage_store import FakeOutageStore
from tests.fakes.outages import FakeOutages
from tests.fakes.outbox import FakeOutbox
from tests.fakes.payment_orders import FakePaymentOrders
from tests.fakes.persons import FakePersons
from tests.fakes.photos import FakePhotos
from tests.fakes.readings import FakeReadings
from tests.fakes.references import FakeReferences
from tests.fakes.requests import FakeRequests
from tests.fakes.schedules import FakeScheduleStore
from tests.fakes.tariffs import FakeTariffs


class FakeUnitOfWork(AbstractUnitOfWork):
    """Works on a copy-free shared FakeData; commit is counted, rollback is a no-op.

    Tests that need real rollback use the SQLAlchemy unit of work on SQLite instead.
    """

    def __init__(self, data: FakeData) -> None:
        self.data = data
        self.committed = 0
        self.references = FakeReferences(data)
        self.accounts = FakeAccounts(data)
        self.links = FakeLinks(data)
        self.meters = FakeMeters(data)
        self.readings = FakeReadings(data)
        self.billing = FakeBilling(data)
        self.tariffs = FakeTariffs(data)
        self.persons = FakePersons(data)
        self.requests = FakeRequests(data)
        self.outages = FakeOutages(data)
        self.dialogs = FakeDialogs(data)
        self.payment_orders = FakePaymentOrders(data)
        self.photos = FakePhotos(data)
        self.operator = FakeOperator(data)
        self.outbox = FakeOutbox(data)
        self.outage_store = FakeOutageStore(data)
        self.schedules = FakeScheduleStore(data)

    async def commit(self) -> None:
        self.committed += 1

    async def rollback(self) -> None:
        pass


class FakeUnitOfWorkFactory(AbstractUnitOfWorkFactory):
    def __init__(self, data: FakeData | None = None) -> None:
        self.data = data or FakeData()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.data)
