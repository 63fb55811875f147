"""core.schedules' services on the in-memory fakes: only the changed group's people are
told, a replay tells no one, reminders honour lead and quiet hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import ScheduleSettings
from core.schedules import (
    ScheduleDraft,
    publish_schedules,
    queue_schedule_reminders,
    slots_from_intervals,
)
from tests.pushes.test_core_with_fakes import world
from tests.schedules.conftest import KYIV

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=KYIV)


def texts(facts: dict) -> dict[str, str]:
    return {"uk": f"{facts['kind']} {facts['group']}", "en": f"EN {facts['kind']}"}


def draft(group: str, start: str, end: str) -> ScheduleDraft:
    return ScheduleDraft(group, NOW.date(), slots_from_intervals([{"from": start, "to": end}]), NOW)


async def test_change_replay_and_reminders() -> None:
    factory, people = world()  # p0 in 3.2, p1 in 1.1
    async with factory() as uow:
        first = await publish_schedules(
            uow, [draft("3.2", "16:00", "18:00"), draft("1.1", "12:00", "14:00")], NOW, KYIV, texts
        )
        assert first.queued == 2
        again = await publish_schedules(uow, [draft("3.2", "16:00", "18:00")], NOW, KYIV, texts)
        assert again.queued == 0 and len(again.unchanged) == 1
        changed = await publish_schedules(uow, [draft("3.2", "17:00", "18:00")], NOW, KYIV, texts)
        assert changed.queued == 1
        rows = uow.outbox.rows  # type: ignore[attr-defined]
        assert [p for (event, p) in rows if event.endswith(":v2")] == [people["p0"]]
        assert rows[("sched:3.2:2026-11-23:v2", people["p0"])].payload["text"] == (
            "schedule.changed 3.2"
        )
        await uow.schedules.save_settings(
            people["p1"], ScheduleSettings(remind_minutes=15, quiet_from=0, quiet_to=11 * 60)
        )
        # 1.1 goes off at 12:00: p1's 15-minute lead is due at 11:45, not 11:44.
        assert (
            await queue_schedule_reminders(uow, NOW.replace(hour=11, minute=44), KYIV, texts) == 0
        )
        assert (
            await queue_schedule_reminders(uow, NOW.replace(hour=11, minute=45), KYIV, texts) == 1
        )
        # 3.2 goes off at 17:00; p0 (default 30 min) at 16:30, once.
        at = NOW.replace(hour=16, minute=30)
        assert await queue_schedule_reminders(uow, at, KYIV, texts) == 1
        assert await queue_schedule_reminders(uow, at + timedelta(minutes=1), KYIV, texts) == 0
