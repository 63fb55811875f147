"""Settings: profile (manual §2 the messenger way), notifications (§6.1, fig. 1.1), language,
joining another messenger, and deleting my data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.handlers.context import Context
from bot.handlers.requests import name_too_long
from bot.handlers.router import Router
from bot.i18n import SUPPORTED_LOCALES
from bot.menu import main_menu, menu_button, with_menu
from bot.messages import Button
from core.channels import messengers
from core.contacts import EmailInvalid, PhoneInvalid, normalise_email, normalise_mobile
from core.delivery import Topic, allowed_channels
from core.model import Channel, NotificationPrefs
from core.profiles import (
    CodeInvalid,
    CodePolicy,
    SameProfile,
    TooManyCodeAttempts,
    issue_code,
    join_with_code,
)
from core.requests import MAX_NAME, TextEmpty, TextTooLong, clean_text

router = Router()

TOPICS = ("outages_planned", "outages_emergency", "new_bills", "reading_reminders")


@router.action("set", commands=("settings",))
async def settings(ctx: Context, argument: str) -> None:
    """The settings menu."""
    ctx.reset()
    t = ctx.t
    ctx.say(
        t("settings.title"),
        with_menu(
            t,
            [Button(t("settings.profile"), "prof"), Button(t("settings.notifications"), "np")],
            [Button(t("settings.language"), "lang"), Button(t("settings.join"), "join")],
            [Button(t("settings.have_code"), "code"), Button(t("settings.delete"), "del")],
        ),
    )


# --- Profile -------------------------------------------------------------------------


@router.action("prof", commands=("profile",))
async def profile(ctx: Context, argument: str) -> None:
    """Name, phone and e-mail, each editable."""
    ctx.reset()
    t = ctx.t
    person = await ctx.uow.persons.get(ctx.person.id) or ctx.person
    ctx.say(
        t(
            "profile.card",
            name=person.name or "—",
            phone=person.phone or "—",
            email=person.email or "—",
        ),
        with_menu(
            t,
            [Button(t("profile.edit_name"), "pname")],
            [Button(t("profile.edit_phone"), "pphone"), Button(t("profile.edit_email"), "pmail")],
        ),
    )


@router.action("pname")
async def ask_name(ctx: Context, argument: str) -> None:
    """Ask for the name to use."""
    ctx.goto("prof.name")
    ctx.say(ctx.t("profile.ask_name"), [[menu_button(ctx.t)]])


@router.step("prof.name", words=True)
async def set_name(ctx: Context) -> None:
    """Store the typed name."""
    try:
        name = clean_text(ctx.event.text or "", MAX_NAME)
    except TextEmpty:
        ctx.say(ctx.t("profile.ask_name"), [[menu_button(ctx.t)]])
        return
    except TextTooLong as long:
        ctx.say(name_too_long(ctx, long), [[menu_button(ctx.t)]])
        return
    await ctx.uow.persons.update(replace(ctx.person, name=name))
    ctx.person = replace(ctx.person, name=name)
    await profile(ctx, "")


@router.action("pphone", commands=("phone",))
async def ask_phone(ctx: Context, argument: str) -> None:
    """Offer the share-my-number button, or typing it."""
    ctx.goto("prof.phone")
    ctx.say(
        ctx.t("profile.ask_phone"),
        [[Button(ctx.t("profile.share_phone"), request_phone=True)], [menu_button(ctx.t)]],
    )


@router.step("prof.phone")
async def set_phone(ctx: Context) -> None:
    """A shared contact (only one's own) or a typed Ukrainian mobile."""
    t = ctx.t
    if ctx.event.contact_phone and not ctx.event.contact_is_own:
        ctx.say(t("profile.not_own_contact"), [[menu_button(t)]])
        return
    try:
        phone = normalise_mobile(ctx.event.contact_phone or ctx.event.text or "")
    except PhoneInvalid:
        ctx.say(t("phone.invalid"), [[menu_button(t)]])
        return
    await ctx.uow.persons.update(replace(ctx.person, phone=phone))
    ctx.person = replace(ctx.person, phone=phone)
    await profile(ctx, "")


@router.action("pmail")
async def ask_email(ctx: Context, argument: str) -> None:
    """Ask for an e-mail (optional; "-" removes it)."""
    ctx.goto("prof.email")
    ctx.say(ctx.t("profile.ask_email"), [[menu_button(ctx.t)]])


@router.step("prof.email")
async def set_email(ctx: Context) -> None:
    """Store a valid e-mail, or remove it with "-"."""
    text = (ctx.event.text or "").strip()
    if text == "-":
        email = None
    else:
        try:
            email = normalise_email(text)
        except EmailInvalid:
            ctx.say(ctx.t("profile.bad_email"), [[menu_button(ctx.t)]])
            return
    await ctx.uow.persons.update(replace(ctx.person, email=email))
    ctx.person = replace(ctx.person, email=email)
    await profile(ctx, "")


# --- Notifications ---------------------------------------------------------------------


async def _offered_channels(ctx: Context) -> list[Channel]:
    """Where pushes may go, as choices: the channel this chat is in (always), the person's
    other messengers that are on and reachable, e-mail when SMTP is on and they gave one."""
    on = ctx.rules.push_channels
    here = ctx.identity.channel
    identities = await ctx.uow.persons.identities(ctx.person.id)
    offered = [here]
    offered += [
        channel
        for channel in messengers()
        if channel != here
        and channel in on
        and any(i.channel == channel and i.reachable for i in identities)
    ]
    if Channel.EMAIL in on and ctx.person.email:
        offered.append(Channel.EMAIL)
    return offered


def _shown_channels(
    prefs: NotificationPrefs | None, offered: list[Channel], ctx: Context
) -> set[Channel]:
    """The offered channels pushes go to now (a choice of channels that are off falls back
    to the messengers, as delivery does)."""
    allowed = allowed_channels(prefs, Topic.OUTAGES_PLANNED, ctx.rules.push_channels)
    return {channel for channel in offered if channel in allowed}


@router.action("np", commands=("notifications",))
async def notification_settings(ctx: Context, argument: str) -> None:
    """Where pushes go and which topics; each press saves and shows the change. Turning
    the last channel off asks first, saying what will no longer arrive."""
    ctx.reset()
    ctx.person = await ctx.uow.persons.get(ctx.person.id) or ctx.person
    saved = await ctx.uow.persons.prefs(ctx.person.id)
    offered = await _offered_channels(ctx)
    shown = _shown_channels(saved, offered, ctx)
    prefs = saved or NotificationPrefs(ctx.person.id)
    kind, _, value = argument.partition(":")
    changed: NotificationPrefs | None = None
    if kind == "ch" and value in {c.value for c in offered}:
        channels = shown ^ {Channel(value)}
        if not channels:
            _ask_all_off(ctx, prefs)
            return
        changed = replace(prefs, channels=frozenset(channels))
    elif kind == "off!":
        changed = replace(prefs, channels=frozenset())
    elif kind == "t" and value in TOPICS:
        flipped: dict[str, Any] = {value: not getattr(prefs, value)}  # the topic's field
        changed = replace(prefs, channels=frozenset(shown), **flipped)
    elif kind == "paper":
        changed = replace(
            prefs, channels=frozenset(shown), paper_bill_only=not prefs.paper_bill_only
        )
    if changed is not None:
        saved = prefs = replace(changed, changed_at=ctx.now)
        await ctx.uow.persons.save_prefs(prefs)
        shown = _shown_channels(saved, offered, ctx)
    _show_prefs(ctx, saved, prefs, offered, shown, changed is not None)


def _show_prefs(
    ctx: Context,
    saved: NotificationPrefs | None,
    prefs: NotificationPrefs,
    offered: list[Channel],
    shown: set[Channel],
    changed: bool,
) -> None:
    t = ctx.t

    def mark(on: bool) -> str:
        return "✅" if on else "⬜"

    def label(channel: Channel) -> str:
        name = t(f"channel.{channel.value}")
        return t("prefs.here", channel=name) if channel == ctx.identity.channel else name

    rows = [[Button(f"{mark(c in shown)} {label(c)}", f"np:ch:{c.value}")] for c in offered]
    if Channel.EMAIL in ctx.rules.push_channels and not ctx.person.email:
        rows.append([Button(t("prefs.add_email"), "pmail")])
    rows.append([Button(f"{mark(prefs.paper_bill_only)} {t('prefs.paper')}", "np:paper")])
    rows += [
        [Button(f"{mark(getattr(prefs, topic))} {t(f'prefs.{topic}')}", f"np:t:{topic}")]
        for topic in TOPICS
    ]
    lines = [t("prefs.saved")] if changed else []
    lines.append(t("prefs.title"))
    if shown:
        names = ", ".join(t(f"channel.{c.value}") for c in offered if c in shown)
        lines.append(t("prefs.channels", channels=names))
        if saved is not None and saved.channels and not saved.channels & set(offered):
            lines.append(t("prefs.fallback"))
    else:
        lines.append(t("prefs.channels_none"))
    if prefs.changed_at is not None:  # never changed: nothing worth a line
        last = t.date(prefs.changed_at.astimezone(ctx.rules.readings.zone))
        lines.append(t("prefs.last_change", date=last))
    ctx.say("\n".join(lines), with_menu(t, *rows), replaces_previous=changed)


def _ask_all_off(ctx: Context, prefs: NotificationPrefs) -> None:
    """Confirm turning every channel off, naming what would stop arriving."""
    t = ctx.t
    lines = [t("prefs.all_off_ask")]
    lines += [f"• {t(f'prefs.{topic}')}" for topic in TOPICS if getattr(prefs, topic)]
    lines.append(t("prefs.all_off_still"))
    ctx.say(
        "\n".join(lines),
        [[Button(t("prefs.all_off_yes"), "np:off!"), Button(t("prefs.all_off_no"), "np")]],
    )


# --- Language ----------------------------------------------------------------------------


@router.action("lang", commands=("language", "lang"))
async def language(ctx: Context, argument: str) -> None:
    """Choose uk or en; stored on the person, so every messenger speaks it."""
    ctx.reset()
    if argument in SUPPORTED_LOCALES:
        await ctx.uow.persons.update(replace(ctx.person, locale=argument))
        ctx.person = replace(ctx.person, locale=argument)
        ctx.t = ctx.t.__class__(argument, ctx.t.texts)
        ctx.say(ctx.t("language.saved"), main_menu(ctx.t))
        return
    ctx.expect_button("lang")
    ctx.say(
        ctx.t("language.choose"),
        [[Button("Українська", "lang:uk"), Button("English", "lang:en")], [menu_button(ctx.t)]],
    )


# --- Another messenger -------------------------------------------------------------------


@router.action("join", commands=("join",))
async def show_code(ctx: Context, argument: str) -> None:
    """A one-time code to type in another messenger."""
    ctx.reset()
    policy = CodePolicy()
    code = await issue_code(ctx.uow, ctx.person.id, ctx.now, policy)
    minutes = int(policy.ttl.total_seconds() // 60)
    ctx.say(
        ctx.t("join.code", code=code, minutes=ctx.t.n("count.minutes", minutes)), main_menu(ctx.t)
    )


@router.action("code", commands=("code",))
async def ask_code(ctx: Context, argument: str) -> None:
    """Enter a code from another messenger (also `/start CODE`, `/code CODE`)."""
    if argument.strip():
        await _join(ctx, argument.strip())
        return
    ctx.goto("join.code")
    ctx.say(ctx.t("join.ask_code"), [[menu_button(ctx.t)]])


@router.step("join.code")
async def typed_code(ctx: Context) -> None:
    """A typed code."""
    await _join(ctx, (ctx.event.text or "").strip())


async def _join(ctx: Context, code: str) -> None:
    t = ctx.t
    try:
        await join_with_code(ctx.uow, ctx.identity, code, ctx.now, CodePolicy())
    except CodeInvalid:
        ctx.say(t("join.invalid"), [[menu_button(t)]])
        return
    except TooManyCodeAttempts as error:
        ctx.reset()
        ctx.say(t("link.wait", minutes=t.n("count.minutes", ctx.minutes(error.wait))), main_menu(t))
        return
    except SameProfile:
        ctx.reset()
        ctx.say(t("join.same"), main_menu(t))
        return
    ctx.reset()
    ctx.say(t("join.done"), main_menu(t))


# --- Delete my data ----------------------------------------------------------------------


@router.action("del", commands=("delete",))
async def ask_delete(ctx: Context, argument: str) -> None:
    """Explain what is erased and what stays, and ask to confirm."""
    ctx.expect_button("del")
    ctx.say(
        ctx.t("delete.confirm"),
        [[Button(ctx.t("delete.yes"), "del!"), Button(ctx.t("common.no"), "menu")]],
    )


@router.action("del!")
async def delete(ctx: Context, argument: str) -> None:
    """Erase the person; the next message starts afresh."""
    await ctx.uow.persons.erase(ctx.person.id, ctx.now)
    if ctx.services.photo_store is not None:
        # Photos read but never confirmed are the person's too; kept ones are evidence
        # of readings, which belong to the account.
        await ctx.services.photo_store.drop_owner(ctx.person.id)
    ctx.accounts = ()
    ctx.reset()
    ctx.state = replace(ctx.state, data={})
    ctx.erased = True  # erase removed the dialog state; writing it back would re-create it
    ctx.consented = False  # the standing keyboard goes too
    ctx.say(ctx.t("delete.done"))
