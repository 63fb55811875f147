"""core.schedules without a database: slots, intervals, state, diff, reminders, import."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.records import DaySchedule, ScheduleSettings
from core.schedules import (
    ScheduleInvalid,
    ScheduleRules,
    SlotState,
    current_state,
    diff,
    due_reminders,
    hours_off,
    in_quiet_hours,
    intervals,
    is_stale,
    parse_hourly,
    slots_from_intervals,
    transitions,
)
from tests.schedules.conftest import KYIV, MONDAY, SAMPLE

DAY = date(2026, 11, 23)


def _day(spec: list[dict], day: date = DAY, version: int = 1) -> DaySchedule:
    return DaySchedule("3.2", day, slots_from_intervals(spec), MONDAY, version)


def test_community_layout_parses_any_groups() -> None:
    drafts = parse_hourly(SAMPLE.read_text(), KYIV, MONDAY)
    groups = {(d.group, d.day) for d in drafts}
    assert ("12.1", DAY) in groups and ("3.2", date(2026, 11, 24)) in groups
    g32 = next(d for d in drafts if d.group == "3.2" and d.day == DAY)
    assert [i.label() for i in intervals(g32.slots)] == [
        "08:00–12:30",
        "16:00–20:00",
        "20:00–21:00",
    ]
    assert hours_off(g32.slots) == 8.5
    assert g32.published_at == datetime(2026, 11, 23, 6, 10, tzinfo=KYIV)
    with pytest.raises(ScheduleInvalid):
        parse_hourly('{"days": {"2026-11-23": {"1.1": {"1": "sometimes"}}}}', KYIV, MONDAY)


def test_current_state_and_next_change() -> None:
    today = _day([{"from": "08:00", "to": "12:00"}, {"from": "16:00", "to": "18:00"}])
    tomorrow = _day([{"from": "00:00", "to": "02:00"}], DAY + timedelta(days=1))
    days = {DAY: today, DAY + timedelta(days=1): tomorrow}
    at_10 = current_state(days, MONDAY, KYIV)
    assert at_10 is not None and at_10.state == SlotState.OFF
    assert at_10.changes_at == datetime(2026, 11, 23, 12, 0, tzinfo=KYIV)
    at_13 = current_state(days, MONDAY + timedelta(hours=3), KYIV)
    assert at_13 is not None and at_13.becomes == SlotState.OFF
    assert at_13.changes_at == datetime(2026, 11, 23, 16, 0, tzinfo=KYIV)
    at_19 = current_state(days, MONDAY + timedelta(hours=9), KYIV)
    assert at_19 is not None and at_19.changes_at == datetime(2026, 11, 24, 0, 0, tzinfo=KYIV)
    # Nothing published for today: unknown, never "on".
    assert current_state({}, MONDAY, KYIV) is None


def test_diff_says_what_changed() -> None:
    old = slots_from_intervals([{"from": "08:00", "to": "12:00"}])
    new = slots_from_intervals([{"from": "08:00", "to": "10:00"}, {"from": "18:00", "to": "19:00"}])
    assert diff(old, new) == {
        "added": ["off 08:00–10:00", "off 18:00–19:00"],
        "removed": ["off 08:00–12:00"],
    }
    assert diff(old, old) == {"added": [], "removed": []}


def test_reminder_timing_and_quiet_hours() -> None:
    today = _day([{"from": "16:00", "to": "18:00"}])
    moments = transitions(today, None, KYIV)
    assert [(m.at.hour, m.to) for m in moments] == [(16, SlotState.OFF), (18, SlotState.ON)]
    at = datetime(2026, 11, 23, 15, 30, tzinfo=KYIV)
    assert [(m.at.hour, left) for m, left in due_reminders(moments, at)] == [(16, 30)]
    assert due_reminders(moments, at - timedelta(minutes=61)) == []
    quiet = ScheduleSettings(quiet_from=22 * 60, quiet_to=7 * 60)
    assert in_quiet_hours(quiet, datetime(2026, 11, 23, 23, 0, tzinfo=KYIV), KYIV)
    assert in_quiet_hours(quiet, datetime(2026, 11, 23, 6, 59, tzinfo=KYIV), KYIV)
    assert not in_quiet_hours(quiet, datetime(2026, 11, 23, 7, 0, tzinfo=KYIV), KYIV)


def test_freshness() -> None:
    schedule = _day([])
    rules = ScheduleRules(stale_after=timedelta(hours=6))
    assert not is_stale(schedule, MONDAY + timedelta(hours=5), rules)
    assert is_stale(schedule, MONDAY + timedelta(hours=7), rules)
