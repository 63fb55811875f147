"""The import service and its rules against the in-memory fakes: no database, fast."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.imports import (
    BadValue,
    ImportKind,
    ImportReport,
    Unreadable,
    import_rows,
    parse_money,
    parse_period,
    parse_rows,
    parse_whole,
)
from core.model import Dso, Supplier, TariffPlan, Zone
from core.ports import AbstractUnitOfWork
from core.records import Record
from tests.builders import add_account
from tests.fakes import FakeData, FakeUnitOfWorkFactory

KYIV = ZoneInfo("Europe/Kyiv")
PDF_B64 = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()


@pytest.mark.parametrize(("text", "period"), [("2026-10", "2026-10"), (" 2026-01 ", "2026-01")])
def test_periods(text: str, period: str) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-10", "2026/10", "1999-12", ""])
def test_bad_periods(text: str) -> None:
    with pytest.raises(BadValue):
        parse_period(text)


@pytest.mark.parametrize(
    ("value", "amount"),
    [("12.30", "12.30"), ("12,3", "12.30"), (7, "7.00"), (Decimal("0.1"), "0.10"),
     ("1 234.50", "1234.50"), ("-5", "-5.00")],
)  # fmt: skip
def test_money(value: object, amount: str) -> None:
    assert parse_money(value) == Decimal(amount)


@pytest.mark.parametrize("value", ["12.345", "abc", "NaN", "Infinity", "1e12", True, "", None])
def test_bad_money(value: object) -> None:
    with pytest.raises(BadValue):
        parse_money(value)


@pytest.mark.parametrize("value", ["1.5", "1e3", "", None, False, -1, "99999999999999999"])
def test_bad_whole_numbers(value: object) -> None:
    with pytest.raises(BadValue):
        parse_whole(value)


def test_rows_that_are_not_objects_are_bad_rows() -> None:
    batch = parse_rows(
        ImportKind.CONSUMPTION, [(1, [1, 2]), (2, Unreadable("3 cells, the header has 4"))], KYIV
    )  # type: ignore[list-item]
    assert [(p.line, p.reason) for p in batch.problems] == [
        (1, "must be an object of fields"),
        (2, "3 cells, the header has 4"),
    ]


def _world() -> FakeUnitOfWorkFactory:
    data = FakeData()
    data.dsos.append(Dso(1, "ДТЕК", 1))
    data.suppliers.append(Supplier(1, "Постачальник"))
    add_account(data, number="2010000232", plan=TariffPlan.TWO_ZONE)
    return FakeUnitOfWorkFactory(data)


async def test_a_refused_batch_saves_no_pdf_and_does_not_commit() -> None:
    factory = _world()
    saved: list[tuple[str, str]] = []

    async def save_pdf(number: str, period: str, content: bytes) -> str:
        saved.append((number, period))
        return f"{number}/{period}.pdf"

    rows = [
        (1, {"account_number": "2010000232", "period": "2026-11", "issued_on": "2026-12-03",
             "charged": "100.00", "amount_due": "100.00", "kwh": 20, "pdf_base64": PDF_B64}),
        (2, {"account_number": "2010000999", "period": "2026-11", "issued_on": "2026-12-03",
             "charged": "1", "amount_due": "1", "kwh": 1}),
    ]  # fmt: skip
    uow = factory()
    report = await import_rows(uow, ImportKind.BILLS, rows, zone=KYIV, save_pdf=save_pdf)
    assert not report.applied and saved == [] and uow.committed == 0
    assert [(p.line, p.field, p.reason) for p in report.problems] == [
        (2, "account_number", "unknown account")
    ]
    uow = factory()
    report = await import_rows(
        uow, ImportKind.BILLS, rows, zone=KYIV, save_pdf=save_pdf, skip_bad=True
    )
    assert report.applied and report.inserted == 1 and report.skipped == 1
    assert saved == [("2010000232", "2026-11")] and uow.committed == 1
    bill = await uow.billing.bill(next(iter(factory.data.accounts)), "2026-11")
    assert bill is not None and bill.pdf_ref == "2010000232/2026-11.pdf"


async def test_the_after_hook_sees_the_applied_records_before_the_commit() -> None:
    factory = _world()
    seen: list[tuple[int, int]] = []

    async def after(
        uow: AbstractUnitOfWork, report: ImportReport, records: Sequence[Record]
    ) -> None:
        seen.append((report.inserted, len(records)))
        assert uow.committed == 0  # type: ignore[attr-defined]

    rows = [(1, {"account_number": "2010000232", "period": "2026-11", "zone": z, "kwh": 10})
            for z in ("day", "night")]  # fmt: skip
    report = await import_rows(factory(), ImportKind.CONSUMPTION, rows, zone=KYIV, after=after)
    assert seen == [(2, 2)] and report.inserted == 2
    again = await import_rows(factory(), ImportKind.CONSUMPTION, rows[:1], zone=KYIV)
    assert again.unchanged == 1


async def test_meter_zones_come_from_the_plan() -> None:
    factory = _world()
    row = {"account_number": "2010000232", "serial": "N1", "type_name": "NIK",
           "digit_count": "6", "installed_on": "2024-01-01", "install_day": "1",
           "install_night": "2"}  # fmt: skip
    report = await import_rows(factory(), ImportKind.METERS, [(2, row)], zone=KYIV)
    assert report.inserted == 1
    meter = next(m for m in factory.data.meters if m.serial == "N1")
    assert meter.zones == (Zone.DAY, Zone.NIGHT) and meter.installed_on == date(2024, 1, 1)


async def test_too_many_problems_are_counted_not_listed() -> None:
    factory = _world()
    rows = [(n, {"account_number": "x"}) for n in range(1, 402)]
    report = await import_rows(factory(), ImportKind.CONSUMPTION, rows, zone=KYIV)
    assert len(report.problems) == 1000 and report.problems_not_listed == 401 * 4 - 1000
