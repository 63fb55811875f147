"""Plain records that core services hand to each other and to the ports.

Services define behaviour; the data they exchange lives here, so that a module needing a
type (the ports, storage, another service) imports this module and never a service. It
imports nothing from core but the model.

- Rows imported from billing, one valid row each with the line it came from, the stored
  accounts and meters the import rules check them against, and what an upsert did.
- A submitted reading as billing takes it (the export).
- An outage schedule's day and a person's schedule push settings.
- The payload kinds of pushes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.model import ReadingSource, TariffPlan, Zone

# --- imports from billing --------------------------------------------------------------


@dataclass(frozen=True)
class AccountRecord:
    line: int
    number: str
    eic: str
    holder_name: str
    settlement: str
    street: str
    building: str
    apartment: str
    outage_group: str | None
    dso_id: int
    supplier_id: int
    tariff_plan: TariffPlan
    contract_number: str
    contract_date: date | None
    opening_balance: Decimal


@dataclass(frozen=True)
class MeterRecord:
    line: int
    account_number: str
    serial: str
    type_name: str
    digit_count: int
    installed_on: date
    install_readings: dict[Zone, int]
    removed_on: date | None
    account_id: int = 0
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class BillRecord:
    line: int
    account_number: str
    period: str
    issued_on: date
    charged: Decimal
    amount_due: Decimal
    kwh: int
    pdf: bytes | None = None
    account_id: int = 0
    pdf_ref: str | None = None


@dataclass(frozen=True)
class PaymentRecord:
    line: int
    account_number: str
    amount: Decimal
    paid_at: datetime
    provider: str
    provider_txn_id: str
    account_id: int = 0


@dataclass(frozen=True)
class ConsumptionRecord:
    line: int
    account_number: str
    period: str
    zone: Zone
    kwh: int
    account_id: int = 0


@dataclass(frozen=True)
class BillingReadingRecord:
    line: int
    account_number: str
    period: str
    zone: Zone
    value: int
    taken_on: date
    source: ReadingSource
    meter_serial: str | None
    account_id: int = 0
    meter_id: int = 0


Record = (
    AccountRecord
    | MeterRecord
    | BillRecord
    | PaymentRecord
    | ConsumptionRecord
    | BillingReadingRecord
)


@dataclass(frozen=True)
class AccountRef:
    """What the rules need to know of a stored account."""

    id: int
    number: str
    eic: str
    tariff_plan: TariffPlan


@dataclass(frozen=True)
class MeterRef:
    """What the rules need to know of a stored meter."""

    id: int
    account_id: int
    serial: str
    digit_count: int
    in_service: bool


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: new rows (with their ids), changed rows, rows already so."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    inserted_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReadingExport:
    """A submitted reading as billing takes it: who, which meter, when, what, from where."""

    id: int
    account_number: str
    eic: str
    meter_serial: str
    taken_at: datetime
    values: dict[Zone, int]
    source: ReadingSource
    photo: bool


# --- outage schedules ------------------------------------------------------------------

DEFAULT_REMINDER = 30
"""Minutes before power goes off a person is reminded unless they chose otherwise."""


@dataclass(frozen=True)
class DaySchedule:
    """One group's day: `slots` (48 characters of SlotState), the source's publication time,
    the version (1, 2, ...), and when the source last confirmed it (an identical re-publish
    moves only `confirmed_at`)."""

    group: str
    day: date
    slots: str
    published_at: datetime
    version: int = 1
    confirmed_at: datetime | None = None

    @property
    def as_of(self) -> datetime:
        """When the source last said this is the schedule."""
        return self.confirmed_at or self.published_at


@dataclass(frozen=True)
class ScheduleSettings:
    """A person's schedule pushes: reminder lead (0 off), a reminder before power returns,
    and quiet hours [quiet_from, quiet_to) in minutes of the local day (None: none)."""

    remind_minutes: int = DEFAULT_REMINDER
    remind_on: bool = False
    quiet_from: int | None = None
    quiet_to: int | None = None


# --- pushes ----------------------------------------------------------------------------


class PushKind:
    """Payload kinds the delivery renderer knows (`payload["kind"]`)."""

    OUTAGE_PUBLISHED = "outage.published"
    OUTAGE_EMERGENCY = "outage.emergency"
    OUTAGE_EVENING = "outage.evening"
    OUTAGE_HOUR = "outage.hour"
    OUTAGE_CHANGED = "outage.changed"
    OUTAGE_CANCELLED = "outage.cancelled"
    OUTAGE_RESTORED = "outage.restored"
    BILL_NEW = "bill.new"
    READING_REMINDER = "reading.reminder"
    PAYMENT_PAID = "payment.paid"
    PAYMENT_HELD = "payment.held"  # reported paid, not credited: an operator reconciles
    CALL_CENTER_ANSWER = "call_center.answer"
    FREE_SERVICE_ANSWER = "free_service.answer"
    SUPPORT_ANSWER = "support.answer"
    TEXT = "text"  # an operator's free text: {"kind": "text", "text": "..."}
