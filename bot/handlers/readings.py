"""Submit a meter reading (manual §6.3): zone by zone, checked, priced, confirmed if odd."""

from __future__ import annotations

from datetime import timedelta

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.keyboards import main_menu, menu_button, with_menu
from bot.handlers.router import Router
from bot.messages import Button
from core.errors import (
    NoMeter,
    OutsideReadingWindow,
    ReadingBelowPrevious,
    ReadingFormatInvalid,
    ReadingTooLong,
)
from core.model import Account, ReadingSource, Zone
from core.readings import (
    ReadingEvaluation,
    check_reading,
    estimate_reading,
    open_window_or_raise,
    parse_reading,
    submit_reading,
)

router = Router()


def _source_of(ctx: Context) -> ReadingSource:
    return ReadingSource(ctx.event.channel.value)


@router.action("read", commands=("readings", "reading"))
async def start_reading(ctx: Context, argument: str) -> None:
    """Pick the account, check the window, then ask for the first zone."""
    await with_account(ctx, argument, "read", _ask_first_zone)


@router.action("calc", commands=("calc",))
async def start_calculation(ctx: Context, argument: str) -> None:
    """ "Розрахувати": the same questions, an estimate, nothing stored; any day of the month."""
    await with_account(ctx, argument, "calc", lambda c, a: _ask_first_zone(c, a, mode="calc"))


async def _ask_first_zone(ctx: Context, account: Account, mode: str = "submit") -> None:
    ctx.reset()
    if mode == "submit":
        try:
            await open_window_or_raise(ctx.now, ctx.rules.readings)
        except OutsideReadingWindow as closed:
            ctx.say(
                ctx.t(
                    "reading.closed",
                    opens=ctx.t.date(closed.opens),
                    closes=ctx.t.date(closed.closes),
                ),
                with_menu(ctx.t, [Button(ctx.t("menu.calc"), f"calc:{account.id}")]),
            )
            return
    meter = await ctx.uow.meters.in_service(account.id)
    if meter is None:
        ctx.say(ctx.t("reading.no_meter"), main_menu(ctx.t))
        return
    billing = await ctx.uow.readings.latest_billing(account.id)
    head = "reading.calc_for_account" if mode == "calc" else "reading.for_account"
    lines = [ctx.t(head, title=account_title(ctx, account))]
    if billing is not None:
        values = ", ".join(
            f"{ctx.t.zone(zone)}: {ctx.t.number(billing.values.get(zone, 0))}"
            for zone in meter.zones
        )
        lines.append(
            ctx.t("reading.last_billing", date=ctx.t.date(billing.taken_on), values=values)
        )
    ctx.goto("read.value", a=account.id, zones=[zone.value for zone in meter.zones], v={}, m=mode)
    lines.append(zone_prompt(ctx, Zone(meter.zones[0]), len(meter.zones)))
    if mode == "submit":
        lines.append(ctx.t("photo.or_send"))
    ctx.say("\n".join(lines), [[menu_button(ctx.t)]])


def zone_prompt(ctx: Context, zone: Zone, zone_count: int) -> str:
    """Ask for one zone's value (or the only one)."""
    if zone_count == 1:
        return ctx.t("reading.ask_single")
    return ctx.t("reading.ask_zone", zone=ctx.t.zone(zone))


@router.step("read.value")
async def reading_value(ctx: Context) -> None:
    """A value for the zone being asked; when all zones are in, check and store."""
    zones = [Zone(name) for name in ctx.data["zones"]]
    values: dict[str, int] = ctx.data["v"]
    # Zones fill in any order: a photo may have given the second one first.
    zone = next(z for z in zones if z.value not in values)
    try:
        value = parse_reading(ctx.event.text or "")
    except ReadingFormatInvalid:
        ctx.say(ctx.t("reading.bad_format"), [[menu_button(ctx.t)]])
        return
    values[zone.value] = value
    missing = [z for z in zones if z.value not in values]
    if missing:
        ctx.say(zone_prompt(ctx, missing[0], len(zones)), [[menu_button(ctx.t)]])
        return
    if ctx.data.get("m") == "calc":
        await _estimate(ctx)
        return
    await evaluate_and_store(ctx, confirmed=False)


async def _estimate(ctx: Context) -> None:
    account_id = int(ctx.data["a"])
    values = {Zone(zone): int(value) for zone, value in ctx.data["v"].items()}
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
        _ask_again_below_previous(ctx, low, [[menu_button(ctx.t)]])
        return
    except (ReadingTooLong, NoMeter):
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
        ctx.say(ctx.t("reading.nothing_to_confirm"), main_menu(ctx.t))
        return
    await evaluate_and_store(ctx, confirmed=True)


@router.action("read?")
async def reenter(ctx: Context, argument: str) -> None:
    """Start the values again (after "no, that's wrong")."""
    account_id = ctx.data.get("a")
    await start_reading(ctx, str(account_id) if account_id else "")


async def keep_photo_evidence(ctx: Context, sha256: str | None) -> int | None:
    """Keep the confirmed photo and record it; its id for the reading (None without one)."""
    store = ctx.services.photo_store
    if not sha256 or store is None:
        return None
    kept = await store.keep(sha256)
    if kept is None:
        return None
    retain_until = ctx.now + timedelta(days=ctx.rules.photo_retention_days)
    return await ctx.uow.photos.add(
        kept.sha256, kept.size, kept.content_type, kept.storage_ref, ctx.now, retain_until
    )


async def evaluate_and_store(ctx: Context, confirmed: bool) -> None:
    """Check the collected values and store them (or ask to confirm a jump)."""
    account_id = int(ctx.data["a"])
    values = {Zone(zone): int(value) for zone, value in ctx.data["v"].items()}
    account = await ctx.uow.accounts.get(account_id)
    if account is None or not await ctx.uow.links.is_linked(ctx.person.id, account_id):
        ctx.reset()
        ctx.say(ctx.t("account.not_yours"), main_menu(ctx.t))
        return
    retry = with_menu(ctx.t, [Button(ctx.t("reading.again"), f"read:{account_id}")])
    try:
        evaluation = await check_reading(ctx.uow, account, values, ctx.now, ctx.rules.readings)
        stored = None
        if confirmed or not evaluation.needs_confirmation:
            photo_id = await keep_photo_evidence(ctx, ctx.data.get("p"))
            evaluation, stored = await submit_reading(
                ctx.uow,
                account,
                values,
                ctx.now,
                ctx.rules.readings,
                _source_of(ctx),
                ctx.identity.id,
                confirmed=True,
                photo_id=photo_id,
            )
    except OutsideReadingWindow as closed:
        ctx.reset()
        ctx.say(
            ctx.t(
                "reading.closed", opens=ctx.t.date(closed.opens), closes=ctx.t.date(closed.closes)
            ),
            main_menu(ctx.t),
        )
        return
    except ReadingBelowPrevious as low:
        _ask_again_below_previous(ctx, low, retry)
        return
    except ReadingTooLong as long:
        ctx.reset()
        ctx.say(ctx.t("reading.too_long", digits=long.digit_count), retry)
        return
    except NoMeter:
        ctx.reset()
        ctx.say(ctx.t("reading.no_meter"), main_menu(ctx.t))
        return
    if stored is None:
        ctx.goto(
            "read.confirm",
            a=account_id,
            zones=ctx.data["zones"],
            v=ctx.data["v"],
            p=ctx.data.get("p"),
        )
        ctx.say(
            _summary(ctx, evaluation) + "\n\n" + ctx.t("reading.confirm_jump"),
            [
                [
                    Button(ctx.t("reading.confirm_yes"), "read!"),
                    Button(ctx.t("reading.confirm_no"), "read?"),
                ],
                [menu_button(ctx.t)],
            ],
        )
        return
    ctx.reset()
    head = ctx.t("reading.replaced") if evaluation.replaces else ctx.t("reading.accepted")
    ctx.say(head + "\n\n" + _summary(ctx, evaluation), main_menu(ctx.t))


def _ask_again_below_previous(
    ctx: Context, low: ReadingBelowPrevious, buttons: list[list[Button]]
) -> None:
    """Say which zone went below its previous value and ask for that zone again."""
    _drop_zone(ctx, low.zone)
    ctx.say(
        ctx.t(
            "reading.below_previous", zone=ctx.t.zone(low.zone), previous=ctx.t.number(low.previous)
        )
        + "\n"
        + zone_prompt(ctx, low.zone, len(ctx.data["zones"])),
        buttons,
    )


def _drop_zone(ctx: Context, zone: Zone) -> None:
    """Ask again for the refused zone, keeping the other zones' values."""
    zones = ctx.data["zones"]
    kept = {name: value for name, value in ctx.data["v"].items() if name != zone.value}
    ctx.goto(
        "read.value",
        a=ctx.data["a"],
        zones=zones,
        v=kept,
        m=ctx.data.get("m", "submit"),
        p=ctx.data.get("p"),
    )


def _summary(ctx: Context, evaluation: ReadingEvaluation) -> str:
    """Per zone: the value, the consumption and its price; then the total charge."""
    lines = []
    prices = {rate.zone: rate.price for rate in evaluation.rates}
    for zone, value in evaluation.values.items():
        lines.append(
            ctx.t(
                "reading.zone_line",
                zone=ctx.t.zone(zone),
                value=ctx.t.number(value),
                kwh=ctx.t.kwh(evaluation.consumption[zone]),
                price=ctx.t.money(prices[zone]),
            )
        )
    if evaluation.rolled_over:
        lines.append(ctx.t("reading.rolled_over"))
    lines.append(
        ctx.t(
            "reading.total",
            kwh=ctx.t.kwh(evaluation.total_kwh),
            charge=ctx.t.money(evaluation.charge),
        )
    )
    return "\n".join(lines)
