"""What a person owes or has paid ahead, said the way a bill says it.

The balance alone (positive = overpayment, negative = debt) cannot tell "a bill issued
today, to pay by the 20th" from "a debt past its date". The decision is made here, as a
pure function of the balance facts and today's date (`money_state`), so every place that
shows money (the balance, personal information, bill pushes, the bill PDF, the payment
thanks) says the same thing.

Payments settle the oldest charges first, so what is still owed belongs to the newest
bills: a bill is unpaid for the part of the debt its newer bills do not already cover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

from core.accounts import AccountSummary, account_summary, summary_of
from core.model import Account, Bill, Readings, SubmittedReading, TariffRate, Zone
from core.money import to_money
from core.ports import AbstractUnitOfWork
from core.readings import ReadingRules, Window, next_window, window_end, window_start

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BillingRules:
    """When a bill must be paid: by `due_day` of the month after its period, and never
    sooner than `min_days_to_pay` days after it was issued (a late bill gets its days)."""

    due_day: int = 20
    min_days_to_pay: int = 10


def due_date(period: str, issued_on: date, rules: BillingRules) -> date:
    """The last day to pay the bill of `period` (YYYY-MM) issued on `issued_on`."""
    year, month = (int(part) for part in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    by_rule = date(year, month, min(rules.due_day, 28))
    return max(by_rule, issued_on + timedelta(days=rules.min_days_to_pay))


class MoneyKind(StrEnum):
    """The four things a balance can mean to the person."""

    OVERPAID = "overpaid"  # paid ahead: the next bills take it
    SETTLED = "settled"  # nothing owed, nothing ahead
    DUE = "due"  # a bill to pay, not late yet
    OVERDUE = "overdue"  # some of it is past its date


@dataclass(frozen=True)
class OpenBill:
    """What a bill adds to the balance and when it must be paid."""

    period: str
    charged: Decimal
    due_on: date


@dataclass(frozen=True)
class MoneyState:
    """The balance as the person should read it, with amounts.

    `due` is to be paid by `due_on` and is not late; `overdue` is past its date (the
    newest missed date is `overdue_since`). Both may be set at once.
    """

    kind: MoneyKind
    overpaid: Decimal = ZERO
    due: Decimal = ZERO
    due_on: date | None = None
    overdue: Decimal = ZERO
    overdue_since: date | None = None

    @property
    def to_pay(self) -> Decimal:
        """Everything owed now: what is due and what is late."""
        return self.due + self.overdue


def unpaid_parts(balance: Decimal, bills: Sequence[OpenBill]) -> dict[str, Decimal]:
    """How much of each bill is still unpaid (newest bills carry the debt first).

    `bills` may come in any order; bills fully paid are left out. Debt beyond the bills
    given (older charges, an opening debt) belongs to none of them.
    """
    debt = max(ZERO, -balance)
    parts: dict[str, Decimal] = {}
    for bill in sorted(bills, key=lambda b: b.period, reverse=True):
        if debt <= 0:
            break
        part = min(debt, max(ZERO, bill.charged))
        if part > 0:
            parts[bill.period] = to_money(part)
        debt -= part
    return parts


def money_state(balance: Decimal, bills: Sequence[OpenBill], today: date) -> MoneyState:
    """Overpaid / settled / due by a date / overdue, from the balance, the latest bills
    and today. A bill is not late on its due date itself."""
    balance = to_money(balance)
    if balance > 0:
        return MoneyState(MoneyKind.OVERPAID, overpaid=balance)
    if balance == 0:
        return MoneyState(MoneyKind.SETTLED)
    by_period = {bill.period: bill for bill in bills}
    due = overdue = ZERO
    due_on: date | None = None
    overdue_since: date | None = None
    parts = unpaid_parts(balance, bills)
    for period, part in parts.items():
        bill = by_period[period]
        if bill.due_on >= today:
            due += part
            due_on = bill.due_on if due_on is None else min(due_on, bill.due_on)
        else:
            overdue += part
            overdue_since = max(overdue_since or bill.due_on, bill.due_on)
    # Debt older than every bill given is late by definition.
    overdue += -balance - sum(parts.values(), ZERO)
    if overdue > 0:
        return MoneyState(MoneyKind.OVERDUE, ZERO, due, due_on, to_money(overdue), overdue_since)
    return MoneyState(MoneyKind.DUE, ZERO, due, due_on)


def open_bill(bill: Bill, rules: BillingRules) -> OpenBill:
    """A stored bill with its due date."""
    return OpenBill(bill.period, bill.charged, due_date(bill.period, bill.issued_on, rules))


@dataclass(frozen=True)
class AccountBalance:
    """One account on the balance screen: its money, its latest facts, and the readings
    submitted in this period's reading window."""

    summary: AccountSummary
    money: MoneyState
    last_bill_due_on: date | None
    window: Window
    submitted: Sequence[SubmittedReading]

    @property
    def account(self) -> Account:
        """The account shown."""
        return self.summary.account


async def account_balance(
    uow: AbstractUnitOfWork,
    account: Account,
    now: datetime,
    billing: BillingRules,
    readings: ReadingRules,
) -> AccountBalance:
    """The balance facts of an account and what they mean today.

    Monthly bills are due before the next one is issued, so only the latest bill can be
    "not late yet"; older debt is late.
    """
    window = next_window(now, readings)
    # The readings submitted in the window come with the balance facts: one question.
    facts = await uow.balance_facts(
        account.id, (window_start(window, readings), window_end(window, readings))
    )
    summary = summary_of(account, facts)
    today = now.astimezone(readings.zone).date()
    bills = [open_bill(summary.last_bill, billing)] if summary.last_bill else []
    return AccountBalance(
        summary=summary,
        money=money_state(summary.balance, bills, today),
        last_bill_due_on=bills[0].due_on if bills else None,
        window=window,
        submitted=facts.submitted,
    )


async def money_of(
    uow: AbstractUnitOfWork, account: Account, today: date, billing: BillingRules
) -> MoneyState:
    """An account's money state today (for pushes, which need no more than that)."""
    summary = await account_summary(uow, account)
    bills = [open_bill(summary.last_bill, billing)] if summary.last_bill else []
    return money_state(summary.balance, bills, today)


def total_to_pay(balances: Sequence[AccountBalance]) -> Decimal:
    """What all the accounts owe together (overpayments do not offset other accounts)."""
    return sum((balance.money.to_pay for balance in balances), ZERO)


@dataclass(frozen=True)
class ZoneCharge:
    """One line of a bill: a zone's kWh at its price, and the amount."""

    zone: Zone
    kwh: int
    price: Decimal | None
    amount: Decimal | None


@dataclass(frozen=True)
class BillStatement:
    """What a bill says about money: the balance carried over from before it (positive =
    overpayment), the zone lines, the charge, what is due and by when."""

    bill: Bill
    carried: Decimal
    zones: Sequence[ZoneCharge]
    due: Decimal
    due_on: date


def bill_statement(
    bill: Bill,
    carried: Decimal,
    consumption: Readings,
    rates: Sequence[TariffRate],
    zones: Sequence[Zone],
    rules: BillingRules,
) -> BillStatement:
    """A bill's money lines. What is due is billing's own `amount_due` (billing is the
    authority); the carried-over balance explains it."""
    prices: Mapping[Zone, Decimal] = {rate.zone: rate.price for rate in rates}
    lines = []
    for zone in zones:
        kwh = consumption.get(zone, 0)
        price = prices.get(zone)
        lines.append(ZoneCharge(zone, kwh, price, None if price is None else to_money(price * kwh)))
    return BillStatement(
        bill=bill,
        carried=to_money(carried),
        zones=lines,
        due=bill.amount_due,
        due_on=due_date(bill.period, bill.issued_on, rules),
    )


async def load_bill_statement(
    uow: AbstractUnitOfWork, account: Account, bill: Bill, rules: BillingRules, zone: tzinfo
) -> BillStatement:
    """The statement of a stored bill: the carried-over balance is the opening balance,
    plus payments made before the bill was issued, less the charges of earlier bills."""
    issued = datetime.combine(bill.issued_on, datetime.min.time(), zone)
    earlier = [b for b in await uow.billing.bills(account.id) if b.period < bill.period]
    paid = [p for p in await uow.billing.payments(account.id) if p.paid_at < issued]
    carried = (
        account.opening_balance
        + sum((p.amount for p in paid), ZERO)
        - sum((b.charged for b in earlier), ZERO)
    )
    consumption = {
        row.zone: row.kwh
        for row in await uow.readings.consumption(account.id, since_period=bill.period)
        if row.period == bill.period
    }
    rates = await uow.tariffs.rates_in_force(account.tariff_plan, bill.issued_on)
    return bill_statement(bill, carried, consumption, rates, account.tariff_plan.zones, rules)


def bill_is_paid(bill: Bill, balance: Decimal, newer: Sequence[Bill]) -> bool:
    """Whether nothing of `bill` is owed any more, given the balance and the bills issued
    after it (they carry the debt first)."""
    bills = [OpenBill(b.period, b.charged, b.issued_on) for b in (*newer, bill)]
    return bill.period not in unpaid_parts(balance, bills)
