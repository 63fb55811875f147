"""Imports from the company's billing: the rules a row must meet, and the import service.

Billing sends accounts, meters, bills, payments, consumption and billing readings as CSV or
JSON; both arrive here as rows of field → value (CSV gives strings, JSON gives strings and
numbers). Each kind has one parser that turns a row into a record or says, for the row's
line, which field is wrong and why. The same rules serve the operator API and the CLI.

`import_parts` is the service (`import_rows` for a batch given whole): check the rows a
part at a time (`RowChecker`, which the operator runs in a worker thread), resolve account
numbers and meters through the unit of work, and either change nothing (some row is bad and
the caller did not ask to skip bad rows) or upsert every good row by its natural key, part by
part, in one transaction:
- accounts by number; meters by (account, serial);
- bills, billing readings (per zone) and consumption (per zone) by (account, period);
- payments by (provider, provider transaction id).
Importing the same batch twice changes nothing the second time.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from core.accounts import normalise_account_number
from core.eic import normalise_eic
from core.errors import AccountNumberInvalid, EicInvalid
from core.model import ReadingSource, TariffPlan, Zone
from core.ports import AbstractOperatorRepository, AbstractUnitOfWork
from core.records import (
    AccountRecord,
    AccountRef,
    BillingReadingRecord,
    BillRecord,
    ConsumptionRecord,
    MeterRecord,
    MeterRef,
    PaymentRecord,
    Record,
    UpsertResult,
)

MAX_PROBLEMS = 1000
"""Problems listed in a report; more are counted, not listed (a broken file is huge)."""

MAX_PDF_BYTES = 10 * 1024 * 1024
"""A bill PDF bigger than this is refused: real bills are a few hundred kilobytes."""

_PERIOD = re.compile(r"(\d{4})-(\d{2})")
_MONEY_LIMIT = Decimal("10000000000")  # Numeric(12, 2) holds up to 10^10 - 0.01
KOPECK = Decimal("0.01")
_MAX_KWH = 10**12
_GROUP = re.compile(r"[0-9A-Za-zА-ЯҐЄІЇа-яґєії.\-/]{1,20}")
_PLAN_ALIASES = {
    "1": TariffPlan.SINGLE,
    "2": TariffPlan.TWO_ZONE,
    "3": TariffPlan.THREE_ZONE,
}
_ZONE_ALIASES = {"1": Zone.DAY, "2": Zone.NIGHT, "halfpeak": Zone.HALF_PEAK}


class ImportKind(StrEnum):
    """What a batch holds; the value is how the API path and the CLI name it."""

    ACCOUNTS = "accounts"
    METERS = "meters"
    BILLS = "bills"
    PAYMENTS = "payments"
    CONSUMPTION = "consumption"
    BILLING_READINGS = "billing-readings"


@dataclass(frozen=True)
class RowProblem:
    """Why a row was refused: its line (CSV line, or 1-based JSON position), field, reason."""

    line: int
    field: str | None
    reason: str


class BadValue(ValueError):
    """A field's value breaks a rule; the message is the reason shown to the operator."""


@dataclass(frozen=True)
class ImportReport:
    """The answer to a batch. `applied` is False when nothing was written."""

    kind: ImportKind
    received: int
    applied: bool
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: tuple[RowProblem, ...] = ()
    problems_not_listed: int = 0
    inserted_ids: tuple[int, ...] = field(default=(), repr=False)


# --- field rules ---------------------------------------------------------------------------


def _text(row: Mapping[str, Any], name: str, *, required: bool = True, limit: int = 300) -> str:
    value = row.get(name)
    if value is None:
        if required:
            raise BadValue("required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadValue("must be text")
    text = clean_text(str(value))
    if required and not text:
        raise BadValue("required")
    if len(text) > limit:
        raise BadValue(f"longer than {limit} characters")
    return text


def clean_text(text: str) -> str:
    """Trimmed text that a database can store: no NUL characters, valid Unicode."""
    if "\x00" in text:
        raise BadValue("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue("not valid Unicode text") from None
    return text.strip()


def _optional(row: Mapping[str, Any], name: str) -> bool:
    """True when a field is absent or empty (CSV has no null)."""
    value = row.get(name)
    return value is None or (isinstance(value, str) and not value.strip())


def parse_period(text: str) -> str:
    """A billing period "YYYY-MM" (2000-01 … 2100-12)."""
    match = _PERIOD.fullmatch(text.strip())
    if not match:
        raise BadValue("must be YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise BadValue("month must be 01–12")
    if not 2000 <= year <= 2100:
        raise BadValue("year must be 2000–2100")
    return f"{year:04d}-{month:02d}"


def parse_date(text: str) -> date:
    """An ISO date YYYY-MM-DD of 1900–2100 (contracts and meters may predate 2000; a
    year 9999 is a typo that consumers would be shown)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadValue("must be a date YYYY-MM-DD") from None
    if not 1900 <= day.year <= 2100:
        raise BadValue("year must be 1900–2100")
    return day


def parse_datetime(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 time; without an offset it is read as local time of `zone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadValue("must be an ISO 8601 time, e.g. 2026-11-05T14:30:00+02:00") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    if not 2000 <= moment.year <= 2100:
        raise BadValue("year must be 2000–2100")
    return moment


def parse_money(value: object) -> Decimal:
    """Hryvnias with at most two decimals ("1234.50", "1234,50", 1234.5); never float maths.

    A comma is read as the decimal point when there is no dot: spreadsheets in Ukrainian
    locale write money that way.
    """
    if value is None or value == "":
        raise BadValue("required")
    if isinstance(value, bool):
        raise BadValue("must be an amount like 1234.50")
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadValue("must be an amount like 1234.50") from None
    if not amount.is_finite():
        raise BadValue("must be an amount like 1234.50")
    if abs(amount) >= _MONEY_LIMIT:
        raise BadValue("too large")
    if amount != amount.quantize(KOPECK):
        raise BadValue("more than two decimal places")
    return amount.quantize(KOPECK)


def parse_whole(value: object, *, low: int = 0, high: int = _MAX_KWH) -> int:
    """A whole number within [low, high] ("123", 123; not "12.5")."""
    if value is None or value == "":
        raise BadValue("required")
    if isinstance(value, bool):
        raise BadValue("must be a whole number")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d{1,15}", text):
            raise BadValue("must be a whole number")
        number = int(text)
    if not low <= number <= high:
        raise BadValue(f"must be between {low} and {high}")
    return number


def parse_plan(text: str) -> TariffPlan:
    """single | two_zone | three_zone (or 1 / 2 / 3 zones)."""
    key = text.strip().lower().replace("-", "_")
    if key in _PLAN_ALIASES:
        return _PLAN_ALIASES[key]
    try:
        return TariffPlan(key)
    except ValueError:
        raise BadValue("must be single, two_zone or three_zone") from None


def parse_zone(text: str) -> Zone:
    """day | night | peak | half_peak."""
    key = text.strip().lower().replace("-", "_")
    if key in _ZONE_ALIASES:
        return _ZONE_ALIASES[key]
    try:
        return Zone(key)
    except ValueError:
        raise BadValue("must be day, night, peak or half_peak") from None


def parse_source(text: str) -> ReadingSource:
    """Who took a billing reading (cabinet, controller, inspection, estimated, a channel)."""
    try:
        return ReadingSource(text.strip().lower())
    except ValueError:
        names = ", ".join(source.value for source in ReadingSource)
        raise BadValue(f"must be one of {names}") from None


def parse_outage_group(text: str) -> str:
    """An outage group label such as "3.2" (any number of groups; never hard-coded)."""
    group = text.strip()
    if not _GROUP.fullmatch(group):
        raise BadValue("must be a group label like 3.2")
    return group


def check_pdf(content: bytes) -> bytes:
    """A bill PDF: starts like a PDF and is not larger than MAX_PDF_BYTES."""
    if len(content) > MAX_PDF_BYTES:
        raise BadValue(f"larger than {MAX_PDF_BYTES // (1024 * 1024)} MB")
    if not content.startswith(b"%PDF-"):
        raise BadValue("not a PDF")
    return content


def zone_of_plan(zone: Zone, plan: TariffPlan) -> Zone:
    """The zone, if the account's tariff plan has it."""
    if zone not in plan.zones:
        zones = ", ".join(item.value for item in plan.zones)
        raise BadValue(f"the account's {plan.value} plan has zones {zones}")
    return zone


# --- row parsers ---------------------------------------------------------------------------


class _Row:
    """Reads fields of one row, collecting the first problem of each field."""

    def __init__(self, line: int, data: Mapping[str, Any]) -> None:
        self.line = line
        self.data = data
        self.problems: list[RowProblem] = []

    def get(self, name: str, parse: Callable[[Any], Any], *, optional: bool = False) -> Any:
        if optional and _optional(self.data, name):
            return None
        try:
            return parse(self.data.get(name))
        except BadValue as error:
            self.problems.append(RowProblem(self.line, name, str(error)))
            return None

    def text(self, name: str, *, required: bool = True, limit: int = 300) -> str:
        return self.get(name, lambda _: _text(self.data, name, required=required, limit=limit))


def _str_rule(rule: Callable[[str], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value is None:
            raise BadValue("required")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadValue("must be text")
        return rule(str(value))

    return parse


def _account_number(text: str) -> str:
    try:
        return normalise_account_number(text)
    except AccountNumberInvalid:
        raise BadValue("must be 6–13 digits") from None


def _eic(text: str) -> str:
    try:
        return normalise_eic(text)
    except EicInvalid as error:
        reasons = {
            "length": "must be 16 characters",
            "checksum": "wrong check character",
            "format": "not an EIC code",
        }
        raise BadValue(reasons.get(str(error), "not an EIC code")) from None


def _install_readings(row: _Row) -> dict[Zone, int]:
    readings: dict[Zone, int] = {}
    for zone in Zone:
        name = f"install_{zone.value}"
        value = row.get(name, parse_whole, optional=True)
        if value is not None:
            readings[zone] = value
    return readings


def _parse_account(row: _Row, zone: tzinfo) -> AccountRecord | None:
    values = {
        "number": row.get("number", _str_rule(_account_number)),
        "eic": row.get("eic", _str_rule(_eic)),
        "holder_name": row.text("holder_name"),
        "settlement": row.text("settlement", limit=200),
        "street": row.text("street", limit=200),
        "building": row.text("building", limit=20),
        "apartment": row.text("apartment", required=False, limit=20),
        "outage_group": row.get("outage_group", _str_rule(parse_outage_group), optional=True),
        "dso_id": row.get("dso_id", lambda v: parse_whole(v, low=1, high=2**31 - 1)),
        "supplier_id": row.get("supplier_id", lambda v: parse_whole(v, low=1, high=2**31 - 1)),
        "tariff_plan": row.get("tariff_plan", _str_rule(parse_plan)),
        "contract_number": row.text("contract_number", required=False, limit=50),
        "contract_date": row.get("contract_date", _str_rule(parse_date), optional=True),
        "opening_balance": row.get("opening_balance", parse_money, optional=True),
    }
    if row.problems:
        return None
    values["opening_balance"] = values["opening_balance"] or Decimal("0.00")
    return AccountRecord(line=row.line, **values)


def _parse_meter(row: _Row, zone: tzinfo) -> MeterRecord | None:
    values = {
        "account_number": row.get("account_number", _str_rule(_account_number)),
        "serial": row.text("serial", limit=50),
        "type_name": row.text("type_name", limit=100),
        "digit_count": row.get("digit_count", lambda v: parse_whole(v, low=4, high=9)),
        "installed_on": row.get("installed_on", _str_rule(parse_date)),
        "install_readings": _install_readings(row),
        "removed_on": row.get("removed_on", _str_rule(parse_date), optional=True),
    }
    if not row.problems and not values["install_readings"]:
        row.problems.append(
            RowProblem(row.line, "install_day", "install readings of the meter's zones needed")
        )
    if row.problems:
        return None
    if values["removed_on"] is not None and values["removed_on"] < values["installed_on"]:
        row.problems.append(RowProblem(row.line, "removed_on", "before installed_on"))
        return None
    too_long = [
        zone_name
        for zone_name, value in values["install_readings"].items()
        if value >= 10 ** values["digit_count"]
    ]
    if too_long:
        row.problems.append(
            RowProblem(row.line, f"install_{too_long[0].value}", "more digits than the meter has")
        )
        return None
    return MeterRecord(line=row.line, **values)


def _pdf_field(value: Any) -> bytes:
    if not isinstance(value, str):
        raise BadValue("must be base64 text")
    try:
        content = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadValue("not valid base64") from None
    return check_pdf(content)


def _parse_bill(row: _Row, zone: tzinfo) -> BillRecord | None:
    values = {
        "account_number": row.get("account_number", _str_rule(_account_number)),
        "period": row.get("period", _str_rule(parse_period)),
        "issued_on": row.get("issued_on", _str_rule(parse_date)),
        "charged": row.get("charged", parse_money),
        "amount_due": row.get("amount_due", parse_money),
        "kwh": row.get("kwh", parse_whole),
        "pdf": row.get("pdf_base64", _pdf_field, optional=True),
    }
    for name in ("charged", "amount_due"):
        if isinstance(values[name], Decimal) and values[name] < 0:
            # A negative bill would be shown to the consumer as an overpayment.
            row.problems.append(RowProblem(row.line, name, "must not be negative"))
    if row.problems:
        return None
    return BillRecord(line=row.line, **values)


def _parse_payment(row: _Row, zone: tzinfo) -> PaymentRecord | None:
    values = {
        "account_number": row.get("account_number", _str_rule(_account_number)),
        "amount": row.get("amount", parse_money),
        "paid_at": row.get("paid_at", _str_rule(lambda text: parse_datetime(text, zone))),
        "provider": row.text("provider", limit=50),
        "provider_txn_id": row.text("provider_txn_id", limit=100),
    }
    if row.problems:
        return None
    if values["amount"] <= 0:
        row.problems.append(RowProblem(row.line, "amount", "must be more than 0"))
        return None
    return PaymentRecord(line=row.line, **values)


def _parse_consumption(row: _Row, zone: tzinfo) -> ConsumptionRecord | None:
    values = {
        "account_number": row.get("account_number", _str_rule(_account_number)),
        "period": row.get("period", _str_rule(parse_period)),
        "zone": row.get("zone", _str_rule(parse_zone)),
        "kwh": row.get("kwh", parse_whole),
    }
    if row.problems:
        return None
    return ConsumptionRecord(line=row.line, **values)


def _parse_billing_reading(row: _Row, zone: tzinfo) -> BillingReadingRecord | None:
    values = {
        "account_number": row.get("account_number", _str_rule(_account_number)),
        "period": row.get("period", _str_rule(parse_period)),
        "zone": row.get("zone", _str_rule(parse_zone)),
        "value": row.get("value", parse_whole),
        "taken_on": row.get("taken_on", _str_rule(parse_date)),
        "source": row.get("source", _str_rule(parse_source)),
        "meter_serial": row.text("meter_serial", required=False, limit=50) or None,
    }
    if row.problems:
        return None
    return BillingReadingRecord(line=row.line, **values)


_PARSERS: dict[ImportKind, Callable[[_Row, tzinfo], Record | None]] = {
    ImportKind.ACCOUNTS: _parse_account,
    ImportKind.METERS: _parse_meter,
    ImportKind.BILLS: _parse_bill,
    ImportKind.PAYMENTS: _parse_payment,
    ImportKind.CONSUMPTION: _parse_consumption,
    ImportKind.BILLING_READINGS: _parse_billing_reading,
}

FIELDS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.ACCOUNTS: (
        "number", "eic", "holder_name", "settlement", "street", "building", "apartment",
        "outage_group", "dso_id", "supplier_id", "tariff_plan", "contract_number",
        "contract_date", "opening_balance",
    ),
    ImportKind.METERS: (
        "account_number", "serial", "type_name", "digit_count", "installed_on",
        *(f"install_{zone.value}" for zone in Zone), "removed_on",
    ),
    ImportKind.BILLS: (
        "account_number", "period", "issued_on", "charged", "amount_due", "kwh", "pdf_base64",
    ),
    ImportKind.PAYMENTS: ("account_number", "amount", "paid_at", "provider", "provider_txn_id"),
    ImportKind.CONSUMPTION: ("account_number", "period", "zone", "kwh"),
    ImportKind.BILLING_READINGS: (
        "account_number", "period", "zone", "value", "taken_on", "source", "meter_serial",
    ),
}  # fmt: skip
"""The fields of each kind, in CSV column order (pdf_base64 is for JSON)."""


def natural_key(record: Record) -> tuple[object, ...]:
    """The key a record is upserted by."""
    match record:
        case AccountRecord():
            return (record.number,)
        case MeterRecord():
            return (record.account_number, record.serial)
        case BillRecord():
            return (record.account_number, record.period)
        case PaymentRecord():
            return (record.provider, record.provider_txn_id)
        case ConsumptionRecord() | BillingReadingRecord():
            return (record.account_number, record.period, record.zone)
    raise TypeError(record)


@dataclass(frozen=True)
class Unreadable:
    """A row the file format could not split into fields (e.g. a CSV line with too many
    cells); it is reported with `reason` like any other bad row."""

    reason: str


@dataclass
class ParsedBatch:
    """Good records and the problems of the bad rows, in line order."""

    kind: ImportKind
    received: int
    records: list[Record] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def bad_lines(self) -> set[int]:
        return {problem.line for problem in self.problems}


class RowChecker:
    """Checks the rows of one import by the field rules of `kind`, a part at a time.

    It remembers the natural keys of the parts it has seen, so a key given twice is found
    even when the two rows are in different parts. No database and no I/O: a part can be
    checked in a worker thread (one part at a time).
    """

    def __init__(self, kind: ImportKind, zone: tzinfo) -> None:
        self.kind = kind
        self.zone = zone
        self._parse = _PARSERS[kind]
        self._first_line: dict[tuple[object, ...], int] = {}

    def check(self, rows: Iterable[tuple[int, Mapping[str, Any] | Unreadable]]) -> ParsedBatch:
        """The good records and the problems of these rows ((line, fields) pairs). A
        natural key given twice is reported on the later line: which of two values is
        right cannot be guessed."""
        batch = ParsedBatch(kind=self.kind, received=0)
        fields = FIELDS[self.kind]
        for line, data in rows:
            batch.received += 1
            if isinstance(data, Unreadable):
                batch.problems.append(RowProblem(line, None, data.reason))
                continue
            if not isinstance(data, Mapping):
                batch.problems.append(RowProblem(line, None, "must be an object of fields"))
                continue
            row = _Row(line, data)
            unknown = sorted(str(name) for name in data if name not in fields)
            row.problems.extend(RowProblem(line, name[:100], "unknown field") for name in unknown)
            record = self._parse(row, self.zone)
            batch.problems.extend(row.problems)
            if record is None:
                continue
            key = natural_key(record)
            if key in self._first_line:
                reason = f"same key as line {self._first_line[key]}"
                batch.problems.append(RowProblem(line, None, reason))
                continue
            self._first_line[key] = line
            batch.records.append(record)
        return batch


def parse_rows(
    kind: ImportKind, rows: Iterable[tuple[int, Mapping[str, Any] | Unreadable]], zone: tzinfo
) -> ParsedBatch:
    """Check every row of a batch by the field rules of `kind` (no database needed)."""
    return RowChecker(kind, zone).check(rows)


# --- references: rules that need stored accounts and meters --------------------------------


async def _resolve(
    repo: AbstractOperatorRepository, batch: ParsedBatch
) -> tuple[list[Record], list[RowProblem]]:
    """Attach stored ids to records; a row naming an unknown account or meter is bad."""
    problems: list[RowProblem] = []
    good: list[Record] = []
    record: Record  # an AccountRecord in the first loop below, any kind in the second
    if batch.kind is ImportKind.ACCOUNTS:
        accounts = [r for r in batch.records if isinstance(r, AccountRecord)]
        dsos, suppliers = await repo.dso_ids(), await repo.supplier_ids()
        owners = await repo.eic_owners(r.eic for r in accounts)
        for record in accounts:
            owner = owners.get(record.eic)
            if record.dso_id not in dsos:
                problems.append(RowProblem(record.line, "dso_id", "unknown DSO"))
            elif record.supplier_id not in suppliers:
                problems.append(RowProblem(record.line, "supplier_id", "unknown supplier"))
            elif owner is not None and owner != record.number:
                problems.append(RowProblem(record.line, "eic", f"belongs to account {owner}"))
            else:
                good.append(record)
        return good, problems

    numbers = {getattr(record, "account_number") for record in batch.records}  # noqa: B009
    refs = await repo.account_refs(numbers)
    meters_by_account: dict[int, list[MeterRef]] = {}
    if batch.kind in (ImportKind.METERS, ImportKind.BILLING_READINGS):
        for meter in await repo.meter_refs(ref.id for ref in refs.values()):
            meters_by_account.setdefault(meter.account_id, []).append(meter)
    for record in batch.records:
        number = getattr(record, "account_number")  # noqa: B009
        ref = refs.get(number)
        if ref is None:
            problems.append(RowProblem(record.line, "account_number", "unknown account"))
            continue
        try:
            good.append(_attach(record, ref, meters_by_account.get(ref.id, [])))
        except _FieldProblem as problem:
            problems.append(RowProblem(record.line, problem.field, problem.reason))
    return good, problems


@dataclass
class _FieldProblem(Exception):
    field: str
    reason: str


def _attach(record: Record, ref: AccountRef, meters: list[MeterRef]) -> Record:
    plan = ref.tariff_plan
    match record:
        case MeterRecord():
            extra = [zone for zone in record.install_readings if zone not in plan.zones]
            missing = [zone for zone in plan.zones if zone not in record.install_readings]
            if extra:
                zones = ", ".join(zone.value for zone in plan.zones)
                reason = f"the account's {plan.value} plan has zones {zones}"
                raise _FieldProblem(f"install_{extra[0].value}", reason)
            if missing:
                raise _FieldProblem(f"install_{missing[0].value}", "required by the tariff plan")
            return dataclasses.replace(record, account_id=ref.id, zones=plan.zones)
        case ConsumptionRecord():
            _zone_in_plan(record.zone, plan)
            return dataclasses.replace(record, account_id=ref.id)
        case BillingReadingRecord():
            _zone_in_plan(record.zone, plan)
            meter = _meter_for(record, meters)
            if record.value >= 10**meter.digit_count:
                raise _FieldProblem("value", "more digits than the meter has")
            return dataclasses.replace(record, account_id=ref.id, meter_id=meter.id)
        case BillRecord() | PaymentRecord():
            return dataclasses.replace(record, account_id=ref.id)
    raise TypeError(record)


def _zone_in_plan(zone: Zone, plan: TariffPlan) -> None:
    try:
        zone_of_plan(zone, plan)
    except BadValue as error:
        raise _FieldProblem("zone", str(error)) from None


def _meter_for(record: BillingReadingRecord, meters: list[MeterRef]) -> MeterRef:
    if record.meter_serial is not None:
        for meter in meters:
            if meter.serial == record.meter_serial:
                return meter
        raise _FieldProblem("meter_serial", "no such meter on the account")
    in_service = [meter for meter in meters if meter.in_service]
    if not in_service:
        raise _FieldProblem("meter_serial", "the account has no meter in service")
    return in_service[-1]


# --- the service ---------------------------------------------------------------------------


SavePdf = Callable[[str, str, bytes], Awaitable[str]]
"""Store a bill PDF of (account number, period); returns its reference for Bill.pdf_ref."""

AfterImport = Callable[["AbstractUnitOfWork", ImportReport, Sequence[Record]], Awaitable[None]]
"""Runs in the import's unit of work after each write, before the commit (e.g. enqueue
new-bill notices), with the report and the records of that write."""


async def import_rows(
    uow: AbstractUnitOfWork,
    kind: ImportKind,
    rows: Iterable[tuple[int, Mapping[str, Any] | Unreadable]],
    *,
    zone: tzinfo,
    skip_bad: bool = False,
    save_pdf: SavePdf | None = None,
    after: AfterImport | None = None,
) -> ImportReport:
    """Validate and upsert one batch given whole (checked here, on the caller's thread);
    see `import_parts`."""

    async def one_part() -> AsyncIterator[ParsedBatch]:
        yield parse_rows(kind, rows, zone)

    return await import_parts(
        uow, kind, one_part(), skip_bad=skip_bad, save_pdf=save_pdf, after=after
    )


@dataclass
class _Tally:
    """What an import did so far, over its parts; only MAX_PROBLEMS problems are kept."""

    received: int = 0
    refused: bool = False
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problems_not_listed: int = 0
    inserted_ids: list[int] = field(default_factory=list)

    def note(self, received: int, problems: list[RowProblem]) -> set[int]:
        """Count a checked part; its bad lines."""
        self.received += received
        room = max(0, MAX_PROBLEMS - len(self.problems))
        self.problems.extend(problems[:room])
        self.problems_not_listed += max(0, len(problems) - room)
        bad_lines = {problem.line for problem in problems}
        self.skipped += len(bad_lines)
        return bad_lines

    def add(self, result: UpsertResult) -> None:
        self.inserted += result.inserted
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.inserted_ids.extend(result.inserted_ids)

    def refuse(self) -> None:
        """A bad row: nothing is written, so what was upserted so far does not count."""
        self.refused = True
        self.inserted = self.updated = self.unchanged = 0
        self.inserted_ids.clear()

    def report(self, kind: ImportKind) -> ImportReport:
        return ImportReport(
            kind=kind,
            received=self.received,
            applied=not self.refused,
            inserted=self.inserted,
            updated=self.updated,
            unchanged=self.unchanged,
            skipped=self.skipped,
            problems=tuple(self.problems),
            problems_not_listed=self.problems_not_listed,
            inserted_ids=tuple(self.inserted_ids),
        )


def _carries_pdf(record: Record) -> bool:
    return isinstance(record, BillRecord) and record.pdf is not None


async def import_parts(
    uow: AbstractUnitOfWork,
    kind: ImportKind,
    parts: AsyncIterable[ParsedBatch],
    *,
    skip_bad: bool = False,
    save_pdf: SavePdf | None = None,
    after: AfterImport | None = None,
) -> ImportReport:
    """Validate and upsert an import that arrives in checked parts, all in one transaction
    of `uow`, committing at the end when it is applied.

    Each part's accounts and meters are looked up and its good rows upserted at once, so an
    import holds one part in memory, not all of it. A bad row (without `skip_bad`) stops
    the writing; the remaining parts are still checked for the report, and nothing is
    committed: all or nothing, as for a batch given whole. With `skip_bad` the good rows are
    written and the bad ones reported as skipped. Bills that carry a PDF are written last,
    once the import is known to be applied, so a refused import stores no PDF.
    """
    repo = uow.operator
    tally = _Tally()
    with_pdf: list[Record] = []

    async def write(records: list[Record]) -> None:
        result = await _upsert(repo, kind, records)
        tally.add(result)
        if after is not None and records:
            counts = (result.inserted, result.updated, result.unchanged)
            written = ImportReport(kind, len(records), True, *counts)
            await after(uow, written, records)

    async for part in parts:
        records, reference_problems = await _resolve(repo, part)
        problems = sorted(
            [*part.problems, *reference_problems], key=lambda p: (p.line, p.field or "")
        )
        bad_lines = tally.note(part.received, problems)
        if problems and not skip_bad and not tally.refused:
            tally.refuse()
        if tally.refused:
            continue  # nothing more is written; the rest is only checked
        good = [record for record in records if record.line not in bad_lines]
        if save_pdf is not None:
            with_pdf.extend(record for record in good if _carries_pdf(record))
            good = [record for record in good if not _carries_pdf(record)]
        if good:
            await write(good)
    if tally.refused:
        return tally.report(kind)
    if with_pdf and save_pdf is not None:
        await write([await _with_pdf(record, save_pdf) for record in with_pdf])
    report = tally.report(kind)
    await uow.commit()
    return report


async def _with_pdf(record: Record, save_pdf: SavePdf) -> Record:
    if isinstance(record, BillRecord) and record.pdf is not None:
        ref = await save_pdf(record.account_number, record.period, record.pdf)
        return dataclasses.replace(record, pdf=None, pdf_ref=ref)
    return record


async def _upsert(
    repo: AbstractOperatorRepository, kind: ImportKind, records: list[Record]
) -> UpsertResult:
    def of(cls: type) -> list[Any]:
        return [record for record in records if isinstance(record, cls)]

    if kind is ImportKind.ACCOUNTS:
        return await repo.upsert_accounts(of(AccountRecord))
    if kind is ImportKind.METERS:
        return await repo.upsert_meters(of(MeterRecord))
    if kind is ImportKind.BILLS:
        return await repo.upsert_bills(of(BillRecord))
    if kind is ImportKind.PAYMENTS:
        return await repo.upsert_payments(of(PaymentRecord))
    if kind is ImportKind.CONSUMPTION:
        return await repo.upsert_consumption(of(ConsumptionRecord))
    return await repo.upsert_billing_readings(of(BillingReadingRecord))
