"""In-memory implementations of every core port, for fast tests of core and flows.

One module per port; `FakeData` (tests.fakes.data) holds the tables they share. Import
from the package: `from tests.fakes import FakeUnitOfWorkFactory`."""

from tests.fakes.accounts import FakeAccounts
from tests.fakes.billing import FakeBilling
from tests.fakes.data import FakeData, FakePush, FakeRepo
from tests.fakes.dialogs import FakeDialogs
from tests.fakes.links import FakeLinks
from tests.fakes.meters import FakeMeters
from tests.fakes.operator_repo import FakeOperator
from tests.fakes.outage_store import FakeOutageStore
from tests.fakes.outages import FakeOutages
from tests.fakes.outbox import FakeOutbox
from tests.fakes.payment_orders import FakePaymentOrders
from tests.fakes.payment_provider import FakePaymentProvider
from tests.fakes.persons import FakePersons
from tests.fakes.photo_reader import FakePhotoReader
from tests.fakes.photos import FakePhotos
from tests.fakes.readings import FakeReadings
from tests.fakes.references import FakeReferences
from tests.fakes.requests import FakeRequests
from tests.fakes.schedules import FakeScheduleStore
from tests.fakes.tariffs import FakeTariffs
from tests.fakes.unit_of_work import FakeUnitOfWork, FakeUnitOfWorkFactory

__all__ = [
    "FakeAccounts",
    "FakeBilling",
    "FakeData",
    "FakeDialogs",
    "FakeLinks",
    "FakeMeters",
    "FakeOperator",
    "FakeOutageStore",
    "FakeOutages",
    "FakeOutbox",
    "FakePaymentOrders",
    "FakePaymentProvider",
    "FakePersons",
    "FakePhotoReader",
    "FakePhotos",
    "FakePush",
    "FakeReadings",
    "FakeReferences",
    "FakeRepo",
    "FakeRequests",
    "FakeScheduleStore",
    "FakeTariffs",
    "FakeUnitOfWork",
    "FakeUnitOfWorkFactory",
]
