"""Графік відключень: today and tomorrow for the groups of all my accounts, the current
state, the "as of" time, a timeline picture, and the person's schedule push settings.

Never "відключень немає" without data: a day not published says so, and data the source
has not confirmed for longer than `SCHEDULE_STALE_AFTER_HOURS` (`ctx.rules.schedules`)
carries a warning. Also here: the texts of schedule pushes in every language
(`push_texts`), rendered before the outbox insert.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.handlers.accounts import account_title
from bot.handlers.context import Context
from bot.handlers.router import Router
from bot.i18n import Translator
from bot.menu import main_menu, menu_button
from bot.messages import Attachment, Button
from core.model import Account, OutageKind
from core.records import DaySchedule, ScheduleSettings
from core.schedules import (
    REMINDER_CHOICES,
    SLOTS,
    Interval,
    SlotState,
    current_state,
    hhmm,
    hours_maybe,
    hours_off,
    intervals,
    is_stale,
)

router = Router()

QUIET_CHOICES: tuple[tuple[int, int], ...] = ((22 * 60, 7 * 60), (23 * 60, 8 * 60))
"""Quiet hours offered as buttons: (from, to) minutes of the local day."""

_STATE_NAMES = {"off": SlotState.OFF, "maybe": SlotState.MAYBE}


def _interval_line(t: Translator, interval: Interval) -> str:
    message = (
        "schedule.interval_off" if interval.state == SlotState.OFF else "schedule.interval_maybe"
    )
    return t(message, span=interval.label(), hours=t.hours(interval.minutes / 60))


def day_lines(t: Translator, day: date, schedule: DaySchedule | None, tomorrow: bool) -> list[str]:
    """A day's heading and intervals; "not published yet" when there is no schedule."""
    heading = t("schedule.tomorrow" if tomorrow else "schedule.today", date=t.date(day))
    if schedule is None:
        return [heading, t("schedule.not_published")]
    lines = [heading]
    found = intervals(schedule.slots)
    if not found:
        # The source published this day with every slot on: that is data, not a guess.
        lines.append(t("schedule.all_on"))
    lines += [_interval_line(t, interval) for interval in found]
    lines.append(t("schedule.total_off", hours=t.hours(hours_off(schedule.slots))))
    if hours_maybe(schedule.slots):
        lines.append(t("schedule.total_maybe", hours=t.hours(hours_maybe(schedule.slots))))
    return lines


def _when(t: Translator, moment: datetime, today: date, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    text = local.strftime("%H:%M")
    if local.date() != today:
        text = t("schedule.tomorrow_at", time=text)
    return text


def state_line(
    t: Translator, schedules: Mapping[date, DaySchedule], now: datetime, zone: tzinfo
) -> str | None:
    """ "Зараз світло є, вимкнуть о 16:00" (None when today is not published)."""
    state = current_state(schedules, now, zone)
    if state is None:
        return None
    name = state.state.name.lower()
    if state.changes_at is None or state.becomes is None:
        return t(f"schedule.now.{name}.unknown")
    becomes = "off" if state.becomes == SlotState.OFF else "on"
    if state.state == SlotState.ON and state.becomes == SlotState.MAYBE:
        becomes = "maybe"
    when = _when(t, state.changes_at, now.astimezone(zone).date(), zone)
    return t(f"schedule.now.{name}.{becomes}", time=when)


async def _schedules_of(
    ctx: Context, accounts: list[Account]
) -> tuple[dict[str, list[Account]], dict[str, dict[date, DaySchedule]], date]:
    zone = ctx.rules.readings.zone
    today = ctx.now.astimezone(zone).date()
    groups: dict[str, list[Account]] = {}
    for account in accounts:
        if account.outage_group:
            groups.setdefault(account.outage_group, []).append(account)
    found: dict[str, dict[date, DaySchedule]] = {group: {} for group in groups}
    if groups:
        days = [today, today + timedelta(days=1)]
        for schedule in await ctx.uow.schedules.latest_for_days(days, sorted(groups)):
            found[schedule.group][schedule.day] = schedule
    return groups, found, today


@router.action("sched", commands=("schedule",))
async def schedule(ctx: Context, argument: str) -> None:
    """Today and tomorrow for the groups of every linked account."""
    ctx.reset()
    t = ctx.t
    zone = ctx.rules.readings.zone
    accounts = list(ctx.accounts)
    if not accounts:
        ctx.say(t("schedule.no_accounts"), main_menu(t, has_accounts=False))
        return
    groups, found, today = await _schedules_of(ctx, accounts)
    lines = [t("schedule.title")]
    for group, members in sorted(groups.items()):
        days = found[group]
        lines.append("")
        lines.append(
            t(
                "schedule.group",
                group=group,
                accounts=", ".join(account_title(ctx, a) for a in members),
            )
        )
        now_line = state_line(t, days, ctx.now, zone)
        if now_line:
            lines.append(now_line)
        for offset in (0, 1):
            day = today + timedelta(days=offset)
            lines += day_lines(t, day, days.get(day), tomorrow=offset == 1)
        if days:
            newest = max(days.values(), key=lambda s: s.as_of)
            as_of = t.moment(newest.as_of.astimezone(zone))
            stale = is_stale(newest, ctx.now, ctx.rules.schedules)
            lines.append(t("schedule.stale" if stale else "schedule.as_of", time=as_of))
    # Planned and emergency outages are kept apart from the schedule, but shown beside it.
    found_outages = {}  # an outage at the address of two accounts is one outage
    for account in accounts:
        for outage in await ctx.uow.outages.affecting(account, ctx.now):
            found_outages[outage.id] = outage.kind
    kinds = Counter(found_outages.values())
    if kinds:
        counts = [
            t.n(f"count.outages.{kind.value}", kinds[kind])
            for kind in (OutageKind.EMERGENCY, OutageKind.PLANNED)
            if kinds[kind]
        ]
        outages = counts[0] if len(counts) == 1 else t("fmt.and", first=counts[0], second=counts[1])
        lines.append("")
        message = "schedule.outages_also_many" if len(accounts) > 1 else "schedule.outages_also"
        lines.append(t(message, outages=outages))
    without = [a for a in accounts if not a.outage_group]
    if without:
        lines.append("")
        lines.append(
            t("schedule.no_group", accounts=", ".join(account_title(ctx, a) for a in without))
        )
    # A picture only of what is published: with nothing published there is nothing to draw.
    first = [Button(t("schedule.outages"), "out")]
    if any(found.values()):
        first.insert(0, Button(t("schedule.picture"), "schpng"))
    buttons = [first, [Button(t("schedule.settings_button"), "schset"), menu_button(t)]]
    ctx.say("\n".join(lines), buttons)


@router.action("schpng")
async def picture(ctx: Context, argument: str) -> None:
    """The published days of every group as a timeline PNG, with a "now" marker.

    Days not published are named in the text, never drawn as empty bars; with nothing
    published there is no picture at all.
    """
    ctx.reset()
    t = ctx.t
    zone = ctx.rules.readings.zone
    accounts = list(ctx.accounts)
    groups, found, today = await _schedules_of(ctx, accounts)
    if not accounts:
        ctx.say(t("schedule.no_accounts"), main_menu(t, has_accounts=False))
        return
    if not groups:
        titles = ", ".join(account_title(ctx, a) for a in accounts)
        ctx.say(t("schedule.no_group", accounts=titles), main_menu(t))
        return
    local = ctx.now.astimezone(zone)
    now_hour = local.hour + local.minute / 60
    rows: list[TimelineRow] = []
    missing: list[str] = []
    for group in sorted(groups):
        for offset in (0, 1):
            day = today + timedelta(days=offset)
            label = f"{group} · {day.strftime('%d.%m')}"
            schedule = found[group].get(day)
            if schedule is None:
                missing.append(label)
            else:
                rows.append(TimelineRow(label, schedule.slots, now_hour if offset == 0 else None))
    back = [[Button(t("schedule.back"), "sched"), menu_button(t)]]
    if not rows:
        ctx.say(t("schedule.picture_none"), back)
        return
    legend = TimelineLegend(
        off=t("schedule.legend.off"),
        maybe=t("schedule.legend.maybe"),
        on=t("schedule.legend.on"),
        now=t("schedule.legend.now", time=local.strftime("%H:%M")),
    )
    # matplotlib blocks for a moment: off the event loop.
    image = await asyncio.to_thread(render_timeline_png, t("schedule.title"), rows, legend)
    lines = [t("schedule.picture_caption")]
    if missing:
        lines.append(t("schedule.picture_missing", days=", ".join(missing)))
    ctx.say("\n".join(lines), back, image=Attachment("grafik.png", image, "image/png"))


@dataclass(frozen=True)
class TimelineRow:
    """One bar: a group's published day, and the hour of "now" when it is today."""

    label: str
    slots: str
    now_hour: float | None = None


@dataclass(frozen=True)
class TimelineLegend:
    """The legend's words: the three states of a slot, and the "now" marker."""

    off: str
    maybe: str
    on: str
    now: str


_COLOURS = {SlotState.OFF: "#263238", SlotState.MAYBE: "#ffb300", SlotState.ON: "#a5d6a7"}
_NOW_COLOUR = "#d32f2f"


def render_timeline_png(title: str, rows: list[TimelineRow], legend: TimelineLegend) -> bytes:
    """One bar per published (group, day): off dark, possible amber, on green; a red line
    marks now on today's bars; 24 h axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loads only when drawing
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = Figure(figsize=(9, 1.4 + 0.5 * len(rows)), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    marked = False
    for position, row in enumerate(reversed(rows)):
        for index in range(SLOTS):
            colour = _COLOURS[SlotState(row.slots[index])]
            axes.broken_barh([(index / 2, 0.5)], (position - 0.35, 0.7), facecolors=colour)
        if row.now_hour is not None:
            axes.plot(
                [row.now_hour, row.now_hour],
                [position - 0.48, position + 0.48],
                color=_NOW_COLOUR,
                linewidth=2.5,
            )
            marked = True
    axes.set_yticks(range(len(rows)), [row.label for row in reversed(rows)])
    axes.set_xticks(range(0, 25, 2), [hhmm(h * 60) for h in range(0, 25, 2)], fontsize=8)
    axes.set_xlim(0, 24)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    handles: list[Patch | Line2D] = [
        Patch(facecolor=_COLOURS[SlotState.OFF], label=legend.off),
        Patch(facecolor=_COLOURS[SlotState.MAYBE], label=legend.maybe),
        Patch(facecolor=_COLOURS[SlotState.ON], label=legend.on),
    ]
    if marked:
        handles.append(Line2D([], [], color=_NOW_COLOUR, linewidth=2.5, label=legend.now))
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=len(handles),
        frameon=False,
        fontsize=8,
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _quiet_label(t: Translator, settings: ScheduleSettings) -> str:
    if settings.quiet_from is None or settings.quiet_to is None:
        return t("schedule.quiet.none")
    return f"{hhmm(settings.quiet_from)}–{hhmm(settings.quiet_to)}"


@router.action("schset")
async def schedule_settings(ctx: Context, argument: str) -> None:
    """Reminder lead (off/15/30/60), a reminder before power returns, quiet hours.

    `schset:r30` sets the lead, `schset:on` toggles the return reminder, `schset:q1320-420`
    sets quiet hours (minutes of the day), `schset:q` clears them.
    """
    ctx.reset()
    t = ctx.t
    current = await ctx.uow.schedules.settings(ctx.person.id)
    changed = _apply(current, argument)
    if changed is not None and changed != current:
        await ctx.uow.schedules.save_settings(ctx.person.id, changed)
        current = changed
    lead = _lead(t, current.remind_minutes)
    text = t(
        "schedule.settings",
        reminder=lead,
        on=t("schedule.yes") if current.remind_on else t("schedule.no"),
        quiet=_quiet_label(t, current),
    )
    leads = [
        Button(
            _chosen(_lead(t, m), m == current.remind_minutes),
            f"schset:r{m}",
        )
        for m in REMINDER_CHOICES
    ]
    no_quiet = current.quiet_from is None
    quiet = [Button(_chosen(t("schedule.quiet.none"), no_quiet), "schset:q")] + [
        Button(
            _chosen(
                f"{hhmm(low)}–{hhmm(high)}",
                (current.quiet_from, current.quiet_to) == (low, high),
            ),
            f"schset:q{low}-{high}",
        )
        for low, high in QUIET_CHOICES
    ]
    toggle = t("schedule.remind_on.disable" if current.remind_on else "schedule.remind_on.enable")
    ctx.say(
        text,
        [
            leads[:2],
            leads[2:],
            [Button(toggle, "schset:on")],
            quiet,
            [Button(t("schedule.back"), "sched"), menu_button(t)],
        ],
    )


def _lead(t: Translator, minutes: int) -> str:
    """How long before an outage the reminder comes: "за 30 хвилин", or off."""
    if minutes == 0:
        return t("schedule.reminder.off")
    return t("schedule.reminder.minutes", minutes=t.n("count.minutes", minutes))


def _chosen(label: str, chosen: bool) -> str:
    """A choice's label as a button (capital first), ticked when it is the one in force."""
    label = label[:1].upper() + label[1:]
    return f"✓ {label}" if chosen else label


def _apply(current: ScheduleSettings, argument: str) -> ScheduleSettings | None:
    """The settings a button asks for; None for no (or an unknown) change."""
    if argument.startswith("r") and argument[1:].isdigit():
        minutes = int(argument[1:])
        if minutes in REMINDER_CHOICES:
            return ScheduleSettings(
                minutes, current.remind_on, current.quiet_from, current.quiet_to
            )
    elif argument == "on":
        return ScheduleSettings(
            current.remind_minutes, not current.remind_on, current.quiet_from, current.quiet_to
        )
    elif argument == "q":
        return ScheduleSettings(current.remind_minutes, current.remind_on, None, None)
    elif argument.startswith("q"):
        low, _, high = argument[1:].partition("-")
        if low.isdigit() and high.isdigit() and (int(low), int(high)) in QUIET_CHOICES:
            return ScheduleSettings(current.remind_minutes, current.remind_on, int(low), int(high))
    return None
