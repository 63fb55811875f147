"""Request and response models of the operator API (pydantic 2).

The OpenAPI document is generated from these classes, so what the document promises is
what the handlers validate and answer. Import rows are the exception on the way in: they
are described here field by field, but checked by `core.imports` (one set of rules for CSV
and JSON, reporting every bad row by line instead of failing the whole request at the first).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from core.delivery import PaidEstimate
from core.imports import BadValue, ImportReport, clean_text
from core.model import (
    CallCenterRequest,
    FreeServiceOrder,
    Outage,
    OutageKind,
    OutageTarget,
    ReadingSource,
    RequestStatus,
    SupportRequest,
)
from core.outages import OutageChanges, OutageDraft
from core.records import ReadingExport

MAX_ID = 2**31 - 1
"""Ids are 32-bit in the database; a bigger one names nothing (404, not a driver error)."""


def _safe_text(value: str) -> str:
    try:
        return clean_text(value)
    except BadValue as error:
        raise ValueError(str(error)) from None


def _plausible_time(value: datetime) -> datetime:
    # Far-off years overflow when converted to UTC, and no outage or export needs them.
    if not 2000 <= value.year <= 2100:
        raise ValueError("year must be 2000–2100")
    return value


def _utc(value: datetime | None) -> datetime | None:
    """Answers give every time in UTC, so one instant always reads the same."""
    return value.astimezone(UTC) if value is not None else None


Text = Annotated[str, AfterValidator(_safe_text)]
ACCOUNT_NUMBER = r"^[0-9]{6,13}$"
Time = Annotated[AwareDatetime, AfterValidator(_plausible_time)]


def _reading_source(value: str) -> str:
    return ReadingSource(value).value  # ValueError: not a source (nor a channel's)


def _source_enum(schema: dict[str, Any]) -> None:
    # Listed when the schema is built: the operator's sources and every channel's.
    schema["enum"] = [source.value for source in ReadingSource]


Source = Annotated[str, AfterValidator(_reading_source), Field(json_schema_extra=_source_enum)]
"""Who took a reading: `core.model.ReadingSource`, which channels extend (core.channels)."""
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------


class ProblemOut(BaseModel):
    """One thing wrong with the input: where (line of a batch, field) and why."""

    line: int | None = Field(None, description="CSV line (header is 1) or JSON row (from 1)")
    field: str | None = None
    reason: str


class ErrorOut(BaseModel):
    """Every 4xx answer: a short error code, a sentence, and the problems found."""

    error: str = Field(description="bad_request, unauthorized, not_found, conflict, ...")
    message: str
    problems: list[ProblemOut] = Field(default_factory=list)


# --- imports ------------------------------------------------------------------------------


class AccountRowIn(BaseModel):
    """An account (natural key: number)."""

    number: str = Field(
        pattern=ACCOUNT_NUMBER, description="особовий рахунок", examples=["2010000232"]
    )
    eic: str = Field(
        pattern=r"^[0-9A-Z-]{16}$",
        description="EIC code with its check character",
        examples=["62Z000000000232T"],
    )
    holder_name: str
    settlement: str
    street: str
    building: str
    apartment: str | None = None
    outage_group: str | None = Field(None, examples=["3.2"])
    dso_id: int
    supplier_id: int
    tariff_plan: Literal["single", "two_zone", "three_zone"]
    contract_number: str | None = None
    contract_date: date | None = None
    opening_balance: Decimal | None = Field(None, description="UAH, 2 decimals")


class MeterRowIn(BaseModel):
    """A meter (natural key: account + serial); install readings of the plan's zones."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    serial: str
    type_name: str
    digit_count: int = Field(ge=4, le=9)
    installed_on: date
    install_day: int | None = None
    install_night: int | None = None
    install_peak: int | None = None
    install_half_peak: int | None = None
    removed_on: date | None = None


class BillRowIn(BaseModel):
    """A bill (natural key: account + period), optionally with its PDF (JSON only)."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    period: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    issued_on: date
    charged: Decimal
    amount_due: Decimal
    kwh: int = Field(ge=0)
    pdf_base64: str | None = Field(None, description="the bill's PDF, base64")


class PaymentRowIn(BaseModel):
    """A payment (natural key: provider + provider_txn_id)."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    amount: Decimal = Field(gt=0)
    paid_at: datetime = Field(description="ISO 8601; without an offset: Europe/Kyiv time")
    provider: str
    provider_txn_id: str


class ConsumptionRowIn(BaseModel):
    """kWh of one zone in one period (natural key: account + period + zone)."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    zone: Literal["day", "night", "peak", "half_peak"]
    kwh: int = Field(ge=0)


class BillingReadingRowIn(BaseModel):
    """A billing reading of one zone (natural key: account + period + zone)."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    zone: Literal["day", "night", "peak", "half_peak"]
    value: int = Field(ge=0)
    taken_on: date
    source: Source
    meter_serial: str | None = Field(None, description="default: the meter in service")


class AccountsImport(BaseModel):
    rows: list[AccountRowIn]


class MetersImport(BaseModel):
    rows: list[MeterRowIn]


class BillsImport(BaseModel):
    rows: list[BillRowIn]


class PaymentsImport(BaseModel):
    rows: list[PaymentRowIn]


class ConsumptionImport(BaseModel):
    rows: list[ConsumptionRowIn]


class BillingReadingsImport(BaseModel):
    rows: list[BillingReadingRowIn]


class ImportQuery(_In):
    skip_bad: bool = Field(False, description="write the good rows and skip the bad ones")


class ImportReportOut(BaseModel):
    """What a batch did. With bad rows and skip_bad=false nothing is written (400)."""

    kind: str
    received: int
    applied: bool
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    problems: list[ProblemOut]
    problems_not_listed: int = 0

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        """From the core report."""
        return cls(
            kind=report.kind.value,
            received=report.received,
            applied=report.applied,
            inserted=report.inserted,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=report.skipped,
            problems=[
                ProblemOut(line=p.line, field=p.field, reason=p.reason) for p in report.problems
            ],
            problems_not_listed=report.problems_not_listed,
        )


class ImportErrorOut(ErrorOut):
    """A refused batch: the report says which lines are bad and why (no report when the
    request itself could not be read)."""

    report: ImportReportOut | None = None


class BillPdfOut(BaseModel):
    account_number: str
    period: str
    pdf_ref: str


# --- outages ------------------------------------------------------------------------------


class OutageTargetIn(_In):
    """An outage group, or an address: settlement + street with optional buildings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["outage_group"]}, {"required": ["street"]}]},
    )

    outage_group: Text | None = Field(None, max_length=20, examples=["3.2"])
    settlement: Text | None = Field(None, max_length=200)
    street: Text | None = Field(None, max_length=200)
    buildings: list[Annotated[Text, Field(max_length=20)]] = Field(
        default_factory=list, max_length=2000, description='numbers or ranges: "12", "1-15"'
    )

    @model_validator(mode="after")
    def _group_or_street(self) -> OutageTargetIn:
        if not self.outage_group and not self.street:
            raise ValueError("a target needs an outage_group or a street")
        return self


def _targets(targets: list[OutageTargetIn]) -> tuple[OutageTarget, ...]:
    return tuple(
        OutageTarget(
            outage_group=t.outage_group or None,
            settlement=t.settlement or None,
            street=t.street or None,
            buildings=tuple(t.buildings),
        )
        for t in targets
    )


class OutageTargetOut(BaseModel):
    outage_group: str | None
    settlement: str | None
    street: str | None
    buildings: list[str]


class OutageIn(_In):
    """A new outage; with a known external_id the stored one is returned (200)."""

    kind: OutageKind
    dso_id: Id
    starts_at: Time
    ends_at: Time | None = None
    reason: Text = Field("", max_length=2000)
    targets: list[OutageTargetIn] = Field(min_length=1, max_length=1000)
    external_id: Text | None = Field(None, min_length=1, max_length=100)

    def draft(self) -> OutageDraft:
        """What core publishes."""
        return OutageDraft(
            kind=self.kind,
            dso_id=self.dso_id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            reason=self.reason,
            targets=_targets(self.targets),
            external_id=self.external_id,
        )


class OutageUpdateIn(_In):
    """Changes to an outage; fields left out stay as they are."""

    starts_at: Time | None = None
    ends_at: Time | None = None
    clear_end: bool = Field(False, description="the end is unknown again")
    reason: Text | None = Field(None, max_length=2000)
    targets: list[OutageTargetIn] | None = Field(None, min_length=1, max_length=1000)

    def changes(self) -> OutageChanges:
        """What core changes."""
        return OutageChanges(
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            clear_end=self.clear_end,
            reason=self.reason,
            targets=None if self.targets is None else _targets(self.targets),
        )


class OutageCancelIn(_In):
    reason: Text = Field("", max_length=2000)


class OutageRestoreIn(_In):
    restored_at: Time | None = Field(None, description="default: now")


class PaidBroadcastOut(BaseModel):
    messages: int = Field(description="pushes sent with Telegram's allow_paid_broadcast")
    stars: Decimal = Field(description="estimated cost in Telegram Stars (0.1 a message)")


class OutageOut(BaseModel):
    id: int
    kind: OutageKind
    dso_id: int
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    targets: list[OutageTargetOut]
    published_at: datetime
    updated_at: datetime
    cancelled: bool
    restored_at: datetime | None
    paid_broadcast: PaidBroadcastOut | None = Field(
        None, description="when just published and its topic is sent as a paid broadcast"
    )

    @classmethod
    def of(cls, outage: Outage, paid: PaidEstimate | None = None) -> OutageOut:
        """From the core entity (and the cost of its paid sends, when there are any)."""
        return cls(
            paid_broadcast=PaidBroadcastOut(messages=paid.messages, stars=paid.stars)
            if paid is not None and paid.messages
            else None,
            id=outage.id,
            kind=outage.kind,
            dso_id=outage.dso_id,
            starts_at=_utc(outage.starts_at),
            ends_at=_utc(outage.ends_at),
            reason=outage.reason,
            targets=[
                OutageTargetOut(
                    outage_group=t.outage_group,
                    settlement=t.settlement,
                    street=t.street,
                    buildings=list(t.buildings),
                )
                for t in outage.targets
            ],
            published_at=_utc(outage.published_at),
            updated_at=_utc(outage.updated_at),
            cancelled=outage.cancelled,
            restored_at=_utc(outage.restored_at),
        )


# --- call-centre requests and free-service orders -----------------------------------------


class QueueQuery(_In):
    status: RequestStatus | None = None
    after_id: int = Field(0, ge=0, le=MAX_ID, description="paging: the last id seen")
    limit: int = Field(100, ge=1, le=1000)


class CallCenterRequestOut(BaseModel):
    id: int
    person_id: int
    account_id: int | None
    request_type: str
    text: str
    status: RequestStatus
    created_at: datetime
    answer: str | None
    answered_at: datetime | None

    @classmethod
    def of(cls, request: CallCenterRequest) -> CallCenterRequestOut:
        """From the core entity."""
        return cls(
            id=request.id,
            person_id=request.person_id,
            account_id=request.account_id,
            request_type=request.request_type,
            text=request.text,
            status=request.status,
            created_at=_utc(request.created_at),
            answer=request.answer,
            answered_at=_utc(request.answered_at),
        )


class CallCenterPage(BaseModel):
    items: list[CallCenterRequestOut]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class CallCenterAnswerIn(_In):
    """The answer is stored and pushed to the person who asked."""

    answer: Text = Field(min_length=1, max_length=4000)
    status: Literal["done", "rejected"] = "done"


class CallCenterAnswerOut(BaseModel):
    request: CallCenterRequestOut
    pushed: bool = Field(description="false when the person cannot be reached by any channel")


class FreeServiceOrderOut(BaseModel):
    id: int
    person_id: int
    account_id: int
    service_type: str
    phone: str
    status: RequestStatus
    created_at: datetime
    answer: str | None = Field(description="the latest answer, shown to the person in chat")
    answered_at: datetime | None

    @classmethod
    def of(cls, order: FreeServiceOrder) -> FreeServiceOrderOut:
        """From the core entity."""
        return cls(
            id=order.id,
            person_id=order.person_id,
            account_id=order.account_id,
            service_type=order.service_type,
            phone=order.phone,
            status=order.status,
            created_at=_utc(order.created_at),
            answer=order.answer,
            answered_at=_utc(order.answered_at),
        )


class FreeServicePage(BaseModel):
    items: list[FreeServiceOrderOut]
    next_after_id: int | None


class FreeServiceAnswerIn(_In):
    """A new status and what to tell the person (e.g. when the technician comes)."""

    status: Literal["in_progress", "done", "rejected"]
    answer: Text = Field(min_length=1, max_length=4000)


class FreeServiceAnswerOut(BaseModel):
    order: FreeServiceOrderOut
    pushed: bool


class SupportRequestOut(BaseModel):
    id: int
    person_id: int
    name: str
    login: str
    phone: str
    request_type: str
    text: str
    status: RequestStatus
    created_at: datetime
    answer: str | None
    answered_at: datetime | None

    @classmethod
    def of(cls, request: SupportRequest) -> SupportRequestOut:
        """From the core entity."""
        return cls(
            id=request.id,
            person_id=request.person_id,
            name=request.name,
            login=request.login,
            phone=request.phone,
            request_type=request.request_type,
            text=request.text,
            status=request.status,
            created_at=_utc(request.created_at),
            answer=request.answer,
            answered_at=_utc(request.answered_at),
        )


class SupportPage(BaseModel):
    items: list[SupportRequestOut]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class SupportAnswerIn(_In):
    """The answer is stored, shown in the person's chat and pushed to them."""

    answer: Text = Field(min_length=1, max_length=4000)
    status: Literal["done", "rejected"] = "done"


class SupportAnswerOut(BaseModel):
    request: SupportRequestOut
    pushed: bool = Field(description="false when the person cannot be reached by any channel")


# --- export -------------------------------------------------------------------------------


class ReadingsQuery(_In):
    since: Time = Field(description="taken_at >= since (ISO 8601 with offset)")
    until: Time | None = Field(None, description="taken_at < until")
    after_id: int = Field(0, ge=0, le=MAX_ID)
    limit: int = Field(10000, ge=1, le=100000)
    format: Literal["json", "csv"] = "json"


class ReadingOut(BaseModel):
    id: int
    account_number: str
    eic: str
    meter_serial: str
    taken_at: datetime
    values: dict[str, int] = Field(description="kWh per zone: day, night, peak, half_peak")
    source: str
    photo: bool

    @classmethod
    def of(cls, reading: ReadingExport) -> ReadingOut:
        """From the core export row."""
        return cls(
            id=reading.id,
            account_number=reading.account_number,
            eic=reading.eic,
            meter_serial=reading.meter_serial,
            taken_at=_utc(reading.taken_at),
            values={zone.value: value for zone, value in reading.values.items()},
            source=reading.source.value,
            photo=reading.photo,
        )


class ReadingsPage(BaseModel):
    readings: list[ReadingOut]
    next_after_id: int | None


# --- outage schedules ---------------------------------------------------------------------

SLOTS_PATTERN = r"^[-?+]{48}$"


class ScheduleIntervalIn(_In):
    """A run of half hours without power ("off") or possibly without ("maybe")."""

    from_: str = Field(alias="from", pattern=r"^([01][0-9]|2[0-4]):(00|30)$", examples=["08:00"])
    to: str = Field(pattern=r"^([01][0-9]|2[0-4]):(00|30)$", examples=["12:30"])
    state: Literal["off", "maybe"] = "off"


class ScheduleDayIn(_In):
    """One day of one or more groups: 48 slots, or intervals (the rest of the day on)."""

    groups: list[Annotated[Text, Field(min_length=1, max_length=20)]] = Field(
        min_length=1, max_length=500, examples=[["3.1", "3.2"]]
    )
    day: date
    slots: str | None = Field(
        None, pattern=SLOTS_PATTERN, description='48 half hours: "-" off, "?" maybe, "+" on'
    )
    intervals: list[ScheduleIntervalIn] | None = Field(None, max_length=48)
    published_at: Time | None = Field(None, description="the source's time; default now")

    @model_validator(mode="after")
    def _slots_or_intervals(self) -> ScheduleDayIn:
        if (self.slots is None) == (self.intervals is None):
            raise ValueError("give either slots or intervals")
        return self


class SchedulesIn(_In):
    """Schedules to publish or replace; the same slots again change nothing."""

    schedules: list[ScheduleDayIn] = Field(min_length=1, max_length=1000)


class ScheduleHourlyIn(BaseModel):
    """The community layout: {"updated": ..., "days": {date: {group: {"1".."24": value}}}},
    values yes / no / maybe / first / second / mfirst / msecond."""

    model_config = ConfigDict(extra="ignore")

    updated: Time | None = None
    days: dict[
        Annotated[str, Field(max_length=20)],
        dict[Annotated[str, Field(max_length=24)], dict[Annotated[str, Field(max_length=2)], str]],
    ] = Field(max_length=60)


class ScheduleQuery(_In):
    """Which schedule: a group and a day."""

    group: Text = Field(min_length=1, max_length=20, examples=["3.2"])
    day: date


class ScheduleRefOut(BaseModel):
    group: str
    day: date
    version: int


class SchedulesPublishOut(BaseModel):
    """New versions, schedules only confirmed (identical), pushes queued."""

    created: list[ScheduleRefOut]
    unchanged: list[ScheduleRefOut]
    queued: int


class ScheduleOut(BaseModel):
    group: str
    day: date
    version: int
    slots: str
    published_at: datetime
    confirmed_at: datetime
