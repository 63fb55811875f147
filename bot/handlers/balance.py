"""Balance (manual §6.1 "стан рахунку"): what is owed or paid ahead, and by when, the last
payment, bill and readings, and the readings submitted in this period's window.

With several accounts, one screen shows them all (each with its money state and readings,
then the total to pay, and a "Сплатити" per account that owes something); an account's
button opens its full balance.
"""

from __future__ import annotations

from bot.handlers.accounts import account_title, resolve_account
from bot.handlers.context import Context
from bot.handlers.money import account_lines, money_lines, readings_line
from bot.handlers.router import Router
from bot.menu import section_rows, with_menu
from bot.messages import Button
from core.balances import AccountBalance, account_balance, total_to_pay
from core.model import Account

router = Router()


@router.action("bal", commands=("balance",))
async def balance(ctx: Context, argument: str) -> None:
    """One account's balance; with several linked and none named, all of them at once."""
    if not argument:
        accounts = list(ctx.accounts)
        if len(accounts) > 1:
            await _show_all(ctx, accounts)
            return
    account = await resolve_account(ctx, argument, "bal")
    if account is not None:
        await _show_balance(ctx, account)


async def _balance_of(ctx: Context, account: Account) -> AccountBalance:
    return await account_balance(ctx.uow, account, ctx.now, ctx.rules.billing, ctx.rules.readings)


def _pay_button(ctx: Context, found: AccountBalance, several: bool) -> Button:
    t = ctx.t
    amount = t.money(found.money.to_pay)
    if several:
        label = t("balance.pay_account", amount=amount, number=found.account.number)
    else:
        label = t("pay.pay_due", due=amount)
    return Button(label, f"pay:{found.account.id}")


async def _show_balance(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    zone = ctx.rules.readings.zone
    found = await _balance_of(ctx, account)
    lines = [t("balance.for_account", title=account_title(ctx, account))]
    lines += account_lines(t, found, zone)
    today = ctx.now.astimezone(zone).date()
    lines.append(readings_line(t, found, today, zone, account.tariff_plan.zones))
    ctx.data["acc"] = account.id
    rows = []
    if found.money.to_pay > 0:
        rows.append([_pay_button(ctx, found, several=False)])
    if not found.submitted and found.window.contains(today):
        rows.append([Button(t("menu.read"), f"read:{account.id}")])
    # "Сплатити" is offered above only when something is owed.
    rows += section_rows(t, "bal", account.id, skip=("pay",))
    ctx.say("\n".join(lines), with_menu(t, *rows))


async def _show_all(ctx: Context, accounts: list[Account]) -> None:
    ctx.reset()
    t = ctx.t
    zone = ctx.rules.readings.zone
    today = ctx.now.astimezone(zone).date()
    found = [await _balance_of(ctx, account) for account in accounts]
    lines = [t.n("balance.all_title", len(found))]
    for item in found:
        lines.append("")
        lines.append(account_title(ctx, item.account))
        lines += money_lines(t, item.money)
        lines.append(readings_line(t, item, today, zone, item.account.tariff_plan.zones))
    lines.append("")
    total = total_to_pay(found)
    lines.append(t("balance.total", amount=t.money(total)) if total > 0 else t("balance.none_due"))
    pay_rows = [[_pay_button(ctx, item, several=True)] for item in found if item.money.to_pay > 0]
    detail_rows = [
        [Button(t("balance.details", number=item.account.number), f"bal:{item.account.id}")]
        for item in found
    ]
    ctx.say("\n".join(lines), with_menu(t, *pay_rows, *detail_rows))
