"""Submit a meter reading (manual §6.3): zone by zone, checked, priced, confirmed if odd.

"Внести покази" goes straight to the question for the last used account (others are a
button away) and shows what was already submitted in this window, which a new value
replaces while the window is open. A bare number typed while no step is open is offered
as a reading after one confirmation. A wrong value is asked for again with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.handlers.accounts import (
    account_title,
    link_typed_number,
    preselect_account,
    switch_rows,
)
from bot.handlers.context import Context
from bot.handlers.reading_state import CALC, SUBMIT, ReadingDraft
from bot.handlers.router import Router
from bot.i18n import Translator
from bot.menu import main_menu, menu_button, said, section_rows, with_menu
from bot.messages import Button
from core.accounts import normalise_account_number
from core.channels import policy_of
from core.errors import (
    AccountNumberInvalid,
    NoMeter,
    OutsideReadingWindow,
    ReadingBelowPrevious,
    ReadingFormatInvalid,
    ReadingTooLong,
)
from core.model import Account, Meter, ReadingSource, SubmittedReading, Zone
from core.money import zone_charges
from core.readings import (
    ReadingEvaluation,
    ReadingRules,
    current_window,
    estimate_reading,
    latest_window,
    next_window,
    parse_readings,
    reading_in_window,
    submit_reading,
)

router = Router()


def _source_of(ctx: Context) -> ReadingSource:
    """The source a reading submitted in this channel records (its row in core.channels)."""
    source = policy_of(ctx.event.channel).reading_source
    return ReadingSource(source) if source is not None else ReadingSource.CABINET


@router.action("read", commands=("readings", "reading"))
async def start_reading(ctx: Context, argument: str) -> None:
    """The last used account's reading question (others a button away); the window checked."""
    account, others = await preselect_account(ctx, argument)
    if account is not None:
        await _ask_first_zone(ctx, account, others=others)


@router.action("calc", commands=("calc",))
async def start_calculation(ctx: Context, argument: str) -> None:
    """ "Розрахувати": the same questions, an estimate, nothing stored; any day of the month."""
    account, others = await preselect_account(ctx, argument)
    if account is not None:
        await _ask_first_zone(ctx, account, mode=CALC, others=others)


def _sent_line(ctx: Context, reading: SubmittedReading) -> str:
    """What was submitted, when and through which channel."""
    t = ctx.t
    return t(
        "reading.already",
        values=t.values(reading.values),
        moment=t.moment(reading.taken_at.astimezone(ctx.rules.readings.zone)),
        source=t(f"source.{reading.source.value}"),
    )


def window_rule(t: Translator, rules: ReadingRules) -> str:
    """The configured reading window in words ("в останні 2 дні та перші 3 дні місяця")."""
    return t(
        "window.rule",
        last=t.n("window.last_days", rules.last_days),
        first=t.n("window.first_days", rules.first_days),
    )


async def _closed(ctx: Context, account: Account, rows: list[list[Button]]) -> None:
    """The window is closed: when it opens, and what was submitted in the last one."""
    t = ctx.t
    rules = ctx.rules.readings
    upcoming = next_window(ctx.now, rules)
    lines = [
        t(
            "reading.closed",
            window=window_rule(t, rules),
            opens=t.date(upcoming.opens),
            closes=t.date(upcoming.closes),
        )
    ]
    last = latest_window(ctx.now, rules)
    sent = await reading_in_window(ctx.uow, account, last, rules)
    if sent is not None:
        too_late = t("reading.too_late", closes=t.date(last.closes))
        lines.append(_sent_line(ctx, sent) + " " + too_late)
    ctx.say("\n".join(lines), with_menu(t, *rows))


async def _ask_first_zone(
    ctx: Context, account: Account, mode: str = SUBMIT, others: Sequence[Account] = ()
) -> None:
    ctx.reset()
    t = ctx.t
    rules = ctx.rules.readings
    submit = mode == SUBMIT
    rows = switch_rows(ctx, others, "read" if submit else "calc")
    if submit:
        rows += section_rows(t, "read", account.id)
        if current_window(ctx.now, rules) is None:
            await _closed(ctx, account, rows)
            return
    meter = await ctx.uow.meters.in_service(account.id)
    if meter is None:
        ctx.say(t("reading.no_meter"), with_menu(t, *rows))
        return
    billing = await ctx.uow.readings.latest_billing(account.id)
    head = "reading.for_account" if submit else "reading.calc_for_account"
    lines = [t(head, title=account_title(ctx, account))]
    if billing is not None:
        values = t.values({zone: billing.values.get(zone, 0) for zone in meter.zones})
        lines.append(t("reading.last_billing", date=t.date(billing.taken_on), values=values))
    if submit:
        window = latest_window(ctx.now, rules)
        sent = await reading_in_window(ctx.uow, account, window, rules)
        if sent is not None:
            lines.append(_sent_line(ctx, sent))
            lines.append(t("reading.can_correct", closes=t.date(window.closes)))
    _enter_values(ctx, account.id, meter, mode, {})
    lines.append(zone_prompt(ctx, Zone(meter.zones[0]), len(meter.zones)))
    if len(meter.zones) > 1:
        order = " / ".join(t.zone(zone) for zone in meter.zones)
        lines.append(t("reading.all_zones_at_once", order=order))
    if submit:
        lines.append(t("photo.or_send"))
    ctx.say("\n".join(lines), with_menu(t, *rows))


def _enter_values(
    ctx: Context, account_id: int, meter: Meter, mode: str, values: dict[str, int]
) -> None:
    """The step that collects a value per zone (the meter's digits checked at once)."""
    zones = [zone.value for zone in meter.zones]
    draft = ReadingDraft(account_id, zones, values, mode, digits=meter.digit_count)
    ctx.goto("read.value", **draft.data())


def zone_prompt(ctx: Context, zone: Zone, zone_count: int) -> str:
    """Ask for one zone's value (or the only one)."""
    if zone_count == 1:
        return ctx.t("reading.ask_single")
    return ctx.t("reading.ask_zone", zone=ctx.t.zone_of(zone))


@router.step("read.value")
async def reading_value(ctx: Context) -> None:
    """A value for the zone being asked (or the values of several zones at once); when all
    zones are in, check and store. A value that cannot be right asks the same again."""
    draft = ReadingDraft.of(ctx.data)
    zones = [Zone(name) for name in draft.zones]
    values = draft.values
    # Zones fill in any order: a photo may have given the second one first.
    missing = [z for z in zones if z.value not in values]
    try:
        typed = parse_readings(ctx.event.text or "")
    except ReadingFormatInvalid:
        ctx.say(ctx.t("reading.bad_format"), [[menu_button(ctx.t)]])
        return
    reason = ""
    digits = draft.digits
    if len(typed) > len(missing):
        reason = _too_many(ctx, missing, len(zones))
    elif digits and any(len(str(value)) > digits for value in typed):
        reason = _too_long(ctx, digits)
    if reason:
        # Said now, and the same zone is asked again: the next value typed is taken.
        ctx.say(reason + "\n" + zone_prompt(ctx, missing[0], len(zones)), [[menu_button(ctx.t)]])
        return
    for zone, value in zip(missing, typed, strict=False):
        values[zone.value] = value
    ctx.goto("read.value", **draft.data())
    missing = missing[len(typed) :]
    if missing:
        ctx.say(zone_prompt(ctx, missing[0], len(zones)), [[menu_button(ctx.t)]])
        return
    if draft.mode == CALC:
        await _estimate(ctx)
        return
    await evaluate_and_store(ctx, confirmed=False)


def _too_many(ctx: Context, missing: Sequence[Zone], zone_count: int) -> str:
    """More numbers than zones left to fill: which are wanted (a one-zone meter: one)."""
    if zone_count == 1:
        return ctx.t("reading.one_value")
    names = ", ".join(ctx.t.zone(zone) for zone in missing)
    return ctx.t("reading.too_many_values", zones=names)


def _too_long(ctx: Context, digits: int) -> str:
    return ctx.t("reading.too_long", digits=ctx.t.n("count.digits", digits))


async def _estimate(ctx: Context) -> None:
    draft = ReadingDraft.of(ctx.data)
    account_id = draft.account
    values = {Zone(zone): int(value) for zone, value in draft.values.items()}
    account = await ctx.uow.accounts.get(account_id)
    if account is None or not await ctx.uow.links.is_linked(ctx.person.id, account_id):
        ctx.reset()
        ctx.say(ctx.t("account.not_yours"), main_menu(ctx.t))
        return
    again = with_menu(
        ctx.t,
        [
            Button(ctx.t("menu.calc"), f"calc:{account_id}"),
            Button(ctx.t("menu.read"), f"read:{account_id}"),
        ],
    )
    try:
        evaluation = await estimate_reading(ctx.uow, account, values, ctx.now, ctx.rules.readings)
    except ReadingBelowPrevious as low:
        _ask_again_below_previous(ctx, low)
        return
    except ReadingTooLong as long:
        _ask_again_all(ctx, _too_long(ctx, long.digit_count))
        return
    except NoMeter:
        ctx.reset()
        ctx.say(ctx.t("reading.calc_failed"), again)
        return
    ctx.reset()
    ctx.say(
        ctx.t("reading.calc_result")
        + "\n\n"
        + _summary(ctx, evaluation)
        + "\n"
        + ctx.t("reading.calc_not_stored"),
        again,
    )


@router.action("read!")
async def confirm_jump(ctx: Context, argument: str) -> None:
    """The person confirms an unusually large consumption."""
    if ctx.step != "read.confirm":
        ctx.say(ctx.t("reading.nothing_to_confirm"), with_menu(ctx.t))
        return
    await evaluate_and_store(ctx, confirmed=True)


@router.action("read?")
async def reenter(ctx: Context, argument: str) -> None:
    """Start the values again (after "no, that's wrong")."""
    account_id = ReadingDraft.account_in(ctx.data)
    await start_reading(ctx, str(account_id) if account_id else "")


@router.step("read.confirm")
async def confirm_typed(ctx: Context) -> None:
    """ "так" / "ні" typed; a corrected value for a one-zone meter; else the question again."""
    text = ctx.event.text or ""
    if said(ctx.t, "words.yes", text):
        await evaluate_and_store(ctx, confirmed=True)
        return
    if said(ctx.t, "words.no", text):
        await reenter(ctx, "")
        return
    try:
        parse_readings(text)
    except ReadingFormatInvalid:
        pass
    else:
        # The person typed the value again, corrected: check that one instead.
        draft = ReadingDraft.of(ctx.data)
        draft.values, draft.mode = {}, SUBMIT
        ctx.goto("read.value", **draft.data())
        await reading_value(ctx)
        return
    ctx.say(ctx.t("reading.confirm_use_buttons"))
    await evaluate_and_store(ctx, confirmed=False)


async def keep_photo_evidence(ctx: Context, sha256: str | None) -> int | None:
    """Keep the confirmed photo and record it; its id for the reading (None without one)."""
    store = ctx.services.photo_store
    if not sha256 or store is None:
        return None
    kept = await store.keep(sha256, ctx.person.id)
    if kept is None:
        return None
    retain_until = ctx.now + timedelta(days=ctx.rules.photo_retention_days)
    return await ctx.uow.photos.add(
        kept.sha256, kept.size, kept.content_type, kept.storage_ref, ctx.now, retain_until
    )


async def evaluate_and_store(ctx: Context, confirmed: bool) -> None:
    """Check the collected values and store them (or ask to confirm a jump)."""
    t = ctx.t
    draft = ReadingDraft.of(ctx.data)
    account_id = draft.account
    values = {Zone(zone): int(value) for zone, value in draft.values.items()}
    account = await ctx.uow.accounts.get(account_id)
    if account is None or not await ctx.uow.links.is_linked(ctx.person.id, account_id):
        ctx.reset()
        ctx.say(t("account.not_yours"), main_menu(t))
        return
    photo = draft.photo
    try:
        # One check per submission: submit_reading checks, and stores only what may be.
        evaluation, stored = await submit_reading(
            ctx.uow,
            account,
            values,
            ctx.now,
            ctx.rules.readings,
            _source_of(ctx),
            ctx.identity.id,
            confirmed=confirmed,
            evidence=lambda: keep_photo_evidence(ctx, photo),
        )
    except OutsideReadingWindow as closed:
        ctx.reset()
        ctx.say(
            t(
                "reading.closed",
                window=window_rule(t, ctx.rules.readings),
                opens=t.date(closed.opens),
                closes=t.date(closed.closes),
            ),
            with_menu(t, *section_rows(t, "read", account_id)),
        )
        return
    except ReadingBelowPrevious as low:
        _ask_again_below_previous(ctx, low)
        return
    except ReadingTooLong as long:
        _ask_again_all(ctx, _too_long(ctx, long.digit_count))
        return
    except NoMeter:
        ctx.reset()
        ctx.say(t("reading.no_meter"), with_menu(t))
        return
    if stored is None:
        ctx.goto("read.confirm", **draft.data())
        ctx.say(
            _summary(ctx, evaluation) + "\n\n" + t("reading.confirm_jump"),
            [
                [
                    Button(t("reading.confirm_yes"), "read!"),
                    Button(t("reading.confirm_no"), "read?"),
                ],
                [menu_button(t)],
            ],
        )
        return
    ctx.reset()
    head = t("reading.replaced") if evaluation.replaces else t("reading.accepted")
    window = current_window(ctx.now, ctx.rules.readings)
    lines = [head, "", _summary(ctx, evaluation)]
    if window is not None:
        lines.append(t("reading.correct_until", closes=t.date(window.closes)))
    ctx.say(
        "\n".join(lines),
        with_menu(
            t,
            [
                Button(t("menu.history"), f"hist:{account_id}"),
                Button(t("menu.balance"), f"bal:{account_id}"),
            ],
        ),
    )


def _ask_again_below_previous(ctx: Context, low: ReadingBelowPrevious) -> None:
    """Say which zone went below its previous value and ask for that zone again."""
    _drop_zone(ctx, low.zone)
    t, zone_count = ctx.t, len(ReadingDraft.of(ctx.data).zones)
    previous = t.number(low.previous)
    if zone_count == 1:
        reason = t("reading.below_previous", previous=previous)
    else:
        reason = t("reading.below_previous_zone", zone=t.zone_of(low.zone), previous=previous)
    ctx.say(reason + "\n" + zone_prompt(ctx, low.zone, zone_count), [[menu_button(t)]])


def _ask_again_all(ctx: Context, reason: str) -> None:
    """Every zone asked again, after `reason`: the values did not fit the meter."""
    draft = ReadingDraft.of(ctx.data)
    zones, draft.values = draft.zones, {}
    ctx.goto("read.value", **draft.data())
    ctx.say(reason + "\n" + zone_prompt(ctx, Zone(zones[0]), len(zones)), [[menu_button(ctx.t)]])


def _drop_zone(ctx: Context, zone: Zone) -> None:
    """Ask again for the refused zone, keeping the other zones' values."""
    draft = ReadingDraft.of(ctx.data)
    draft.values = {name: value for name, value in draft.values.items() if name != zone.value}
    ctx.goto("read.value", **draft.data())


def _summary(ctx: Context, evaluation: ReadingEvaluation) -> str:
    """The sum written out: per zone the value, kWh × price = amount; with several zones
    the total. A one-zone meter's line names no zone."""
    t = ctx.t
    prices = {rate.zone: rate.price for rate in evaluation.rates}
    amounts = zone_charges(evaluation.consumption, evaluation.rates)
    single = len(evaluation.values) == 1
    lines = [
        t(
            "reading.single_line" if single else "reading.zone_line",
            zone=t.zone(zone),
            value=t.number(value),
            kwh=t.kwh(evaluation.consumption[zone]),
            price=t.price(prices[zone]),
            amount=t.money(amounts[zone]),
        )
        for zone, value in evaluation.values.items()
    ]
    if evaluation.rolled_over:
        lines.append(t("reading.rolled_over"))
    if not single:
        lines.append(
            t("reading.total", kwh=t.kwh(evaluation.total_kwh), charge=t.money(evaluation.charge))
        )
    return "\n".join(lines)


# --- A bare number typed while no step is open ---------------------------------------


@router.step("")
async def typed_while_idle(ctx: Context) -> None:
    """A number is most likely the meter's reading: offer to submit it; else not understood."""
    text = ctx.event.text or ""
    number = _account_number_typed(ctx, text)
    if number is not None:
        await link_typed_number(ctx, number)
        return
    try:
        typed = parse_readings(text)
    except ReadingFormatInvalid:
        digits = "".join(text.split())
        if not digits.isdigit():
            ctx.follow = "unknown"
            return
        typed = [int(digits)]  # too long for a reading; said so below
    await _offer_numbers(ctx, typed, "")


# Household meters show at most 8 integer digits; an account number is 6 to 13.
MAX_READING_DIGITS = 8


def _account_number_typed(ctx: Context, text: str) -> str | None:
    """A newcomer's first number is often their account number (it heads every bill): with
    no account linked yet, a number longer than any meter shows is taken as one."""
    if ctx.accounts:
        return None
    try:
        number = normalise_account_number(text)
    except AccountNumberInvalid:
        return None
    return number if len(number) > MAX_READING_DIGITS else None


async def _offer_numbers(ctx: Context, typed: list[int], argument: str) -> None:
    """ "Передати 19 700 для рахунку …? Так / Ні" (the last used or only account)."""
    t = ctx.t
    account, others = await preselect_account(ctx, argument)
    if account is None:
        return
    meter = await ctx.uow.meters.in_service(account.id)
    if meter is None:
        ctx.reset()
        ctx.say(t("reading.no_meter"), with_menu(t))
        return
    shown = " / ".join(t.number(value) for value in typed)
    if len(typed) > len(meter.zones) or any(len(str(v)) > meter.digit_count for v in typed):
        ctx.reset()
        ctx.say(
            t(
                "reading.number_not_reading",
                value=shown,
                number=account.number,
                digits=t.n("count.digits", meter.digit_count),
            ),
            with_menu(
                t,
                [Button(t("menu.read"), f"read:{account.id}")],
                [Button(t("menu.link"), "link")],
            ),
        )
        return
    rules = ctx.rules.readings
    if current_window(ctx.now, rules) is None:
        upcoming = next_window(ctx.now, rules)
        ctx.goto("read.quick", **ReadingDraft(account.id, mode=CALC, typed=typed).data())
        ctx.say(
            t(
                "reading.number_closed",
                value=shown,
                opens=t.date(upcoming.opens),
                closes=t.date(upcoming.closes),
            ),
            with_menu(t, [Button(t("reading.number_calc", value=shown), "rq!")]),
        )
        return
    ctx.goto("read.quick", **ReadingDraft(account.id, mode=SUBMIT, typed=typed).data())
    lines = []
    sent = await reading_in_window(ctx.uow, account, latest_window(ctx.now, rules), rules)
    if sent is not None:
        lines.append(_sent_line(ctx, sent))
    title = account_title(ctx, account)
    given = dict(zip(meter.zones, typed, strict=False))
    if len(typed) == len(meter.zones):
        lines.append(t("reading.number_confirm", value=t.values(given), title=title))
    else:  # the first zones only: name them
        named = t.values(given, named=True)
        lines.append(t("reading.number_confirm_zone", value=named, title=title))
    ctx.say(
        "\n".join(lines),
        with_menu(
            t,
            [Button(t("reading.number_yes"), "rq!"), Button(t("common.no"), "rq?")],
            *switch_rows(ctx, others, "rqa"),
        ),
    )


@router.action("rq!")
async def take_number(ctx: Context, argument: str) -> None:
    """Yes: the numbers are the reading (of the first zones); the rest as in "Внести покази"."""
    if ctx.step != "read.quick":
        ctx.say(ctx.t("reading.nothing_to_confirm"), with_menu(ctx.t))
        return
    draft = ReadingDraft.of(ctx.data)
    account_id, typed, mode = draft.account, draft.typed, draft.mode
    account, _ = await preselect_account(ctx, str(account_id))
    if account is None:
        return  # no longer linked: already said
    meter = await ctx.uow.meters.in_service(account_id)
    if meter is None:
        ctx.reset()
        ctx.say(ctx.t("reading.no_meter"), with_menu(ctx.t))
        return
    given = {zone.value: int(value) for zone, value in zip(meter.zones, typed, strict=False)}
    _enter_values(ctx, account_id, meter, mode, given)
    if len(given) < len(meter.zones):
        next_zone = Zone(meter.zones[len(given)])
        ctx.say(zone_prompt(ctx, next_zone, len(meter.zones)), [[menu_button(ctx.t)]])
        return
    if mode == CALC:
        await _estimate(ctx)
        return
    await evaluate_and_store(ctx, confirmed=False)


@router.action("rq?")
async def drop_number(ctx: Context, argument: str) -> None:
    """No: nothing is submitted."""
    ctx.reset()
    ctx.say(
        ctx.t("reading.number_dropped"),
        with_menu(ctx.t, [Button(ctx.t("menu.read"), "read")]),
    )


@router.action("rqa")
async def number_for_other_account(ctx: Context, argument: str) -> None:
    """The same number, offered for another of the person's accounts."""
    if ctx.step != "read.quick":
        await start_reading(ctx, argument)
        return
    await _offer_numbers(ctx, ReadingDraft.of(ctx.data).typed, argument)


@router.step("read.quick")
async def number_answer_typed(ctx: Context) -> None:
    """ "так" / "ні" typed, or another number (offered instead); else the question again."""
    text = ctx.event.text or ""
    draft = ReadingDraft.of(ctx.data)
    if said(ctx.t, "words.yes", text):
        await take_number(ctx, "")
        return
    if said(ctx.t, "words.no", text):
        await drop_number(ctx, "")
        return
    try:
        typed = parse_readings(text)
    except ReadingFormatInvalid:
        ctx.say(ctx.t("reading.answer_yes_no"))
        typed = draft.typed
    await _offer_numbers(ctx, typed, str(draft.account))
