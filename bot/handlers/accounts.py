"""Add an account (number + EIC), my accounts, choose and unlink (manual §5, §6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.handlers.context import Context
from bot.handlers.router import Router
from bot.menu import main_menu, menu_button, with_menu
from bot.messages import Button
from core.accounts import (
    identity_key,
    link_account,
    linked_account,
    normalise_account_number,
    unlink_account,
    wait_before_next_try,
)
from core.eic import normalise_eic
from core.errors import (
    AccountNotFound,
    AccountNotLinked,
    AccountNumberInvalid,
    AlreadyLinked,
    EicInvalid,
    TooManyLinkAttempts,
)
from core.model import Account

router = Router()


def account_title(ctx: Context, account: Account) -> str:
    """ "2010000232 — вул. Кузьми Скрябіна, 39": enough to tell accounts apart."""
    return ctx.t(
        "account.title",
        number=account.number,
        street=account.address.street,
        building=account.address.building,
    )


def account_card(ctx: Context, account: Account) -> str:
    """Number, EIC, holder and address."""
    return ctx.t(
        "account.card",
        number=account.number,
        eic=account.eic,
        holder=account.holder_name,
        address=account.address.one_line(),
    )


def last_used_first(ctx: Context, accounts: Sequence[Account]) -> list[Account]:
    """The accounts with the one used last (in any flow) first, the rest in their order."""
    last = ctx.data.get("acc")
    return sorted(accounts, key=lambda account: account.id != last)


def remember_account(ctx: Context, account: Account) -> None:
    """Make `account` the last used one: offered first, pre-selected for readings."""
    ctx.data["acc"] = account.id


async def resolve_account(ctx: Context, argument: str, action: str) -> Account | None:
    """The account a flow is about: the one named in the payload, the only one, or asked.

    Returns None after telling the person what to do (link one, or choose). The account
    found becomes the last used one.
    """
    if argument:
        try:
            account = await linked_account(ctx.uow, ctx.person.id, int(argument))
        except (AccountNotLinked, ValueError):
            ctx.reset()
            ctx.say(ctx.t("account.not_yours"), main_menu(ctx.t))
            return None
        remember_account(ctx, account)
        return account
    accounts = ctx.accounts
    if not accounts:
        ctx.reset()
        ctx.say(ctx.t("account.none"), with_menu(ctx.t, [Button(ctx.t("menu.link"), "link")]))
        return None
    if len(accounts) == 1:
        remember_account(ctx, accounts[0])
        return accounts[0]
    _ask_account(ctx, accounts, action)
    return None


def _ask_account(ctx: Context, accounts: Sequence[Account], action: str, head: str = "") -> None:
    """Which account? The last used one first; its number may be typed too."""
    rows = [
        [Button(account_title(ctx, account), f"{action}:{account.id}")]
        for account in last_used_first(ctx, accounts)
    ]
    ctx.goto("acc.choose", action=action)
    ctx.say(head + ctx.t("account.choose"), with_menu(ctx.t, *rows))


@router.step("acc.choose")
async def typed_account(ctx: Context) -> None:
    """An account number typed instead of pressed (all of it, or its last digits)."""
    accounts = ctx.accounts
    action = ctx.data.get("action", "accs")
    typed = "".join(ch for ch in ctx.event.text or "" if ch.isdigit())
    matches = [a for a in accounts if typed and a.number.endswith(typed) and len(typed) >= 3]
    if len(matches) == 1:
        ctx.follow = f"{action}:{matches[0].id}"
        return
    _ask_account(ctx, accounts, action, ctx.t("account.choose_again") + "\n")


async def preselect_account(ctx: Context, argument: str) -> tuple[Account | None, list[Account]]:
    """For the frequent actions: the named account, else the last used (or only, or first).

    Asking first would cost an extra step every time; the others are returned so the
    answer can offer to switch. (None, []) after telling a person with no account to add
    one, or that the named account is not theirs.
    """
    accounts = list(ctx.accounts)
    if argument:
        account = await resolve_account(ctx, argument, "")
        if account is None:
            return None, []
    elif not accounts:
        ctx.reset()
        ctx.say(ctx.t("account.none"), with_menu(ctx.t, [Button(ctx.t("menu.link"), "link")]))
        return None, []
    else:
        account = last_used_first(ctx, accounts)[0]
    remember_account(ctx, account)
    return account, [other for other in accounts if other.id != account.id]


def switch_rows(ctx: Context, others: Sequence[Account], action: str) -> list[list[Button]]:
    """A button per other account, to run `action` for it instead."""
    return [
        [Button(ctx.t("account.switch", number=other.number), f"{action}:{other.id}")]
        for other in others
    ]


async def with_account(
    ctx: Context, argument: str, action: str, flow: Callable[[Context, Account], Awaitable[None]]
) -> None:
    """Run `flow` for the resolved account, if there is one."""
    account = await resolve_account(ctx, argument, action)
    if account is not None:
        await flow(ctx, account)


async def _may_try_linking(ctx: Context) -> bool:
    """Whether the person may try to link now; if not, they are told how long to wait."""
    keys = (identity_key(ctx.identity),)
    wait = await wait_before_next_try(ctx.uow, keys, ctx.now, ctx.rules.linking)
    if wait is None:
        return True
    ctx.reset()
    ctx.say(
        ctx.t("link.wait", minutes=ctx.t.n("count.minutes", ctx.minutes(wait))),
        [[menu_button(ctx.t)]],
    )
    return False


@router.action("link", commands=("link", "add"))
async def start_link(ctx: Context, argument: str) -> None:
    """Ask for the account number (after checking the person may try now)."""
    if not await _may_try_linking(ctx):
        return
    ctx.goto("link.number")
    ctx.say(ctx.t("link.ask_number"), [[menu_button(ctx.t)]])


async def link_typed_number(ctx: Context, number: str) -> None:
    """An account number typed before pressing "add": take it and ask for the EIC, as
    if it had been typed at the link flow's first question."""
    if not await _may_try_linking(ctx):
        return
    ctx.goto("link.eic", number=number)
    ctx.say(ctx.t("link.ask_eic"), [[menu_button(ctx.t)]])


@router.step("link.number")
async def link_number(ctx: Context) -> None:
    """Check the number's form, then ask for the EIC."""
    try:
        number = normalise_account_number(ctx.event.text or "")
    except AccountNumberInvalid:
        ctx.say(ctx.t("link.bad_number"), [[menu_button(ctx.t)]])
        return
    ctx.goto("link.eic", number=number)
    ctx.say(ctx.t("link.ask_eic"), [[menu_button(ctx.t)]])


@router.step("link.eic")
async def link_eic(ctx: Context) -> None:
    """Link when number and EIC match one account; every failure has its own answer."""
    number = ctx.data.get("number", "")
    retry = with_menu(ctx.t, [Button(ctx.t("link.number_again"), "link")])
    try:
        normalise_eic(ctx.event.text or "")
    except EicInvalid as error:
        # How many characters came, as the code is compared: spaces do not count.
        typed = ctx.t.n("count.characters", len("".join((ctx.event.text or "").split())))
        ctx.say(ctx.t(f"link.bad_eic.{error.args[0]}", count=typed), [[menu_button(ctx.t)]])
        return
    try:
        account = await link_account(
            ctx.uow, ctx.identity, number, ctx.event.text or "", ctx.now, ctx.rules.linking
        )
    except AccountNotFound:
        # Either value may be wrong: the next EIC typed is tried again with the number,
        # and "enter the number again" starts over.
        ctx.say(ctx.t("link.not_found") + "\n" + ctx.t("link.ask_eic_again"), retry)
        return
    except TooManyLinkAttempts as error:
        ctx.reset()
        minutes = ctx.t.n("count.minutes", ctx.minutes(error.wait))
        ctx.say(ctx.t("link.wait", minutes=minutes), [[menu_button(ctx.t)]])
        return
    except AlreadyLinked:
        ctx.reset()
        ctx.say(ctx.t("link.already"), with_menu(ctx.t, [Button(ctx.t("menu.accounts"), "accs")]))
        return
    await ctx.reload_accounts()
    ctx.reset()
    remember_account(ctx, account)
    ctx.say(
        ctx.t("link.done") + "\n\n" + account_card(ctx, account) + "\n\n" + ctx.t("link.next"),
        with_menu(ctx.t, *_account_actions(ctx, account)),
    )


@router.action("accs", commands=("accounts",))
async def my_accounts(ctx: Context, argument: str) -> None:
    """The linked accounts, one button each, and "add"."""
    ctx.reset()
    accounts = ctx.accounts
    add = [Button(ctx.t("menu.link"), "link")]
    if not accounts:
        ctx.say(ctx.t("account.none"), with_menu(ctx.t, add))
        return
    rows = [
        [Button(account_title(ctx, account), f"acc:{account.id}")]
        for account in last_used_first(ctx, accounts)
    ]
    ctx.say(ctx.t.n("accounts.title", len(accounts)), with_menu(ctx.t, *rows, add))


@router.action("acc")
async def choose_account(ctx: Context, argument: str) -> None:
    """One account: its card and what can be done with it."""
    account = await resolve_account(ctx, argument, "acc")
    if account is None:
        return
    ctx.reset()
    ctx.say(
        account_card(ctx, account),
        with_menu(
            ctx.t,
            *_account_actions(ctx, account),
            [Button(ctx.t("accounts.unlink"), f"unl:{account.id}")],
        ),
    )


def _account_actions(ctx: Context, account: Account) -> list[list[Button]]:
    """What people do next with an account: its reading and its balance."""
    return [
        [
            Button(ctx.t("menu.read"), f"read:{account.id}"),
            Button(ctx.t("menu.balance"), f"bal:{account.id}"),
        ]
    ]


@router.action("unl")
async def ask_unlink(ctx: Context, argument: str) -> None:
    """Confirm before unlinking."""
    account = await resolve_account(ctx, argument, "unl")
    if account is None:
        return
    ctx.expect_button(f"unl:{account.id}")
    ctx.say(
        ctx.t("accounts.unlink_confirm", title=account_title(ctx, account)),
        [
            [
                Button(ctx.t("accounts.unlink_yes"), f"unl!:{account.id}"),
                Button(ctx.t("common.no"), "accs"),
            ]
        ],
    )


@router.action("unl!")
async def unlink(ctx: Context, argument: str) -> None:
    """Unlink; the account's billing data stays with the supplier."""
    account = await resolve_account(ctx, argument, "unl")
    if account is None:
        return
    await unlink_account(ctx.uow, ctx.person.id, account.id)
    await ctx.reload_accounts()
    ctx.reset()
    ctx.data.pop("acc", None)
    ctx.say(
        ctx.t("accounts.unlinked", title=account_title(ctx, account)),
        with_menu(ctx.t, [Button(ctx.t("menu.accounts"), "accs")]),
    )
