"""Balance (manual §6.1 "стан рахунку"): over/underpayment, last payment, bill and readings."""

from __future__ import annotations

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.keyboards import section_rows, with_menu
from bot.handlers.router import Router
from core.accounts import account_summary
from core.model import Account

router = Router()


@router.action("bal", commands=("balance",))
async def balance(ctx: Context, argument: str) -> None:
    """Show the balance of the chosen account."""
    await with_account(ctx, argument, "bal", _show_balance)


async def _show_balance(ctx: Context, account: Account) -> None:
    ctx.reset()
    summary = await account_summary(ctx.uow, account)
    t = ctx.t
    lines = [t("balance.for_account", title=account_title(ctx, account))]
    if summary.balance > 0:
        lines.append(t("balance.overpaid", amount=t.money(summary.balance)))
    elif summary.balance < 0:
        lines.append(t("balance.debt", amount=t.money(summary.debt)))
    else:
        lines.append(t("balance.zero"))
    if summary.last_payment is not None:
        lines.append(
            t(
                "balance.last_payment",
                amount=t.money(summary.last_payment.amount),
                date=t.date(summary.last_payment.paid_at),
            )
        )
    else:
        lines.append(t("balance.no_payments"))
    if summary.last_bill is not None:
        bill = summary.last_bill
        lines.append(
            t(
                "balance.last_bill",
                period=t.period(bill.period),
                charged=t.money(bill.charged),
                due=t.money(bill.amount_due),
            )
        )
    reading = summary.last_billing_reading
    if reading is not None:
        values = ", ".join(
            f"{t.zone(zone)}: {t.number(value)}" for zone, value in reading.values.items()
        )
        lines.append(t("balance.last_readings", date=t.date(reading.taken_on), values=values))
        used = sum(summary.last_period_consumption.values())
        lines.append(
            t("balance.last_consumption", period=t.period(reading.period), kwh=t.kwh(used))
        )
    ctx.data["acc"] = account.id
    ctx.say("\n".join(lines), with_menu(t, *section_rows(t, "bal", account.id)))
