"""Hourly outage schedules by group ("черга" 3.2): the model and its rules, pure.

A schedule is one group's day as 48 half-hour slots, each off / possible / on, written as
a 48-character string ("-" off, "?" possible, "+" on) so that storing, comparing and
diffing two versions is comparing two strings. Slots are local wall-clock half hours of
the business zone (Europe/Kyiv); moments are made timezone-aware only where needed.

A group's day has versions: publishing the same slots again changes nothing (it only
confirms the data is fresh); different slots make a new version. Pushes are keyed by
(group, day, version), so each reaches a person once per version.

Also here: merging slots into readable intervals, the current state ("світло є, вимкнуть
о 16:00"), freshness, the diff between versions, reminder timing, quiet hours, and the
parser of the hourly yes/no/maybe-per-group layout community data sets use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from core.errors import DomainError
from core.ports import AbstractUnitOfWork
from core.records import DaySchedule, ScheduleSettings

SLOTS = 48
SLOT = timedelta(minutes=30)
REMINDER_CHOICES = (0, 15, 30, 60)
"""Minutes before power goes off a person may be reminded; 0 is off."""
MAX_REMINDER = max(REMINDER_CHOICES)


class SlotState(StrEnum):
    """What a half hour holds, as the character stored for it."""

    OFF = "-"
    MAYBE = "?"
    ON = "+"


class ScheduleInvalid(DomainError):
    """A schedule that makes no sense: wrong slot count, unknown states, no group."""


@dataclass(frozen=True)
class ScheduleDraft:
    """What an operator or an import publishes for one group and day."""

    group: str
    day: date
    slots: str
    published_at: datetime


@dataclass(frozen=True)
class Interval:
    """A run of equal non-"on" slots: [start, end) in minutes of the day (end ≤ 1440)."""

    start: int
    end: int
    state: SlotState

    @property
    def minutes(self) -> int:
        """Its length in minutes."""
        return self.end - self.start

    def label(self) -> str:
        """ "08:00–12:00" (the day's end is 24:00)."""
        return f"{hhmm(self.start)}–{hhmm(self.end)}"


@dataclass(frozen=True)
class ScheduleRules:
    """How old the source's data may be before every answer warns about it."""

    stale_after: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class CurrentState:
    """Now: the state, and when it next changes to what (None: not within the data)."""

    state: SlotState
    changes_at: datetime | None = None
    becomes: SlotState | None = None


@dataclass(frozen=True)
class Transition:
    """A moment power goes off (`to` OFF) or comes back (`to` ON) in a group's day."""

    at: datetime
    to: SlotState
    minute: int  # minute of the local day, for the event name


@dataclass
class PublishOutcome:
    """What a publication did: versions created, identical ones only confirmed, pushes."""

    created: list[DaySchedule] = field(default_factory=list)
    unchanged: list[DaySchedule] = field(default_factory=list)
    queued: int = 0


def hhmm(minute: int) -> str:
    """Minutes of the day as "HH:MM" (1440 is "24:00")."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def validate(draft: ScheduleDraft) -> ScheduleDraft:
    """The draft with a trimmed group; raises ScheduleInvalid on nonsense."""
    group = draft.group.strip()
    if not group or len(group) > 20:
        raise ScheduleInvalid("a group is 1 to 20 characters")
    if len(draft.slots) != SLOTS:
        raise ScheduleInvalid(f"a day has {SLOTS} half-hour slots, got {len(draft.slots)}")
    known = {state.value for state in SlotState}
    if set(draft.slots) - known:
        raise ScheduleInvalid("slots are '-' (off), '?' (possible) or '+' (on)")
    if draft.published_at.tzinfo is None:
        raise ScheduleInvalid("the publication time must be timezone-aware")
    return ScheduleDraft(group, draft.day, draft.slots, draft.published_at)


def slots_from_intervals(intervals: Iterable[Mapping[str, Any]]) -> str:
    """Slots from [{"from": "08:00", "to": "12:30", "state": "off"|"maybe"}]; the rest on.

    Times fall on half hours; "24:00" ends the day.
    """
    slots = [SlotState.ON.value] * SLOTS
    names = {"off": SlotState.OFF, "maybe": SlotState.MAYBE, "possible": SlotState.MAYBE}
    for interval in intervals:
        state = names.get(str(interval.get("state", "off")))
        if state is None:
            raise ScheduleInvalid(f"unknown state {interval.get('state')!r}")
        start, end = _minute(interval["from"]), _minute(interval["to"])
        if end <= start:
            raise ScheduleInvalid(f"{interval['from']}–{interval['to']} ends before it starts")
        for index in range(start // 30, end // 30):
            slots[index] = state.value
    return "".join(slots)


def _minute(text: str) -> int:
    try:
        hours, minutes = (int(part) for part in str(text).split(":"))
    except ValueError as error:
        raise ScheduleInvalid(f"not a time: {text!r}") from error
    minute = hours * 60 + minutes
    if minute % 30 or not 0 <= minute <= 24 * 60:
        raise ScheduleInvalid(f"times fall on half hours within the day: {text!r}")
    return minute


def intervals(slots: str) -> list[Interval]:
    """Runs of off and possible slots, merged ("08:00–12:00 без світла")."""
    found: list[Interval] = []
    start = 0
    for index in range(1, SLOTS + 1):
        if index < SLOTS and slots[index] == slots[start]:
            continue
        state = SlotState(slots[start])
        if state != SlotState.ON:
            found.append(Interval(start * 30, index * 30, state))
        start = index
    return found


def hours_off(slots: str) -> float:
    """Hours surely off in the day (possible ones not counted)."""
    return slots.count(SlotState.OFF.value) / 2


def hours_maybe(slots: str) -> float:
    """Hours possibly off in the day."""
    return slots.count(SlotState.MAYBE.value) / 2


def slot_start(day: date, index: int, zone: tzinfo) -> datetime:
    """The aware moment slot `index` of a local day starts (index 48: the next midnight)."""
    if index >= SLOTS:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(day, time(index // 2, (index % 2) * 30), tzinfo=zone)


def current_state(
    schedules: Mapping[date, DaySchedule], now: datetime, zone: tzinfo
) -> CurrentState | None:
    """The state now and its next change, from a group's days (today's must be there).

    None when today's schedule is not published: the state is unknown, never "on".
    """
    local = now.astimezone(zone)
    today = schedules.get(local.date())
    if today is None:
        return None
    index = (local.hour * 60 + local.minute) // 30
    state = SlotState(today.slots[index])
    for day, offset in ((local.date(), index + 1), (local.date() + timedelta(days=1), 0)):
        schedule = schedules.get(day)
        if schedule is None:
            return CurrentState(state)
        for position in range(offset, SLOTS):
            if schedule.slots[position] != state.value:
                return CurrentState(
                    state, slot_start(day, position, zone), SlotState(schedule.slots[position])
                )
    return CurrentState(state)


def is_stale(schedule: DaySchedule, now: datetime, rules: ScheduleRules) -> bool:
    """Whether the source has not confirmed this schedule for longer than allowed."""
    return now - schedule.as_of > rules.stale_after


def diff(old: str, new: str) -> dict[str, list[str]]:
    """What changed in a group's day: {"added": [...], "removed": [...]} as interval labels
    with their state ("off 08:00–10:00"); empty lists when the slots are equal."""
    before = {(i.state.name.lower(), i.label()) for i in intervals(old)}
    after = {(i.state.name.lower(), i.label()) for i in intervals(new)}
    return {
        "added": [f"{s} {label}" for s, label in sorted(after - before, key=_by_start)],
        "removed": [f"{s} {label}" for s, label in sorted(before - after, key=_by_start)],
    }


def _by_start(item: tuple[str, str]) -> str:
    return item[1]


def transitions(
    schedule: DaySchedule, previous: DaySchedule | None, zone: tzinfo
) -> list[Transition]:
    """Moments of the day power goes off (from on/possible to off) and comes back (from off
    to on/possible). The day's first slot compares with the previous day's last (unknown
    previous day: a day starting off counts as going off at midnight)."""
    found: list[Transition] = []
    last = previous.slots[-1] if previous is not None else SlotState.ON.value
    for index, slot in enumerate(schedule.slots):
        was_off, is_off = last == SlotState.OFF.value, slot == SlotState.OFF.value
        if is_off != was_off:
            to = SlotState.OFF if is_off else SlotState.ON
            found.append(Transition(slot_start(schedule.day, index, zone), to, index * 30))
        last = slot
    return found


def due_reminders(
    transitions_ahead: Sequence[Transition], now: datetime
) -> list[tuple[Transition, int]]:
    """(transition, minutes until it) for those within the longest reminder lead.

    A person with lead N is reminded at the first tick with minutes-until ≤ N: so a
    30-minute reminder fires at T−30 exactly when the scheduler ticks each minute, and a
    late tick still reminds (once, by the outbox key) while T is ahead.
    """
    found = []
    for transition in transitions_ahead:
        seconds = (transition.at - now).total_seconds()
        if 0 < seconds <= MAX_REMINDER * 60:
            found.append((transition, int(-(-seconds // 60))))
    return found


def in_quiet_hours(settings: ScheduleSettings, now: datetime, zone: tzinfo) -> bool:
    """Whether `now` falls in the person's quiet hours (which may span midnight)."""
    if settings.quiet_from is None or settings.quiet_to is None:
        return False
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    low, high = settings.quiet_from, settings.quiet_to
    if low == high:
        return False
    if low < high:
        return low <= minute < high
    return minute >= low or minute < high


def subject_of(group: str, day: date) -> str:
    """The outbox subject of a group's day (a new version withdraws unsent older pushes)."""
    return f"sched:{group}:{day.isoformat()}"


def reminder_subject(group: str, day: date) -> str:
    """Reminders' own subject: a new version must not withdraw them (their event is the
    moment, not the version, and a withdrawn row would keep its key)."""
    return f"schedrem:{group}:{day.isoformat()}"


# --- the community layout -----------------------------------------------------------------

_HOURLY = {
    # value: (first half hour, second half hour)
    "yes": (SlotState.ON, SlotState.ON),
    "no": (SlotState.OFF, SlotState.OFF),
    "maybe": (SlotState.MAYBE, SlotState.MAYBE),
    "first": (SlotState.OFF, SlotState.ON),
    "second": (SlotState.ON, SlotState.OFF),
    "mfirst": (SlotState.MAYBE, SlotState.ON),
    "msecond": (SlotState.ON, SlotState.MAYBE),
}


def parse_hourly(text: str, zone: tzinfo, received_at: datetime) -> list[ScheduleDraft]:
    """Drafts from the hourly yes/no/maybe-per-group layout of community data sets.

    ```
    {"updated": "2026-11-27T06:10:00+02:00",          # optional; else `received_at`
     "days": {"2026-11-27": {"GPV3.2": {"1": "yes", "2": "no", ..., "24": "maybe"}}}}
    ```
    Days may also be keyed by a Unix timestamp of the local midnight; group names lose a
    "GPV" prefix; hour "1" is 00:00–01:00. "first"/"second" mean off in the first/second
    half hour, "mfirst"/"msecond" possibly off. Any number of groups and days.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScheduleInvalid(f"not JSON: {error}") from error
    return parse_hourly_document(document, zone, received_at)


def parse_hourly_document(
    document: Any, zone: tzinfo, received_at: datetime
) -> list[ScheduleDraft]:
    """`parse_hourly` of an already decoded document."""
    if not isinstance(document, dict):
        raise ScheduleInvalid("the document is a JSON object")
    days = document.get("days") or document.get("data")
    if not isinstance(days, dict):
        raise ScheduleInvalid('no "days" object')
    published = received_at
    if document.get("updated"):
        try:
            published = datetime.fromisoformat(str(document["updated"]))
        except ValueError as error:
            raise ScheduleInvalid(f"bad updated time {document['updated']!r}") from error
        if published.tzinfo is None:
            published = published.replace(tzinfo=zone)
    drafts = []
    for day_key, groups in days.items():
        day = _day(day_key, zone)
        if not isinstance(groups, dict):
            raise ScheduleInvalid(f"day {day_key}: groups are an object")
        for name, hours in groups.items():
            group = str(name).removeprefix("GPV").strip()
            drafts.append(validate(ScheduleDraft(group, day, _hourly_slots(hours), published)))
    return drafts


def _day(key: str, zone: tzinfo) -> date:
    try:
        if str(key).isdigit():
            return datetime.fromtimestamp(int(key), zone).date()
        return date.fromisoformat(str(key))
    except (ValueError, OverflowError, OSError) as error:
        raise ScheduleInvalid(f"not a day: {key!r}") from error


def _hourly_slots(hours: Any) -> str:
    if not isinstance(hours, dict):
        raise ScheduleInvalid("a group's hours are an object")
    slots: list[str] = []
    for hour in range(1, 25):
        value = str(hours.get(str(hour), "")).strip().lower()
        if value not in _HOURLY:
            raise ScheduleInvalid(f"hour {hour}: {value or 'missing'!r} is not yes/no/maybe")
        slots.extend(state.value for state in _HOURLY[value])
    return "".join(slots)


# --- services: publishing and reminders through the outbox -----------------------------------

PushTexts = Callable[[dict], Mapping[str, str]]
"""Renders a push's neutral facts into {locale: text} (the bot's catalogues)."""


class SchedulePushKind:
    """`facts["kind"]` of schedule pushes."""

    PUBLISHED = "schedule.published"
    CHANGED = "schedule.changed"
    REMIND_OFF = "schedule.remind_off"
    REMIND_ON = "schedule.remind_on"


def facts_of(schedule: DaySchedule) -> dict:
    """A schedule as neutral push facts."""
    return {
        "group": schedule.group,
        "day": schedule.day.isoformat(),
        "version": schedule.version,
        "intervals": [
            {"from": hhmm(i.start), "to": hhmm(i.end), "state": i.state.name.lower()}
            for i in intervals(schedule.slots)
        ],
        "hours_off": hours_off(schedule.slots),
        "published_at": schedule.published_at.isoformat(),
    }


async def publish_schedules(
    uow: AbstractUnitOfWork,
    drafts: Sequence[ScheduleDraft],
    now: datetime,
    zone: tzinfo,
    texts: PushTexts,
) -> PublishOutcome:
    """Store schedules of any groups and days; queue pushes for real changes only.

    The same slots again only confirm the data is fresh (no new version, no push). New
    slots make a new version: the first version of today or a later day is pushed as
    published ("графік на завтра"), a later version as changed, saying what changed, to
    the people whose accounts are in that group; unsent pushes of older versions are
    withdrawn. Past days are stored but never pushed. All in the caller's transaction.
    """
    outcome = PublishOutcome()
    today = now.astimezone(zone).date()
    for draft in (validate(d) for d in drafts):
        latest = await uow.schedules.latest(draft.group, draft.day)
        if latest is not None and latest.slots == draft.slots:
            if draft.published_at > latest.as_of:
                await uow.schedules.confirm(latest, draft.published_at)
            outcome.unchanged.append(latest)
            continue
        stored = await uow.schedules.add(
            DaySchedule(
                draft.group,
                draft.day,
                draft.slots,
                draft.published_at,
                version=latest.version + 1 if latest else 1,
                confirmed_at=draft.published_at,
            )
        )
        outcome.created.append(stored)
        if draft.day < today:
            continue
        subject = subject_of(stored.group, stored.day)
        await uow.outbox.supersede_pending(subject, now)
        facts = {"kind": SchedulePushKind.PUBLISHED, **facts_of(stored)}
        if latest is not None:
            facts["kind"] = SchedulePushKind.CHANGED
            facts["changes"] = diff(latest.slots, stored.slots)
        facts["tomorrow"] = stored.day == today + timedelta(days=1)
        outcome.queued += await uow.schedules.enqueue_group(
            stored.group,
            event=f"{subject}:v{stored.version}",
            subject=subject,
            texts=texts(facts),
            now=now,
        )
    return outcome


async def queue_schedule_reminders(
    uow: AbstractUnitOfWork, now: datetime, zone: tzinfo, texts: PushTexts
) -> int:
    """Reminders due now, set-based: per (group, moment) one insert for everyone whose
    lead covers the time left, who is not in quiet hours, and has not had it yet.

    Called every minute. Quiet hours hold a reminder: it goes out at the first tick after
    they end, if the moment is still ahead (and never after it).
    """
    local_today = now.astimezone(zone).date()
    days = [local_today + timedelta(days=offset) for offset in (-1, 0, 1)]
    by_group: dict[str, dict[date, DaySchedule]] = {}
    for schedule in await uow.schedules.latest_for_days(days):
        by_group.setdefault(schedule.group, {})[schedule.day] = schedule
    queued = 0
    for group, group_days in sorted(by_group.items()):
        ahead: list[Transition] = []
        for day in days[1:]:
            if day in group_days:
                previous = group_days.get(day - timedelta(days=1))
                ahead += transitions(group_days[day], previous, zone)
        for transition, minutes_left in due_reminders(ahead, now):
            later = [t for t in ahead if t.at > transition.at and t.to != transition.to]
            kind = (
                SchedulePushKind.REMIND_OFF
                if transition.to == SlotState.OFF
                else SchedulePushKind.REMIND_ON
            )
            day = transition.at.astimezone(zone).date()
            facts = {
                "kind": kind,
                "group": group,
                "at": transition.at.isoformat(),
                "until": later[0].at.isoformat() if later else None,
                "minutes": minutes_left,
            }
            subject = reminder_subject(group, day)
            queued += await uow.schedules.enqueue_reminder(
                group,
                event=f"{subject}:{transition.to.name.lower()}:{hhmm(transition.minute)}",
                subject=subject,
                texts=texts(facts),
                now=now,
                minutes_left=minutes_left,
                before_on=transition.to == SlotState.ON,
                local_minute=_local_minute(now, zone),
            )
    return queued


def _local_minute(now: datetime, zone: tzinfo) -> int:
    local = now.astimezone(zone)
    return local.hour * 60 + local.minute
