"""Domain entities of the personal cabinet.

Plain dataclasses: storage maps rows to these, flows read them. Money is Decimal with two
places, times are timezone-aware, readings are integer kWh per zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Self, cast


class Zone(StrEnum):
    """A metering zone. Single-zone meters use DAY only ("Зона 1 (день)" in the manual)."""

    DAY = "day"
    NIGHT = "night"
    PEAK = "peak"
    HALF_PEAK = "half_peak"


class TariffPlan(StrEnum):
    """How an account is billed; decides the zones its meter has."""

    SINGLE = "single"
    TWO_ZONE = "two_zone"
    THREE_ZONE = "three_zone"

    @property
    def zones(self) -> tuple[Zone, ...]:
        """The zones in the order they are asked and shown."""
        return _PLAN_ZONES[self]


_PLAN_ZONES: dict[TariffPlan, tuple[Zone, ...]] = {
    TariffPlan.SINGLE: (Zone.DAY,),
    TariffPlan.TWO_ZONE: (Zone.DAY, Zone.NIGHT),
    TariffPlan.THREE_ZONE: (Zone.PEAK, Zone.HALF_PEAK, Zone.NIGHT),
}


class _OpenValues(type):
    """Iterating an open value type gives the values declared so far, like an Enum's."""

    _known: dict[str, Any]

    def __iter__(cls) -> Iterator[Any]:
        return iter(list(cls._known.values()))

    def __len__(cls) -> int:
        return len(cls._known)

    def __contains__(cls, value: object) -> bool:
        return isinstance(value, str) and str.__str__(value) in cls._known


class OpenValue(str, metaclass=_OpenValues):
    """A string from a set that grows at run time (a channel registered by a deployment or
    a test), used like a StrEnum member: `.value`, iteration, `Kind("x")` raising
    ValueError for a value nobody declared. Stored as the plain string."""

    _known: ClassVar[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._known = {}

    def __new__(cls, value: str) -> Self:
        known = cls._known.get(str.__str__(value)) if isinstance(value, str) else None
        if known is None:
            raise ValueError(f"{value!r} is not a valid {cls.__name__}")
        return cast(Self, known)

    @classmethod
    def declare(cls, value: str) -> Self:
        """The value, declared now if new (idempotent)."""
        known = cls._known.get(value)
        if known is None:
            known = cls._known[value] = str.__new__(cls, value)
        return cast(Self, known)

    @classmethod
    def withdraw(cls, value: str) -> None:
        """Forget a declared value (a test's channel, when the test ends)."""
        cls._known.pop(value, None)

    @property
    def value(self) -> str:
        """The stored string."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Channel(OpenValue):
    """Where a person talks to us. The rules of each are a row of `core.channels`; a new
    channel declares its value by registering its row there (stored values unchanged)."""

    TELEGRAM: ClassVar[Channel]
    VIBER: ClassVar[Channel]
    MESSENGER: ClassVar[Channel]
    CONSOLE: ClassVar[Channel]
    EMAIL: ClassVar[Channel]


Channel.TELEGRAM = Channel.declare("telegram")
Channel.VIBER = Channel.declare("viber")
Channel.MESSENGER = Channel.declare("messenger")
Channel.CONSOLE = Channel.declare("console")
Channel.EMAIL = Channel.declare("email")


class ReadingSource(OpenValue):
    """Who took a reading (manual fig. 3.1 "Джерело"). A photo is a flag, not a source.

    Besides the operator's sources below, every messenger's policy row (`core.channels`)
    declares the source of readings submitted in it."""

    TELEGRAM: ClassVar[ReadingSource]
    VIBER: ClassVar[ReadingSource]
    MESSENGER: ClassVar[ReadingSource]
    CONSOLE: ClassVar[ReadingSource]
    CABINET: ClassVar[ReadingSource]
    CONTROLLER: ClassVar[ReadingSource]
    INSPECTION: ClassVar[ReadingSource]
    ESTIMATED: ClassVar[ReadingSource]


ReadingSource.TELEGRAM = ReadingSource.declare("telegram")
ReadingSource.VIBER = ReadingSource.declare("viber")
ReadingSource.MESSENGER = ReadingSource.declare("messenger")
ReadingSource.CONSOLE = ReadingSource.declare("console")
ReadingSource.CABINET = ReadingSource.declare("cabinet")
ReadingSource.CONTROLLER = ReadingSource.declare("controller")
ReadingSource.INSPECTION = ReadingSource.declare("inspection")
ReadingSource.ESTIMATED = ReadingSource.declare("estimated")


class Topic(StrEnum):
    """What a push is about; the first four are the person's switchable topics."""

    OUTAGES_PLANNED = "outages_planned"
    OUTAGES_EMERGENCY = "outages_emergency"
    NEW_BILLS = "new_bills"
    READING_REMINDERS = "reading_reminders"
    PAYMENTS = "payments"  # a confirmation of what they did: not switchable
    ANSWERS = "answers"  # the call centre's answer to their request: not switchable


class OutageKind(StrEnum):
    """Planned works are announced ahead; emergencies are reported as they happen."""

    PLANNED = "planned"
    EMERGENCY = "emergency"


class RequestStatus(StrEnum):
    """Life of a call-centre request, free-service order or support request."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"


Readings = dict[Zone, int]
"""Integer kWh per zone."""


@dataclass(frozen=True)
class Region:
    id: int
    name: str


@dataclass(frozen=True)
class Dso:
    """Оператор системи розподілу (grid operator)."""

    id: int
    name: str
    region_id: int
    short_name: str = ""


@dataclass(frozen=True)
class Supplier:
    id: int
    name: str
    iban: str = ""
    edrpou: str = ""


@dataclass(frozen=True)
class Address:
    """A postal address split the way outage targeting needs it."""

    settlement: str
    street: str
    building: str
    apartment: str = ""

    def one_line(self) -> str:
        """Street, building and apartment, then settlement: how a bill prints it."""
        flat = f", кв. {self.apartment}" if self.apartment else ""
        return f"{self.street}, {self.building}{flat}, {self.settlement}"


@dataclass(frozen=True)
class Account:
    """Особовий рахунок: one metering point of one household."""

    id: int
    number: str
    eic: str
    holder_name: str
    address: Address
    dso_id: int
    supplier_id: int
    tariff_plan: TariffPlan = TariffPlan.SINGLE
    outage_group: str | None = None
    contract_number: str = ""
    contract_date: date | None = None
    opening_balance: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Meter:
    """The meter installed on an account (the one with removed_on None is in service)."""

    id: int
    account_id: int
    serial: str
    type_name: str
    zones: tuple[Zone, ...]
    digit_count: int
    installed_on: date
    install_readings: Readings
    removed_on: date | None = None

    @property
    def rollover_modulus(self) -> int:
        """The value at which the counter wraps back to zero."""
        return 10**self.digit_count


@dataclass(frozen=True)
class SubmittedReading:
    """Покази, введені для розрахунку: what a person or a controller reported."""

    id: int | None
    account_id: int
    meter_id: int
    taken_at: datetime
    values: Readings
    source: ReadingSource
    identity_id: int | None = None
    photo_id: int | None = None


@dataclass(frozen=True)
class BillingReading:
    """Розрахункові покази: the reading billing settled a period on."""

    account_id: int
    meter_id: int
    period: str  # YYYY-MM
    taken_on: date
    values: Readings
    source: ReadingSource


@dataclass(frozen=True)
class Consumption:
    """kWh billed for one period and zone."""

    account_id: int
    period: str
    zone: Zone
    kwh: int


@dataclass(frozen=True)
class Bill:
    """A bill for a period: what was charged and what is due after earlier over/underpayment."""

    id: int
    account_id: int
    period: str
    issued_on: date
    charged: Decimal
    amount_due: Decimal
    kwh: int
    pdf_ref: str | None = None


@dataclass(frozen=True)
class Payment:
    id: int
    account_id: int
    amount: Decimal
    paid_at: datetime
    provider: str
    provider_txn_id: str


@dataclass(frozen=True)
class TariffRate:
    """Price per kWh (with VAT) of one zone of one plan, in force from a date."""

    plan: TariffPlan
    zone: Zone
    price: Decimal
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class Person:
    id: int
    name: str = ""
    phone: str | None = None
    email: str | None = None
    locale: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ChannelIdentity:
    """One messenger user id of a person; unreachable once they block or unsubscribe."""

    id: int
    person_id: int
    channel: Channel
    external_id: str
    display_name: str = ""
    reachable: bool = True


@dataclass(frozen=True)
class Caller:
    """Who wrote: the identity, its person and the version of their latest consent."""

    identity: ChannelIdentity
    person: Person
    consent_version: str | None


@dataclass(frozen=True)
class TurnSnapshot:
    """What a chat turn starts from, read by its first statement.

    The conversation's state (its row locked until the turn ends), who wrote (None for a
    stranger, created by the turn) and the accounts linked to them, oldest link first. It
    is how things stood when the turn began: a flow that links or unlinks an account reads
    the accounts again.
    """

    state: DialogState
    caller: Caller | None
    accounts: tuple[Account, ...] = ()


@dataclass(frozen=True)
class BalanceFacts:
    """What an account's balance screen is made of, read at once.

    Both totals, the latest bill and payment, the latest billing period's readings and kWh
    per zone, and the readings submitted in the window that was asked about (newest first).
    """

    charged: Decimal
    paid: Decimal
    last_bill: Bill | None
    last_payment: Payment | None
    last_billing_reading: BillingReading | None
    last_period_consumption: Readings
    submitted: tuple[SubmittedReading, ...] = ()


@dataclass(frozen=True)
class Consent:
    person_id: int
    given_at: datetime
    version: str
    channel: Channel


@dataclass(frozen=True)
class NotificationPrefs:
    """Налаштування повідомлень (manual fig. 1.1) plus topics."""

    person_id: int
    channels: frozenset[Channel] = field(default_factory=frozenset)
    paper_bill_only: bool = False
    outages_planned: bool = True
    outages_emergency: bool = True
    new_bills: bool = True
    reading_reminders: bool = True
    changed_at: datetime | None = None


@dataclass(frozen=True)
class CallCenterRequest:
    id: int
    person_id: int
    account_id: int | None
    request_type: str
    text: str
    status: RequestStatus
    created_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class FreeServiceOrder:
    """Замовлення безкоштовної послуги; `answer` is the operator's latest word on it."""

    id: int
    person_id: int
    account_id: int
    service_type: str
    phone: str
    status: RequestStatus
    created_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class SupportRequest:
    """Питання до технічної підтримки, and the support team's answer."""

    id: int
    person_id: int
    name: str
    login: str
    phone: str
    request_type: str
    text: str
    status: RequestStatus
    created_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class OutageTarget:
    """Who an outage hits: a group, or a settlement + street with optional building list."""

    outage_group: str | None = None
    settlement: str | None = None
    street: str | None = None
    buildings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outage:
    id: int
    kind: OutageKind
    dso_id: int
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    targets: tuple[OutageTarget, ...]
    published_at: datetime
    updated_at: datetime
    cancelled: bool = False
    restored_at: datetime | None = None


@dataclass(frozen=True)
class DialogState:
    """Where a conversation is: a state name and its data, keyed by (channel, user id)."""

    channel: Channel
    user_id: str
    state: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChatMemory:
    """What a channel adapter keeps of one chat between turns (its own, opaque to the
    domain), and when the person last wrote: read by whichever replica handles the chat."""

    data: dict[str, Any] = field(default_factory=dict)
    last_inbound: datetime | None = None


@dataclass(frozen=True)
class MediaFile:
    """A file served by URL to a platform that fetches what it shows (Viber, Messenger)."""

    filename: str
    content: bytes
    mime_type: str


class OrderStatus(StrEnum):
    NEW = "new"
    PAID = "paid"
    DECLINED = "declined"


@dataclass(frozen=True)
class PaymentOrder:
    """What the consumer is about to pay, and where to tell them when it is paid."""

    order_id: str
    account_id: int
    amount: Decimal
    created_at: datetime
    person_id: int | None  # None (and user_id "") once the person erased their data
    channel: Channel
    user_id: str
    status: OrderStatus = OrderStatus.NEW
    provider: str = ""
    payment_url: str = ""
    provider_txn_id: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's verified word that an order was paid (or declined)."""

    provider: str
    order_id: str
    provider_txn_id: str
    amount: Decimal
    accepted: bool
    paid_at: datetime
    detail: str = ""
