"""Pay for electricity (manual §6.12): the amount due suggested, less refused, a payment link."""

from __future__ import annotations

from decimal import Decimal

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.keyboards import main_menu, menu_button, with_menu
from bot.handlers.router import Router
from bot.messages import Button
from core.accounts import linked_account
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


@router.action("pay", commands=("pay",))
async def pay(ctx: Context, argument: str) -> None:
    """Show what is due and ask how much to pay."""
    await with_account(ctx, argument, "pay", _ask_amount)


async def _ask_amount(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    if ctx.services.payments is None:
        ctx.say(t("pay.unavailable"), main_menu(t))
        return
    due = await amount_due(ctx.uow, account)
    ctx.goto("pay.amount", a=account.id)
    if due > 0:
        ctx.say(
            t("pay.due", title=account_title(ctx, account), due=t.money(due)),
            with_menu(t, [Button(t("pay.pay_due", due=t.money(due)), f"payd:{account.id}")]),
        )
    else:
        ctx.say(t("pay.nothing_due", title=account_title(ctx, account)), [[menu_button(t)]])


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
        account = await linked_account(ctx.uow, ctx.person.id, int(ctx.data["a"]))
    except InvalidAmount:
        ctx.say(t("pay.bad_amount"), [[menu_button(t)]])
        return
    await _order(ctx, account, amount)


async def _order(ctx: Context, account: Account, amount: Decimal) -> None:
    t = ctx.t
    provider = ctx.services.payments
    if provider is None:
        ctx.reset()
        ctx.say(t("pay.unavailable"), main_menu(t))
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
        ctx.goto("pay.amount", a=account.id)
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
