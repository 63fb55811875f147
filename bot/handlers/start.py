"""Greeting, consent to personal-data processing, the main menu and its "Звернення" section,
help, and the fallbacks (a question answered by typing instead of a button, unknown input)."""

from __future__ import annotations

from bot.handlers.context import Context
from bot.handlers.readings import window_rule
from bot.handlers.router import Router
from bot.handlers.settings import ask_code
from bot.menu import main_menu, menu_button, section_rows, with_menu
from bot.messages import Button
from core.model import Consent

router = Router()


def consent_buttons(ctx: Context) -> list[list[Button]]:
    """Agree / decline."""
    return [
        [Button(ctx.t("consent.agree"), "consent:yes")],
        [Button(ctx.t("consent.decline"), "consent:no")],
    ]


async def show_menu(ctx: Context) -> None:
    """The main menu; a person with no account is pointed at adding one."""
    ctx.reset()
    accounts = ctx.accounts
    text = ctx.t("menu.title") if accounts else ctx.t("menu.title_no_accounts")
    ctx.say(text, main_menu(ctx.t, has_accounts=bool(accounts)))


@router.action("start", commands=("start",), consent=False)
async def start(ctx: Context, argument: str) -> None:
    """/start: greet; ask for consent once, then show the menu."""
    ctx.reset()
    consent = await ctx.uow.persons.latest_consent(ctx.person.id)
    name = ctx.person.name or ctx.event.profile_name
    greeting = ctx.t("start.greeting_name", name=name) if name else ctx.t("start.greeting")
    code = argument.strip() if argument.strip().isdigit() else ""
    if consent is None or consent.version != ctx.rules.consent_version:
        if code:
            # A deep link from another messenger: join after consent.
            ctx.data["code"] = code
        ctx.say(greeting + "\n\n" + ctx.t("consent.text"), consent_buttons(ctx))
        return
    if code:
        await ask_code(ctx, code)
        return
    ctx.say(greeting)
    await show_menu(ctx)


@router.action("consent", consent=False)
async def consent(ctx: Context, argument: str) -> None:
    """Record consent with its time and version; without it the bot can do nothing."""
    if argument != "yes":
        ctx.say(ctx.t("consent.declined"), [[Button(ctx.t("consent.agree"), "consent:yes")]])
        return
    code = ctx.data.get("code")
    ctx.reset()
    if code:
        ctx.data["code"] = code
    existing = await ctx.uow.persons.latest_consent(ctx.person.id)
    if existing is None or existing.version != ctx.rules.consent_version:
        await ctx.uow.persons.add_consent(
            Consent(ctx.person.id, ctx.now, ctx.rules.consent_version, ctx.event.channel)
        )
    ctx.consented = True
    ctx.say(ctx.t("consent.thanks"))
    code = ctx.data.get("code")
    if code:
        await ask_code(ctx, code)
        return
    # Go on with what the person asked for before consent was needed.
    resume = ctx.data.pop("resume", None)
    if resume:
        ctx.follow = resume
        return
    await show_menu(ctx)


@router.action("menu", commands=("menu", "cancel"))
async def menu(ctx: Context, argument: str) -> None:
    """Leave any flow and show the menu."""
    await show_menu(ctx)


@router.action("help", commands=("help",))
async def help_(ctx: Context, argument: str) -> None:
    """What the bot can do and how to talk to it."""
    ctx.reset()
    accounts = ctx.accounts
    text = ctx.t("help.text", window=window_rule(ctx.t, ctx.rules.readings))
    ctx.say(text, main_menu(ctx.t, has_accounts=bool(accounts)))


@router.action("reqs", commands=("requests",))
async def requests_section(ctx: Context, argument: str) -> None:
    """ "Звернення": the call centre, free services and technical support, one level down."""
    ctx.reset()
    ctx.say(ctx.t("requests.title"), with_menu(ctx.t, *section_rows(ctx.t, "reqs")))


@router.step("ask")
async def typed_instead_of_pressed(ctx: Context) -> None:
    """Text where a button is expected: say so and ask the same question again."""
    ctx.say(ctx.t("ask.use_buttons"))
    ctx.follow = ctx.data.get("again") or "menu"


@router.action("unknown", consent=False)
async def unknown(ctx: Context, argument: str) -> None:
    """Anything not understood: a short hint and the menu (or the consent question)."""
    consent = await ctx.uow.persons.latest_consent(ctx.person.id)
    if consent is None or consent.version != ctx.rules.consent_version:
        ctx.say(ctx.t("consent.needed") + "\n\n" + ctx.t("consent.text"), consent_buttons(ctx))
        return
    accounts = ctx.accounts
    ctx.say(ctx.t("unknown.hint"), main_menu(ctx.t, has_accounts=bool(accounts)))


@router.action("unknown_command", consent=False)
async def unknown_command(ctx: Context, argument: str) -> None:
    """A /command we do not have."""
    ctx.say(ctx.t("unknown.command"), [[menu_button(ctx.t)]])


@router.action("domain_error", consent=False)
async def domain_error(ctx: Context, argument: str) -> None:
    """A rule refused something no flow handled itself: say so politely, back to menu."""
    ctx.reset()
    ctx.say(ctx.t("error.not_allowed"), main_menu(ctx.t))
