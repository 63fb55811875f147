"""Pay for electricity (manual §6.12): the amount due suggested, less refused, a payment link;
or by bank transfer: the payee's details and the NBU payment QR code (always offered, and
the only way when paying in the bot is off)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.money import bank_transfer_for, money_lines, transfer_rows
from bot.handlers.router import Router
from bot.menu import main_menu, menu_button, with_menu
from bot.messages import Attachment, Button
from core.accounts import linked_account
from core.balances import AccountBalance, account_balance
from core.errors import AccountNotLinked
from core.model import Account
from core.payments import (
    AmountBelowDue,
    InvalidAmount,
    PaymentProviderError,
    amount_due,
    create_order,
    parse_amount,
)

router = Router()

# The "pay.amount" step's data: the account being paid. States stored before the key had a
# name carry it as "a"; they are still read (a person may be mid-step during a deploy).
ACCOUNT = "account"
_LEGACY_ACCOUNT = "a"


def _account_in(data: Mapping[str, Any]) -> int:
    return int(data[ACCOUNT] if ACCOUNT in data else data[_LEGACY_ACCOUNT])


@router.action("pay", commands=("pay",))
async def pay(ctx: Context, argument: str) -> None:
    """Show what is due and ask how much to pay."""
    await with_account(ctx, argument, "pay", _ask_amount)


async def _ask_amount(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    found = await account_balance(ctx.uow, account, ctx.now, ctx.rules.billing, ctx.rules.readings)
    if ctx.services.payments is None:
        await _bank_transfer(ctx, account, found, card_off=True)
        return
    due = await amount_due(ctx.uow, account)
    ctx.goto("pay.amount", **{ACCOUNT: account.id})
    state = "\n".join(money_lines(t, found.money))
    by_transfer = [Button(t("pay.by_transfer"), f"payqr:{account.id}")]
    if due > 0:
        ctx.say(
            t("pay.due", title=account_title(ctx, account), state=state, due=t.money(due)),
            with_menu(
                t,
                [Button(t("pay.pay_due", due=t.money(due)), f"payd:{account.id}")],
                by_transfer,
            ),
        )
    else:
        ctx.say(
            t("pay.nothing_due", title=account_title(ctx, account), state=state),
            with_menu(t, by_transfer),
        )


@router.action("payqr", commands=("transfer",))
async def pay_by_transfer(ctx: Context, argument: str) -> None:
    """The bank details and the payment QR code of an account."""
    await with_account(ctx, argument, "payqr", _show_transfer)


async def _show_transfer(ctx: Context, account: Account) -> None:
    ctx.reset()
    found = await account_balance(ctx.uow, account, ctx.now, ctx.rules.billing, ctx.rules.readings)
    await _bank_transfer(ctx, account, found, card_off=ctx.services.payments is None)


async def _bank_transfer(
    ctx: Context, account: Account, found: AccountBalance, *, card_off: bool
) -> None:
    """Details to type or copy, and the QR code a banking app scans to fill them in."""
    t = ctx.t
    lines = [t("pay.unavailable")] if card_off else []
    lines.append(t("transfer.title", title=account_title(ctx, account)))
    lines += money_lines(t, found.money)
    bill = found.summary.last_bill
    period = bill.period if bill else ctx.now.astimezone(ctx.rules.readings.zone).strftime("%Y-%m")
    amount = found.money.to_pay
    transfer = await bank_transfer_for(ctx.uow, ctx.rules.bank, account, amount, period)
    back = [] if card_off else [[Button(t("pay.by_card"), f"pay:{account.id}")]]
    if transfer is None:
        lines.append(t("transfer.no_details"))
        ctx.say("\n".join(lines), with_menu(t, *back))
        return
    lines.append("")
    lines += [f"{label}: {value}" for label, value in transfer_rows(t, transfer)]
    if amount > 0:
        lines.append(t("transfer.amount", amount=t.money(amount)))
    image = None
    if transfer.qr_link is not None and ctx.services.documents is not None:
        content = await ctx.services.documents.payment_qr_png(transfer.qr_link)
        image = Attachment(f"qr-oplata-{account.number}.png", content, "image/png")
        lines.append("")
        lines.append(t("transfer.scan" if amount > 0 else "transfer.scan_no_amount"))
    ctx.say("\n".join(lines), with_menu(t, *back), image=image)


@router.action("payd")
async def pay_due(ctx: Context, argument: str) -> None:
    """Pay exactly the amount due."""
    try:
        account = await linked_account(ctx.uow, ctx.person.id, int(argument))
    except (AccountNotLinked, ValueError):
        await pay(ctx, "")
        return
    await _order(ctx, account, await amount_due(ctx.uow, account))


@router.step("pay.amount")
async def pay_amount(ctx: Context) -> None:
    """A typed amount: at least the amount due."""
    t = ctx.t
    try:
        amount = parse_amount(ctx.event.text or "")
        account = await linked_account(ctx.uow, ctx.person.id, _account_in(ctx.data))
    except InvalidAmount:
        ctx.say(t("pay.bad_amount"), [[menu_button(t)]])
        return
    await _order(ctx, account, amount)


async def _order(ctx: Context, account: Account, amount: Decimal) -> None:
    t = ctx.t
    provider = ctx.services.payments
    if provider is None:
        ctx.reset()
        await _show_transfer(ctx, account)
        return
    due = await amount_due(ctx.uow, account)
    try:
        order = await create_order(
            ctx.uow,
            provider,
            account,
            amount,
            due,
            ctx.person.id,
            ctx.event.channel,
            ctx.event.user_id,
            t("pay.description", number=account.number),
            ctx.now,
        )
    except AmountBelowDue as below:
        ctx.goto("pay.amount", **{ACCOUNT: account.id})
        ctx.say(
            t("pay.below_due", due=t.money(below.due)),
            with_menu(t, [Button(t("pay.pay_due", due=t.money(below.due)), f"payd:{account.id}")]),
        )
        return
    except PaymentProviderError:
        ctx.reset()
        ctx.say(t("pay.provider_error"), main_menu(t))
        return
    ctx.reset()
    ctx.say(
        t("pay.link", amount=t.money(order.amount), title=account_title(ctx, account)),
        with_menu(t, [Button(t("pay.open", amount=t.money(order.amount)), url=order.payment_url)]),
    )
