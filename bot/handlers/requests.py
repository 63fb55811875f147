"""Call centre (manual §6.8), free services (§6.9) and technical support (§7).

Each kind has a list of the person's own requests with status and answer, and a way to
make a new one. A request's text is a draft: it may come in several messages (Telegram
splits a long paste, Messenger takes 2,000 characters a message) and is sent with
«Надіслати», as the web form's «Відправити». A text over the limit is kept, with the
choice to send what fits or to write it again: nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.paging import page_buttons, page_footer, page_of, parse_page
from bot.handlers.router import Router
from bot.menu import menu_button, said, with_menu
from bot.messages import Button
from core.contacts import (
    PhoneInvalid,
    national_mobile,
    normalise_mobile,
)
from core.model import Account, CallCenterRequest, FreeServiceOrder, SupportRequest
from core.requests import (
    MAX_NAME,
    TextEmpty,
    TextTooLong,
    clean_text,
    free_service_phone,
    order_free_service,
    submit_call_center,
    submit_support,
)

router = Router()

Item = TypeVar("Item", CallCenterRequest, FreeServiceOrder, SupportRequest)

LIST_PAGE = 3
EXCERPT = 300  # characters of a request's own text shown in a list


def _type_buttons(
    ctx: Context, prefix: str, action: str, types: tuple[str, ...], suffix: str = ""
) -> list[list[Button]]:
    return [
        [Button(ctx.t.label(prefix, key), f"{action}:{index}{suffix}")]
        for index, key in enumerate(types)
    ]


def _chosen(types: tuple[str, ...], argument: str) -> str | None:
    return types[int(argument)] if argument.isdigit() and int(argument) < len(types) else None


# --- lists of one's own requests ---------------------------------------------------------


def _characters(ctx: Context, count: int) -> str:
    return ctx.t.n("count.characters", count)


def _moment(ctx: Context, at: datetime) -> str:
    return ctx.t.moment(at.astimezone(ctx.rules.readings.zone))


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def _item(
    ctx: Context,
    number: int,
    created: datetime,
    kind: str,
    status: str,
    details: Sequence[str],
    answer: str | None,
    answered_at: datetime | None,
) -> str:
    """One request in a list: number, date, type, details, status and the answer."""
    t = ctx.t
    lines = [t("request.item", number=number, created=_moment(ctx, created), type=kind)]
    lines += details
    lines.append(t("request.status", status=t(f"status.{status}")))
    if answer and answered_at:
        lines.append(t("request.answer", date=_moment(ctx, answered_at), answer=answer))
    elif answer:
        lines.append(t("request.answer_undated", answer=answer))
    else:
        lines.append(t("request.no_answer"))
    return "\n".join(lines)


def _show_list(
    ctx: Context,
    argument: str,
    action: str,
    items: Sequence[Item],
    texts: tuple[str, str],
    new: Button,
    render: Callable[[Item], str],
) -> None:
    """A page of requests (newest first), "new" and paging; `texts`: (title, none)."""
    ctx.reset()
    t = ctx.t
    title, none = texts
    if not items:
        ctx.say(t(none), with_menu(t, [new]))
        return
    _, page_number = parse_page(argument)
    page = page_of(items, page_number, LIST_PAGE)
    blocks = [t(title)] + [render(item) for item in page.items]
    if footer := page_footer(t, page):
        blocks.append(footer)
    rows = [[new]]
    if navigation := page_buttons(t, page, action, "p"):
        rows.append(navigation)
    ctx.say("\n\n".join(blocks), with_menu(t, *rows), replaces_previous=":" in argument)


# --- a request's text, in one message or several ------------------------------------------


def _start_draft(ctx: Context, step: str, prompt: str, **data: object) -> None:
    """Enter a text step with an empty draft and ask for the text."""
    ctx.goto(step, **data, draft="")
    ctx.say(
        prompt + "\n" + ctx.t("draft.how", limit=_characters(ctx, ctx.rules.requests.max_text)),
        [[menu_button(ctx.t)]],
    )


async def _add_to_draft(ctx: Context) -> None:
    """A message of the text: added to the draft, which is shown with what to do next."""
    text = (ctx.event.text or "").strip()
    draft = str(ctx.data.get("draft", ""))
    if not text:
        rows = _draft_buttons(ctx, draft) if draft else []
        ctx.say(ctx.t("text.empty"), with_menu(ctx.t, *rows))
        return
    ctx.data["draft"] = f"{draft}\n{text}" if draft else text
    _show_draft(ctx)


def _draft_buttons(ctx: Context, draft: str) -> list[list[Button]]:
    t, limit = ctx.t, ctx.rules.requests.max_text
    if len(draft) <= limit:
        send = Button(t("draft.send"), "dsend")
    else:
        send = Button(t("draft.send_first", limit=_characters(ctx, limit)), "dsend:cut")
    return [[send], [Button(t("draft.again"), "dnew")]]


def _show_draft(ctx: Context) -> None:
    t, limit = ctx.t, ctx.rules.requests.max_text
    draft = str(ctx.data["draft"])
    if len(draft) <= limit:
        text = t("draft.kept", count=_characters(ctx, len(draft)))
    else:
        text = t(
            "draft.too_long",
            count=_characters(ctx, len(draft)),
            limit=_characters(ctx, limit),
            over=_characters(ctx, len(draft) - limit),
        )
    ctx.say(text, with_menu(t, *_draft_buttons(ctx, draft)))


Submit = Callable[[Context, str], Awaitable[None]]
_SUBMIT: dict[str, Submit] = {}  # text step → what sends its draft


@router.action("dsend")
async def send_draft(ctx: Context, argument: str) -> None:
    """«Надіслати»: the draft (or, when it is too long and the person chose so, what fits)."""
    submit = _SUBMIT.get(ctx.step)
    draft = str(ctx.data.get("draft", ""))
    if submit is None or not draft:
        await _back_to_list(ctx)
        return
    limit = ctx.rules.requests.max_text
    if len(draft) > limit and argument != "cut":
        _show_draft(ctx)
        return
    await submit(ctx, draft[:limit])


@router.action("dnew")
async def restart_draft(ctx: Context, argument: str) -> None:
    """«Написати заново»: an empty draft, the same question."""
    if ctx.step not in _SUBMIT:
        await _back_to_list(ctx)
        return
    ctx.data["draft"] = ""
    ctx.say(ctx.t("draft.again_ask"), [[menu_button(ctx.t)]])


async def _back_to_list(ctx: Context) -> None:
    if ctx.step.startswith("sup."):
        await support(ctx, "")
    else:
        await call_center(ctx, "")


# --- Call centre -----------------------------------------------------------------------


@router.action("cc", commands=("callcenter",))
async def call_center(ctx: Context, argument: str) -> None:
    """My requests (created, type, account, status, text, answer) and "new request"."""
    requests = await ctx.uow.requests.call_center_of(ctx.person.id)
    accounts = {a.id: a.number for a in ctx.accounts}

    def render(request: CallCenterRequest) -> str:
        details = []
        if request.account_id in accounts:
            details.append(ctx.t("request.account", account=accounts[request.account_id]))
        details.append(ctx.t("request.text", text=_excerpt(request.text)))
        return _item(
            ctx,
            request.id,
            request.created_at,
            ctx.t.label("cc_type", request.request_type),
            request.status.value,
            details,
            request.answer,
            request.answered_at,
        )

    new = Button(ctx.t("cc.new"), "ccn")
    _show_list(ctx, argument, "cc", requests, ("cc.title", "cc.none"), new, render)


def _last_used_first(ctx: Context, accounts: Sequence[Account]) -> list[Account]:
    """The account the person used last (the dialog's kept `acc`) first, then the rest."""
    last = ctx.data.get("acc")
    return sorted(accounts, key=lambda account: account.id != last)


@router.action("ccn")
async def new_call_center_request(ctx: Context, argument: str) -> None:
    """Which account (asked only when there are several; the last used first), then the
    type of the request."""
    ctx.reset()
    t = ctx.t
    accounts = ctx.accounts
    account = next((a for a in accounts if argument == str(a.id)), None)
    if account is None and len(accounts) == 1:
        account = accounts[0]
    if account is None and accounts:
        rows = [
            [Button(account_title(ctx, a), f"ccn:{a.id}")] for a in _last_used_first(ctx, accounts)
        ]
        ctx.expect_button("ccn")
        ctx.say(t("cc.choose_account"), with_menu(t, *rows))
        return
    if account is not None:
        ctx.data["acc"] = account.id
    suffix = f":{account.id}" if account is not None else ""
    rows = _type_buttons(ctx, "cc_type", "cct", ctx.rules.requests.call_center_types, suffix)
    ctx.expect_button(f"ccn{suffix}")
    head = (
        t("cc.for_account", title=account_title(ctx, account)) + "\n" if account is not None else ""
    )
    ctx.say(head + t("cc.choose_type"), with_menu(t, *rows))


@router.action("cct")
async def call_center_type(ctx: Context, argument: str) -> None:
    """Type chosen (with the account in the payload): ask for the text."""
    index, _, account_id = argument.partition(":")
    request_type = _chosen(ctx.rules.requests.call_center_types, index)
    accounts = ctx.accounts
    account = next((a for a in accounts if account_id == str(a.id)), None)
    if request_type is None or (accounts and account is None):
        await new_call_center_request(ctx, "")
        return
    prompt = ctx.t("cc.ask_text", type=ctx.t.label("cc_type", request_type))
    _start_draft(ctx, "cc.text", prompt, type=request_type, account=account.id if account else None)


@router.step("cc.text", words=True)
async def call_center_text(ctx: Context) -> None:
    """A message of the request's text."""
    await _add_to_draft(ctx)


async def _submit_call_center(ctx: Context, text: str) -> None:
    t = ctx.t
    try:
        request = await submit_call_center(
            ctx.uow,
            ctx.rules.requests,
            ctx.person.id,
            ctx.data.get("account"),
            ctx.data["type"],
            text,
            ctx.now,
        )
    except TextEmpty:
        ctx.say(t("text.empty"), [[menu_button(t)]])
        return
    ctx.reset()
    ctx.say(t("cc.accepted", number=request.id), with_menu(t, [Button(t("cc.mine"), "cc")]))


_SUBMIT["cc.text"] = _submit_call_center


# --- Free services ---------------------------------------------------------------------


@router.action("free", commands=("services",))
async def free_services(ctx: Context, argument: str) -> None:
    """My orders with status and the operator's answer, and "order a service"."""
    orders = await ctx.uow.requests.free_services_of(ctx.person.id)
    accounts = {a.id: a.number for a in ctx.accounts}

    def render(order: FreeServiceOrder) -> str:
        details = []
        if order.account_id in accounts:
            details.append(ctx.t("request.account", account=accounts[order.account_id]))
        if order.phone:
            details.append(ctx.t("request.phone", phone=order.phone))
        return _item(
            ctx,
            order.id,
            order.created_at,
            ctx.t.label("free_type", order.service_type),
            order.status.value,
            details,
            order.answer,
            order.answered_at,
        )

    new = Button(ctx.t("free.new"), "frn")
    _show_list(ctx, argument, "free", orders, ("free.title", "free.none"), new, render)


@router.action("frn")
async def new_free_service(ctx: Context, argument: str) -> None:
    """Choose the account (if several), then the service type."""
    await with_account(ctx, argument, "frn", _ask_service_type)


async def _ask_service_type(ctx: Context, account: Account) -> None:
    ctx.expect_button(f"frn:{account.id}")
    ctx.data["acc"] = account.id
    rows = _type_buttons(ctx, "free_type", "frt", ctx.rules.requests.free_service_types)
    ctx.say(ctx.t("free.choose_type", title=account_title(ctx, account)), with_menu(ctx.t, *rows))


@router.action("frt")
async def free_service_type(ctx: Context, argument: str) -> None:
    """Type chosen: ask for the phone, offering the profile's."""
    service_type = _chosen(ctx.rules.requests.free_service_types, argument)
    if service_type is None or "acc" not in ctx.data:
        await new_free_service(ctx, "")
        return
    ctx.goto("free.phone", type=service_type)
    _ask_free_service_phone(ctx)


def _ask_free_service_phone(ctx: Context, reason: str = "") -> None:
    """The phone question (the profile's number a button away), after `reason` if any."""
    rows = []
    if ctx.person.phone:
        ctx.data["phone"] = national_mobile(ctx.person.phone)
        rows.append([Button(ctx.t("free.use_phone", phone=ctx.data["phone"]), "frp")])
    ctx.say(reason + ctx.t("free.ask_phone"), with_menu(ctx.t, *rows))


@router.action("frp")
async def free_service_profile_phone(ctx: Context, argument: str) -> None:
    """Use the profile's phone."""
    if ctx.step != "free.phone" or "phone" not in ctx.data:
        await free_services(ctx, "")
        return
    await _confirm_free_service(ctx, ctx.data["phone"])


@router.step("free.phone")
async def free_service_phone_typed(ctx: Context) -> None:
    """A typed phone, checked and shown back in the 0XXXXXXXXX form."""
    try:
        phone = free_service_phone(ctx.event.text or ctx.event.contact_phone or "")
    except PhoneInvalid:
        _ask_free_service_phone(ctx, ctx.t("phone.invalid") + "\n")
        return
    await _confirm_free_service(ctx, phone)


async def _confirm_free_service(ctx: Context, phone: str) -> None:
    ctx.goto("free.confirm", type=ctx.data["type"], phone=phone)
    ctx.say(
        ctx.t("free.confirm", type=ctx.t.label("free_type", ctx.data["type"]), phone=phone),
        with_menu(ctx.t, [Button(ctx.t("free.order"), "fro")]),
    )


@router.step("free.confirm")
async def free_service_confirm_typed(ctx: Context) -> None:
    """ "так" typed instead of pressing "Замовити"; anything else: the question again."""
    if said(ctx.t, "words.yes", ctx.event.text or ""):
        await free_service_order(ctx, "")
        return
    ctx.say(ctx.t("ask.use_buttons"))
    await _confirm_free_service(ctx, ctx.data["phone"])


@router.action("fro")
async def free_service_order(ctx: Context, argument: str) -> None:
    """Store the order."""
    t = ctx.t
    if ctx.step != "free.confirm":
        await free_services(ctx, "")
        return
    order = await order_free_service(
        ctx.uow,
        ctx.rules.requests,
        ctx.person.id,
        int(ctx.data["acc"]),
        ctx.data["type"],
        ctx.data["phone"],
        ctx.now,
    )
    ctx.reset()
    ctx.say(
        t("free.accepted", number=order.id, phone=order.phone),
        with_menu(t, [Button(t("free.mine"), "free")]),
    )


# --- Technical support -----------------------------------------------------------------


@router.action("sup", commands=("support",))
async def support(ctx: Context, argument: str) -> None:
    """My support requests with status and answer, or straight to a new one."""
    requests = await ctx.uow.requests.support_of(ctx.person.id)
    if not requests:
        await new_support_request(ctx, "")
        return

    def render(request: SupportRequest) -> str:
        return _item(
            ctx,
            request.id,
            request.created_at,
            ctx.t.label("sup_type", request.request_type),
            request.status.value,
            [ctx.t("request.text", text=_excerpt(request.text))],
            request.answer,
            request.answered_at,
        )

    new = Button(ctx.t("cc.new"), "supnew")
    _show_list(ctx, argument, "sup", requests, ("sup.title", "sup.none"), new, render)


@router.action("supnew")
async def new_support_request(ctx: Context, argument: str) -> None:
    """Name (the profile's offered), phone, type, text — all required."""
    ctx.goto("sup.name")
    rows = []
    if ctx.person.name:
        rows.append([Button(ctx.person.name[:60], "supn")])
    ctx.say(ctx.t("sup.intro") + "\n" + ctx.t("sup.ask_name"), with_menu(ctx.t, *rows))


@router.action("supn")
async def support_profile_name(ctx: Context, argument: str) -> None:
    """Use the profile's name."""
    if ctx.step != "sup.name" or not ctx.person.name:
        await new_support_request(ctx, "")
        return
    _support_name(ctx, ctx.person.name)


@router.step("sup.name", words=True)
async def support_name(ctx: Context) -> None:
    """A typed name (as long as a name field holds)."""
    t = ctx.t
    try:
        _support_name(ctx, clean_text(ctx.event.text or "", MAX_NAME))
    except TextEmpty:
        ctx.say(t("sup.ask_name"), [[menu_button(t)]])
    except TextTooLong as long:
        ctx.say(name_too_long(ctx, long), [[menu_button(t)]])


def name_too_long(ctx: Context, long: TextTooLong) -> str:
    """What to shorten in a name: how long it is and how long it may be."""
    return ctx.t(
        "name.too_long",
        count=_characters(ctx, long.length),
        limit=_characters(ctx, long.limit),
    )


def _support_name(ctx: Context, name: str) -> None:
    ctx.goto("sup.phone", name=name)
    _ask_support_phone(ctx)


def _ask_support_phone(ctx: Context, reason: str = "") -> None:
    """The phone question (the profile's number a button away), after `reason` if any."""
    rows = (
        [[Button(ctx.t("free.use_phone", phone=ctx.person.phone), "supp")]]
        if ctx.person.phone
        else []
    )
    ctx.say(reason + ctx.t("sup.ask_phone"), with_menu(ctx.t, *rows))


@router.step("sup.login")
async def support_login_left_over(ctx: Context) -> None:
    """A conversation left at the login question of an earlier version: that question is
    gone, so the next one (the phone) is asked; the name given is kept."""
    _support_name(ctx, str(ctx.data.get("name") or ctx.person.name or "—"))


@router.action("supp")
async def support_profile_phone(ctx: Context, argument: str) -> None:
    """Use the profile's phone."""
    if ctx.step != "sup.phone" or not ctx.person.phone:
        await new_support_request(ctx, "")
        return
    _support_types(ctx, ctx.person.phone)


@router.step("sup.phone")
async def support_phone(ctx: Context) -> None:
    """A typed phone."""
    try:
        phone = normalise_mobile(ctx.event.text or ctx.event.contact_phone or "")
    except PhoneInvalid:
        _ask_support_phone(ctx, ctx.t("phone.invalid") + "\n")
        return
    _support_types(ctx, phone)


@router.step("sup.type")
async def support_type_typed(ctx: Context) -> None:
    """Text where a type button is expected: the reason and the types again."""
    ctx.say(ctx.t("ask.use_buttons"))
    _support_types(ctx, ctx.data["phone"])


def _support_types(ctx: Context, phone: str) -> None:
    ctx.goto("sup.type", name=ctx.data["name"], phone=phone)
    rows = _type_buttons(ctx, "sup_type", "supt", ctx.rules.requests.support_types)
    ctx.say(ctx.t("sup.choose_type"), with_menu(ctx.t, *rows))


@router.action("supt")
async def support_type(ctx: Context, argument: str) -> None:
    """Type chosen: ask for the text."""
    request_type = _chosen(ctx.rules.requests.support_types, argument)
    if request_type is None or ctx.step != "sup.type":
        await new_support_request(ctx, "")
        return
    _start_draft(ctx, "sup.text", ctx.t("sup.ask_text"), **{**ctx.data, "type": request_type})


@router.step("sup.text", words=True)
async def support_text(ctx: Context) -> None:
    """A message of the support request's text."""
    await _add_to_draft(ctx)


async def _submit_support(ctx: Context, text: str) -> None:
    t = ctx.t
    try:
        request = await submit_support(
            ctx.uow,
            ctx.rules.requests,
            ctx.person.id,
            ctx.data["name"],
            _support_login(ctx),
            ctx.data["phone"],
            ctx.data["type"],
            text,
            ctx.now,
        )
    except TextEmpty:
        ctx.say(t("text.empty"), [[menu_button(t)]])
        return
    ctx.reset()
    ctx.say(t("sup.accepted", number=request.id), with_menu(t, [Button(t("cc.mine"), "sup")]))


def _support_login(ctx: Context) -> str:
    """Who wrote, for the support team: the web cabinet's form asks for a login, which a
    messenger user does not have. The messenger and its user id name the chat the request
    came from (the answer itself reaches the person by their profile, in any channel)."""
    return f"{ctx.identity.channel.value}:{ctx.identity.external_id}"


_SUBMIT["sup.text"] = _submit_support
