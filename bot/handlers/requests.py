"""Call centre (manual §6.8), free services (§6.9) and technical support (§7)."""

from __future__ import annotations

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.keyboards import menu_button, said, with_menu
from bot.handlers.paging import page_buttons, page_footer, page_of, parse_page
from bot.handlers.router import Router
from bot.messages import Button
from core.contacts import (
    EmailInvalid,
    PhoneInvalid,
    national_mobile,
    normalise_email,
    normalise_mobile,
)
from core.model import Account
from core.requests import (
    TextEmpty,
    TextTooLong,
    clean_text,
    free_service_phone,
    order_free_service,
    submit_call_center,
    submit_support,
)

router = Router()


def _type_buttons(
    ctx: Context, prefix: str, action: str, types: tuple[str, ...]
) -> list[list[Button]]:
    return [
        [Button(ctx.t.label(prefix, key), f"{action}:{index}")] for index, key in enumerate(types)
    ]


def _chosen(types: tuple[str, ...], argument: str) -> str | None:
    return types[int(argument)] if argument.isdigit() and int(argument) < len(types) else None


# --- Call centre -----------------------------------------------------------------------


@router.action("cc", commands=("callcenter",))
async def call_center(ctx: Context, argument: str) -> None:
    """My requests (created, type, status, text, answer), a page at a time; "new request"."""
    ctx.reset()
    t = ctx.t
    _, page_number = parse_page(argument)
    requests = await ctx.uow.requests.call_center_of(ctx.person.id)
    new = [Button(t("cc.new"), "ccn")]
    if not requests:
        ctx.say(t("cc.none"), with_menu(t, new))
        return
    page = page_of(requests, page_number, 3)
    zone = ctx.rules.readings.zone
    blocks = [t("cc.title")]
    for request in page.items:
        answer = t("cc.answer", answer=request.answer) if request.answer else t("cc.no_answer")
        blocks.append(
            t(
                "cc.item",
                number=request.id,
                created=t.datetime(request.created_at.astimezone(zone)),
                type=t.label("cc_type", request.request_type),
                status=t(f"status.{request.status.value}"),
                text=request.text,
            )
            + "\n"
            + answer
        )
    if footer := page_footer(t, page):
        blocks.append(footer)
    rows = [new]
    if navigation := page_buttons(t, page, "cc", "p"):
        rows.append(navigation)
    ctx.say("\n\n".join(blocks), with_menu(t, *rows), replaces_previous=":" in argument)


@router.action("ccn")
async def new_call_center_request(ctx: Context, argument: str) -> None:
    """Choose the type of a new request."""
    ctx.expect_button("ccn")
    rows = _type_buttons(ctx, "cc_type", "cct", ctx.rules.requests.call_center_types)
    ctx.say(ctx.t("cc.choose_type"), with_menu(ctx.t, *rows))


@router.action("cct")
async def call_center_type(ctx: Context, argument: str) -> None:
    """Type chosen: ask for the text."""
    request_type = _chosen(ctx.rules.requests.call_center_types, argument)
    if request_type is None:
        await new_call_center_request(ctx, "")
        return
    ctx.goto("cc.text", type=request_type)
    ctx.say(
        ctx.t(
            "cc.ask_text",
            type=ctx.t.label("cc_type", request_type),
            limit=ctx.rules.requests.max_text,
        ),
        [[menu_button(ctx.t)]],
    )


@router.step("cc.text", words=True)
async def call_center_text(ctx: Context) -> None:
    """Store the request for the chosen account (if any)."""
    t = ctx.t
    accounts = await ctx.uow.links.accounts_of(ctx.person.id)
    chosen = ctx.data.get("acc")
    account_id = (
        chosen if any(a.id == chosen for a in accounts) else (accounts[0].id if accounts else None)
    )
    try:
        request = await submit_call_center(
            ctx.uow,
            ctx.rules.requests,
            ctx.person.id,
            account_id,
            ctx.data["type"],
            ctx.event.text or "",
            ctx.now,
        )
    except TextEmpty:
        ctx.say(t("text.empty"), [[menu_button(t)]])
        return
    except TextTooLong as long:
        ctx.say(t("text.too_long", limit=long.limit), [[menu_button(t)]])
        return
    ctx.reset()
    ctx.say(t("cc.accepted", number=request.id), with_menu(t, [Button(t("cc.mine"), "cc")]))


# --- Free services ---------------------------------------------------------------------


@router.action("free", commands=("services",))
async def free_services(ctx: Context, argument: str) -> None:
    """My orders with status, and "order a service"."""
    ctx.reset()
    t = ctx.t
    orders = await ctx.uow.requests.free_services_of(ctx.person.id)
    order = [Button(t("free.new"), "frn")]
    if not orders:
        ctx.say(t("free.none"), with_menu(t, order))
        return
    zone = ctx.rules.readings.zone
    lines = [t("free.title")]
    lines += [
        t(
            "free.item",
            number=o.id,
            created=t.date(o.created_at.astimezone(zone)),
            type=t.label("free_type", o.service_type),
            phone=o.phone,
            status=t(f"status.{o.status.value}"),
        )
        for o in orders[:10]
    ]
    ctx.say("\n".join(lines), with_menu(t, order))


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
    rows = []
    if ctx.person.phone:
        ctx.data["phone"] = national_mobile(ctx.person.phone)
        rows.append([Button(ctx.t("free.use_phone", phone=ctx.data["phone"]), "frp")])
    ctx.say(ctx.t("free.ask_phone"), with_menu(ctx.t, *rows))


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
        ctx.say(ctx.t("phone.invalid"), [[menu_button(ctx.t)]])
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
    """Name (the profile's offered), login, phone, type, text — all required."""
    ctx.goto("sup.name")
    rows = []
    if ctx.person.name:
        rows.append([Button(ctx.person.name[:60], "supn")])
    ctx.say(ctx.t("sup.intro") + "\n" + ctx.t("sup.ask_name"), with_menu(ctx.t, *rows))


@router.action("supn")
async def support_profile_name(ctx: Context, argument: str) -> None:
    """Use the profile's name."""
    if ctx.step != "sup.name" or not ctx.person.name:
        await support(ctx, "")
        return
    _support_name(ctx, ctx.person.name)


@router.step("sup.name", words=True)
async def support_name(ctx: Context) -> None:
    """A typed name."""
    try:
        _support_name(ctx, clean_text(ctx.event.text or "", 200))
    except (TextEmpty, TextTooLong):
        ctx.say(ctx.t("sup.ask_name"), [[menu_button(ctx.t)]])


def _support_name(ctx: Context, name: str) -> None:
    ctx.goto("sup.login", name=name)
    ctx.say(ctx.t("sup.ask_login"), [[menu_button(ctx.t)]])


@router.step("sup.login")
async def support_login(ctx: Context) -> None:
    """The login: an e-mail or a phone, as on the web cabinet."""
    text = (ctx.event.text or "").strip()
    try:
        login = normalise_email(text) if "@" in text else normalise_mobile(text)
    except (EmailInvalid, PhoneInvalid):
        ctx.say(ctx.t("sup.bad_login"), [[menu_button(ctx.t)]])
        return
    ctx.goto("sup.phone", name=ctx.data["name"], login=login)
    rows = (
        [[Button(ctx.t("free.use_phone", phone=ctx.person.phone), "supp")]]
        if ctx.person.phone
        else []
    )
    ctx.say(ctx.t("sup.ask_phone"), with_menu(ctx.t, *rows))


@router.action("supp")
async def support_profile_phone(ctx: Context, argument: str) -> None:
    """Use the profile's phone."""
    if ctx.step != "sup.phone" or not ctx.person.phone:
        await support(ctx, "")
        return
    _support_types(ctx, ctx.person.phone)


@router.step("sup.phone")
async def support_phone(ctx: Context) -> None:
    """A typed phone."""
    try:
        phone = normalise_mobile(ctx.event.text or ctx.event.contact_phone or "")
    except PhoneInvalid:
        ctx.say(ctx.t("phone.invalid"), [[menu_button(ctx.t)]])
        return
    _support_types(ctx, phone)


@router.step("sup.type")
async def support_type_typed(ctx: Context) -> None:
    """Text where a type button is expected: the reason and the types again."""
    ctx.say(ctx.t("ask.use_buttons"))
    _support_types(ctx, ctx.data["phone"])


def _support_types(ctx: Context, phone: str) -> None:
    ctx.goto("sup.type", name=ctx.data["name"], login=ctx.data["login"], phone=phone)
    rows = _type_buttons(ctx, "sup_type", "supt", ctx.rules.requests.support_types)
    ctx.say(ctx.t("sup.choose_type"), with_menu(ctx.t, *rows))


@router.action("supt")
async def support_type(ctx: Context, argument: str) -> None:
    """Type chosen: ask for the text."""
    request_type = _chosen(ctx.rules.requests.support_types, argument)
    if request_type is None or ctx.step != "sup.type":
        await support(ctx, "")
        return
    ctx.goto("sup.text", **{**ctx.data, "type": request_type})
    ctx.say(ctx.t("sup.ask_text", limit=ctx.rules.requests.max_text), [[menu_button(ctx.t)]])


@router.step("sup.text", words=True)
async def support_text(ctx: Context) -> None:
    """Store the support request."""
    t = ctx.t
    try:
        request = await submit_support(
            ctx.uow,
            ctx.rules.requests,
            ctx.person.id,
            ctx.data["name"],
            ctx.data["login"],
            ctx.data["phone"],
            ctx.data["type"],
            ctx.event.text or "",
            ctx.now,
        )
    except TextEmpty:
        ctx.say(t("text.empty"), [[menu_button(t)]])
        return
    except TextTooLong as long:
        ctx.say(t("text.too_long", limit=long.limit), [[menu_button(t)]])
        return
    ctx.reset()
    ctx.say(t("sup.accepted", number=request.id), with_menu(t))
