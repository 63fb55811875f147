"""Money states: overpaid, settled, due by a date, overdue — from the balance facts and
today's date, without a database; and the balance screen's service on the fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.balances import (
    BillingRules,
    MoneyKind,
    OpenBill,
    account_balance,
    bill_is_paid,
    bill_statement,
    due_date,
    load_bill_statement,
    money_state,
    unpaid_parts,
)
from core.model import Bill, Payment, ReadingSource, SubmittedReading, TariffPlan, TariffRate, Zone
from core.readings import ReadingRules
from tests.builders import add_account, add_tariffs
from tests.fakes import FakeUnitOfWorkFactory

RULES = BillingRules(due_day=20, min_days_to_pay=10)
OCTOBER = OpenBill("2026-10", Decimal("721.44"), date(2026, 11, 20))
SEPTEMBER = OpenBill("2026-09", Decimal("604.80"), date(2026, 10, 20))


def test_due_day_of_the_month_after_the_period() -> None:
    assert due_date("2026-10", date(2026, 11, 5), RULES) == date(2026, 11, 20)
    assert due_date("2026-12", date(2027, 1, 5), RULES) == date(2027, 1, 20)


def test_a_late_bill_still_gets_its_days_to_pay() -> None:
    assert due_date("2026-10", date(2026, 11, 18), RULES) == date(2026, 11, 28)


def test_an_advance_payment_is_an_overpayment_not_zero_due() -> None:
    state = money_state(Decimal("250.50"), [OCTOBER], date(2026, 11, 29))
    assert state.kind is MoneyKind.OVERPAID
    assert state.overpaid == Decimal("250.50") and state.to_pay == 0


def test_nothing_owed_nothing_ahead() -> None:
    state = money_state(Decimal("0"), [OCTOBER], date(2026, 11, 29))
    assert state.kind is MoneyKind.SETTLED and state.to_pay == 0


def test_on_the_day_a_bill_is_issued_it_is_due_by_its_date_not_a_debt() -> None:
    state = money_state(Decimal("-721.44"), [OCTOBER], date(2026, 11, 5))
    assert state.kind is MoneyKind.DUE
    assert state.due == Decimal("721.44") and state.due_on == date(2026, 11, 20)
    assert state.overdue == 0


def test_on_the_due_date_itself_it_is_not_late() -> None:
    assert money_state(Decimal("-721.44"), [OCTOBER], date(2026, 11, 20)).kind is MoneyKind.DUE


def test_after_the_due_date_it_is_overdue() -> None:
    state = money_state(Decimal("-721.44"), [OCTOBER], date(2026, 11, 21))
    assert state.kind is MoneyKind.OVERDUE
    assert state.overdue == Decimal("721.44") and state.overdue_since == date(2026, 11, 20)
    assert state.due == 0


def test_an_old_debt_and_a_new_bill_are_told_apart() -> None:
    # 100 of September is unpaid and late; October's bill is new.
    state = money_state(Decimal("-821.44"), [OCTOBER, SEPTEMBER], date(2026, 11, 6))
    assert state.kind is MoneyKind.OVERDUE
    assert state.overdue == Decimal("100.00") and state.overdue_since == date(2026, 10, 20)
    assert state.due == Decimal("721.44") and state.due_on == date(2026, 11, 20)
    assert state.to_pay == Decimal("821.44")


def test_a_debt_older_than_the_bills_given_is_late() -> None:
    state = money_state(Decimal("-900.00"), [OCTOBER], date(2026, 11, 6))
    assert state.kind is MoneyKind.OVERDUE
    assert state.due == Decimal("721.44") and state.overdue == Decimal("178.56")


def test_a_partly_paid_bill_is_due_for_the_rest() -> None:
    state = money_state(Decimal("-21.44"), [OCTOBER], date(2026, 11, 10))
    assert state.kind is MoneyKind.DUE and state.due == Decimal("21.44")


def test_newest_bills_carry_the_debt() -> None:
    assert unpaid_parts(Decimal("-800"), [SEPTEMBER, OCTOBER]) == {
        "2026-10": Decimal("721.44"),
        "2026-09": Decimal("78.56"),
    }
    assert unpaid_parts(Decimal("10"), [SEPTEMBER, OCTOBER]) == {}


def bill(period: str, charged: str, due: str | None = None) -> Bill:
    year, month = (int(x) for x in period.split("-"))
    issued = date(year + month // 12, month % 12 + 1, 5)
    return Bill(1, 1, period, issued, Decimal(charged), Decimal(due or charged), 167)


def test_a_bill_is_paid_when_newer_bills_carry_all_the_debt() -> None:
    october, september = bill("2026-10", "721.44"), bill("2026-09", "604.80")
    assert bill_is_paid(september, Decimal("-721.44"), [october])
    assert not bill_is_paid(october, Decimal("-721.44"), [])
    assert not bill_is_paid(september, Decimal("-800.00"), [october])
    assert bill_is_paid(october, Decimal("0"), [])


def test_bill_statement_lines_per_zone() -> None:
    two_zone = bill("2026-10", "1008.72")
    rates = [
        TariffRate(TariffPlan.TWO_ZONE, Zone.DAY, Decimal("4.32"), date(2024, 6, 1)),
        TariffRate(TariffPlan.TWO_ZONE, Zone.NIGHT, Decimal("2.16"), date(2024, 6, 1)),
    ]
    statement = bill_statement(
        two_zone,
        Decimal("25.40"),
        {Zone.DAY: 178, Zone.NIGHT: 109},
        rates,
        (Zone.DAY, Zone.NIGHT),
        RULES,
    )
    assert [(z.zone, z.kwh, z.price, z.amount) for z in statement.zones] == [
        (Zone.DAY, 178, Decimal("4.32"), Decimal("768.96")),
        (Zone.NIGHT, 109, Decimal("2.16"), Decimal("235.44")),
    ]
    assert statement.carried == Decimal("25.40") and statement.due_on == date(2026, 11, 20)


NOW = datetime(2026, 11, 29, 8, tzinfo=UTC)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    factory = FakeUnitOfWorkFactory()
    add_tariffs(factory.data)
    add_account(factory.data)
    return factory


async def test_balance_service_on_the_fakes(factory: FakeUnitOfWorkFactory) -> None:
    account = next(iter(factory.data.accounts.values()))
    uow = factory()
    charged, paid = await uow.billing.totals(account.id)
    factory.data.payments.append(
        Payment(999, account.id, charged - paid + Decimal("250.50"), NOW, "bank", "adv-1")
    )
    meter = await uow.meters.in_service(account.id)
    await uow.readings.add_submitted(
        SubmittedReading(None, account.id, meter.id, NOW, {Zone.DAY: 8500}, ReadingSource.CONSOLE)
    )
    found = await account_balance(uow, account, NOW, RULES, ReadingRules())
    assert found.money.kind is MoneyKind.OVERPAID and found.money.overpaid == Decimal("250.50")
    assert found.window.opens == date(2026, 11, 29) and found.window.closes == date(2026, 12, 3)
    assert [r.values for r in found.submitted] == [{Zone.DAY: 8500}]


async def test_carried_over_balance_of_a_bill(factory: FakeUnitOfWorkFactory) -> None:
    account = next(iter(factory.data.accounts.values()))
    uow = factory()
    bills = await uow.billing.bills(account.id)
    latest = bills[0]
    statement = await load_bill_statement(uow, account, latest, RULES, UTC)
    earlier = sum(b.charged for b in bills[1:])
    paid = sum(
        p.amount
        for p in await uow.billing.payments(account.id)
        if p.paid_at.date() < latest.issued_on
    )
    assert statement.carried == account.opening_balance + paid - earlier
    assert statement.zones[0].kwh == latest.kwh
