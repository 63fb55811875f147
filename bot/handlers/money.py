"""Money as the person reads it, in every place that shows it, and paying by bank transfer.

The decision (overpaid / settled / due by a date / overdue) is core's `money_state`; here
it becomes words, the same in the balance, personal information, bill messages and
pushes, the bill PDF and the payment thanks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal

from bot.i18n import Translator
from core.balances import AccountBalance, MoneyKind, MoneyState, bill_is_paid
from core.model import Account, Bill, Zone
from core.payment_qr import (
    BankDetailsInvalid,
    BankTransferRules,
    CreditTransfer,
    Payee,
    nbu_qr_link,
    payee_for,
    transfer_for,
)
from core.ports import AbstractUnitOfWork

log = logging.getLogger(__name__)


def money_lines(t: Translator, state: MoneyState) -> list[str]:
    """ "Переплата 250,50 грн…", "До сплати 721,44 грн до 20.12.2026.", a late debt…"""
    if state.kind is MoneyKind.OVERPAID:
        return [t("money.overpaid", amount=t.money(state.overpaid))]
    if state.kind is MoneyKind.SETTLED:
        return [t("money.settled")]
    if state.kind is MoneyKind.DUE:
        return [t("money.due", amount=t.money(state.due), date=_date(t, state.due_on))]
    if state.overdue_since is not None:
        lines = [
            t("money.overdue", amount=t.money(state.overdue), date=t.date(state.overdue_since))
        ]
    else:
        lines = [t("money.overdue_undated", amount=t.money(state.overdue))]
    if state.due > 0:
        lines.append(t("money.also_due", amount=t.money(state.due), date=_date(t, state.due_on)))
        lines.append(t("money.total", amount=t.money(state.to_pay)))
    return lines


def _date(t: Translator, day: date | None) -> str:
    return t.date(day) if day is not None else "—"


def last_bill_line(t: Translator, bill: Bill, due_on: date | None, paid: bool) -> str:
    """The latest bill: what it charged, and paid or by when."""
    if paid:
        period, charged = t.month(bill.period), t.money(bill.charged)
        return t("money.last_bill_paid", period=period, charged=charged)
    return t(
        "money.last_bill_open",
        period=t.month(bill.period),
        charged=t.money(bill.charged),
        date=_date(t, due_on),
    )


def readings_line(
    t: Translator,
    balance: AccountBalance,
    today: date,
    zone: tzinfo,
    zones: tuple[Zone, ...] = (),
) -> str:
    """What was submitted in this period's reading window, or until / from when it can be."""
    window = balance.window
    if balance.submitted:
        newest = balance.submitted[0]
        values = t.values(newest.values, zones)
        moment = t.moment(newest.taken_at.astimezone(zone))
        return t("money.readings_sent", moment=moment, values=values)
    if window.contains(today):
        return t("money.readings_missing_open", closes=t.date(window.closes))
    return t("money.readings_missing", opens=t.date(window.opens), closes=t.date(window.closes))


def account_lines(t: Translator, found: AccountBalance, zone: tzinfo) -> list[str]:
    """The money state, then the latest bill, payment, billing readings and consumption."""
    summary = found.summary
    lines = money_lines(t, found.money)
    if summary.last_bill is not None:
        paid = bill_is_paid(summary.last_bill, summary.balance, [])
        lines.append(last_bill_line(t, summary.last_bill, found.last_bill_due_on, paid))
    if summary.last_payment is not None:
        paid_on = summary.last_payment.paid_at.astimezone(zone)
        amount = t.money(summary.last_payment.amount)
        lines.append(t("balance.last_payment", amount=amount, date=t.date(paid_on)))
    else:
        lines.append(t("balance.no_payments"))
    reading = summary.last_billing_reading
    if reading is not None:
        values = t.values(reading.values, found.account.tariff_plan.zones)
        lines.append(t("balance.last_readings", date=t.date(reading.taken_on), values=values))
        used = sum(summary.last_period_consumption.values())
        lines.append(t("balance.last_consumption", period=t.month(reading.period), kwh=t.kwh(used)))
    return lines


@dataclass(frozen=True)
class BankTransfer:
    """What to show for paying an account by bank transfer: the details always, the QR
    link when the details make a valid payment order."""

    payee: Payee
    transfer: CreditTransfer
    qr_link: str | None


async def bank_transfer_for(
    uow: AbstractUnitOfWork,
    rules: BankTransferRules,
    account: Account,
    amount: Decimal,
    period: str,
) -> BankTransfer | None:
    """The account's bank transfer (None when no payee details are known).

    `period` is YYYY-MM; the purpose is always Ukrainian (it goes to the payee's bank).
    """
    supplier = await uow.references.supplier(account.supplier_id)
    payee = payee_for(supplier, rules)
    if payee is None:
        return None
    year, month = period.split("-")
    transfer = transfer_for(payee, rules, account.number, f"{month}.{year}", amount)
    try:
        link: str | None = nbu_qr_link(transfer)
    except BankDetailsInvalid as problem:
        # Bad data of the payee must not hide the details people can still type in.
        log.warning("no payment QR for supplier %s: %s", account.supplier_id, problem)
        link = None
    return BankTransfer(payee, transfer, link)


def transfer_rows(t: Translator, transfer: BankTransfer) -> list[tuple[str, str]]:
    """Label–value rows of the payee details (bill PDF, chat)."""
    return [
        (t("pdf.payee"), transfer.payee.recipient),
        (t("pdf.iban"), transfer.payee.iban),
        (t("pdf.edrpou"), transfer.payee.recipient_code),
        (t("pdf.purpose_label"), transfer.transfer.purpose),
    ]
