"""Readings from a photo (manual §6.3 "Завантажити фото показів").

Recognition runs before the conversation's transaction (see Dialog), with the meter's
previous reading as a prior; here the person checks what was read. Nothing is stored
before "Так"; the confirmed photo is kept as evidence with the reading.
"""

from __future__ import annotations

from datetime import datetime

from bot.handlers.accounts import with_account
from bot.handlers.context import Context
from bot.handlers.reading_state import SUBMIT, ReadingDraft
from bot.handlers.readings import evaluate_and_store, reading_value, start_reading, zone_prompt
from bot.handlers.router import Router
from bot.menu import menu_button, with_menu
from bot.messages import Button
from core.model import Account, ChannelIdentity, DialogState, Zone
from core.photo_reading import (
    PhotoProblem,
    PhotoRecognition,
    ReadingCandidate,
    ReadingPrior,
    implied_increase,
)
from core.ports import AbstractUnitOfWork
from core.readings import ReadingRules, photo_prior

router = Router()

# Problems that a better photo solves: the answer says how to take one.
RETAKE = {
    PhotoProblem.TOO_SMALL,
    PhotoProblem.TOO_DARK,
    PhotoProblem.BLURRED,
    PhotoProblem.COUNTER_NOT_FOUND,
    PhotoProblem.NO_DIGITS,
    PhotoProblem.TIMEOUT,
}


async def _target(
    uow: AbstractUnitOfWork, person_id: int, state: DialogState
) -> tuple[Account | None, Zone | None]:
    """The account and zone a photo is for: the reading being entered, or the only account."""
    if state.state in ("read.value", "read.photo") and ReadingDraft.account_in(state.data):
        draft = ReadingDraft.of(state.data)
        account = await uow.accounts.get(draft.account)
        zones = [Zone(z) for z in draft.zones]
        done = draft.values
        zone = next((z for z in zones if z.value not in done), zones[0] if zones else None)
        return account, zone
    accounts = await uow.links.accounts_of(person_id)
    if len(accounts) == 1:
        return accounts[0], accounts[0].tariff_plan.zones[0]
    return None, None


async def prior_for_photo(
    uow: AbstractUnitOfWork,
    identity: ChannelIdentity,
    state: DialogState,
    now: datetime,
    rules: ReadingRules,
) -> ReadingPrior | None:
    """The prior for a photo about to be read, from the conversation it arrives in."""
    account, zone = await _target(uow, identity.person_id, state)
    if account is None or zone is None:
        return None
    return await photo_prior(uow, account, zone, now, rules)


router.photo_prior = prior_for_photo


@router.action("photo")
async def photo(ctx: Context, argument: str) -> None:
    """A photo arrived: say what was read and ask to confirm, or why it could not be read."""
    t = ctx.t
    account, zone = await _target(ctx.uow, ctx.person.id, ctx.state)
    if account is None or zone is None:
        accounts = ctx.accounts
        if not accounts:
            ctx.say(t("account.none"), with_menu(t, [Button(t("menu.link"), "link")]))
        else:
            ctx.say(t("photo.choose_account_first"))
            await start_reading(ctx, "")
        return
    if ctx.step not in ("read.value", "read.photo"):
        await start_reading(ctx, str(account.id))
        if ctx.step != "read.value":
            return  # the window is closed or there is no meter: already said
        ctx.replies.clear()
    recognition = ctx.recognition
    if ctx.services.photos is None or recognition is None:
        ctx.say(t("photo.unavailable"), [[menu_button(t)]])
        return
    zones = ReadingDraft.of(ctx.data).zones
    candidate = recognition.best
    if recognition.problem is not None or candidate is None:
        ctx.say(
            _unread_text(ctx, recognition) + "\n" + zone_prompt(ctx, zone, len(zones)),
            [[menu_button(t)]],
        )
        return
    prior = await photo_prior(ctx.uow, account, zone, ctx.now, ctx.rules.readings)
    step = _step(candidate, prior)
    if prior is not None and prior.previous is not None and step is None:
        # Checked at once against the zone being entered, not after every zone is typed.
        said = t(
            "photo.does_not_fit",
            value=t.number(candidate.value),
            zone=t.zone_of(zone),
            previous=t.number(prior.previous),
        )
    elif candidate.confidence < ctx.rules.photo_confidence:
        said = t("photo.unsure", value=t.number(candidate.value))
    else:
        await _offer(ctx, candidate, zone, prior, step)
        return
    ctx.say(
        said + "\n" + t("photo.retake") + "\n" + zone_prompt(ctx, zone, len(zones)),
        [[menu_button(t)]],
    )


async def _offer(
    ctx: Context,
    candidate: ReadingCandidate,
    zone: Zone,
    prior: ReadingPrior | None,
    step: int | None,
) -> None:
    """A confident reading: one tap takes it for the zone being entered."""
    t = ctx.t
    draft = ReadingDraft.of(ctx.data)
    zones = draft.zones
    store = ctx.services.photo_store
    sha256 = (
        await store.put_pending(ctx.event.photo or b"", ctx.person.id)
        if store is not None
        else None
    )
    offered = ReadingDraft(
        draft.account, zones, draft.values, SUBMIT, photo=sha256, recognised=candidate.value
    )
    ctx.goto("read.photo", **offered.data())
    shown = t("photo.recognised", value=t.number(candidate.value))
    if len(zones) > 1:
        shown = t("photo.recognised_zone", value=t.number(candidate.value), zone=t.zone_of(zone))
    if step is not None and prior is not None and prior.previous is not None:
        shown += " " + t("photo.step", previous=t.number(prior.previous), kwh=t.kwh(step))
    others = [z for z in zones if z != zone.value and z not in draft.values]
    ctx.say(
        shown + " " + t("photo.is_it_right"),
        [
            [Button(t("photo.yes"), f"ph:{zone.value}"), Button(t("photo.no"), "ph:no")],
            *(
                [
                    [Button(t("photo.other_zone", zone=t.zone_of(Zone(z))), f"ph:{z}")]
                    for z in others
                ]
            ),
            [menu_button(t)],
        ],
    )


def _step(candidate: ReadingCandidate, prior: ReadingPrior | None) -> int | None:
    """kWh used since the zone's previous reading, if the value can follow it."""
    if prior is None or prior.previous is None:
        return None
    # The jump check comes when the reading is stored; here only "can it follow at all".
    return implied_increase(candidate, ReadingPrior(prior.previous, prior.digit_count))


def _unread_text(ctx: Context, recognition: PhotoRecognition) -> str:
    """Why, in one line; how to take a better photo when that helps; typing instead."""
    problem = recognition.problem or PhotoProblem.NO_DIGITS
    lines = [ctx.t(f"photo.problem.{problem.value}")]
    if problem in RETAKE:
        lines.append(ctx.t("photo.retake"))
    lines.append(ctx.t("photo.type_instead"))
    return "\n".join(lines)


@router.action("ph")
async def photo_answer(ctx: Context, argument: str) -> None:
    """ "Так" (or the zone it shows) takes the value; "Ні" asks to type it."""
    t = ctx.t
    if ctx.step != "read.photo":
        ctx.say(t("reading.nothing_to_confirm"), with_menu(t))
        return
    draft = ReadingDraft.of(ctx.data)
    zones, values = draft.zones, dict(draft.values)
    if argument not in zones:
        if ctx.services.photo_store is not None and draft.photo:
            await ctx.services.photo_store.drop_pending(draft.photo, ctx.person.id)
        ctx.goto("read.value", **ReadingDraft(draft.account, zones, values, SUBMIT).data())
        waiting = next(z for z in zones if z not in values)
        ctx.say(zone_prompt(ctx, Zone(waiting), len(zones)), [[menu_button(t)]])
        return
    assert draft.recognised is not None  # set in read.photo, which led here
    values[argument] = int(draft.recognised)
    taken = ReadingDraft(draft.account, zones, values, SUBMIT, photo=draft.photo)
    ctx.goto("read.value", **taken.data())
    missing = [z for z in zones if z not in values]
    if missing:
        ctx.say(
            t("photo.zone_taken", zone=t.zone_of(Zone(argument)))
            + "\n"
            + zone_prompt(ctx, Zone(missing[0]), len(zones)),
            [[menu_button(t)]],
        )
        return
    await evaluate_and_store(ctx, confirmed=False)


@router.action("phhelp", commands=("photo",))
async def photo_help(ctx: Context, argument: str) -> None:
    """How to take a photo the bot can read."""
    await with_account(ctx, argument, "phhelp", _photo_help)


async def _photo_help(ctx: Context, account: Account) -> None:
    await start_reading(ctx, str(account.id))
    if ctx.step == "read.value":
        ctx.replies.clear()
        ctx.say(ctx.t("photo.how_to"), [[menu_button(ctx.t)]])


@router.step("read.photo")
async def photo_answer_typed(ctx: Context) -> None:
    """ "так" / "ні" typed instead of pressed, or the reading typed right away."""
    text = (ctx.event.text or "").strip().casefold()
    draft = ReadingDraft.of(ctx.data)
    zones = draft.zones
    if text in {ctx.t("photo.yes").casefold(), "так", "yes", "+"} and len(zones) == 1:
        await photo_answer(ctx, zones[0])
        return
    if text in {ctx.t("photo.no").casefold(), "ні", "no"}:
        await photo_answer(ctx, "no")
        return
    # Anything else is what the person reads on the meter: take it as typed.
    ctx.goto("read.value", **ReadingDraft(draft.account, zones, draft.values, SUBMIT).data())
    await reading_value(ctx)
