"""Schedules end to end on the console with a frozen clock: import → chat answer, pushes
only on real change of one's own group, re-import silent, reminders once at the right
minute, quiet hours, stale and missing data; SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from app.compose import App, build_app
from app.settings import load_settings
from bot.channels.console import ConsoleChannel
from bot.messages import Incoming
from bot.pushes import PushRenderer, push_texts
from core.clock import FrozenClock
from core.model import Channel, OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from core.records import ScheduleSettings
from core.schedules import (
    ScheduleDraft,
    parse_hourly,
    publish_schedules,
    queue_schedule_reminders,
    slots_from_intervals,
)
from scheduler.delivery import DeliveryWorkers
from storage.outbox import OutboxQueue
from tests.pushes.conftest import outbox_rows
from tests.pushes.world import Builder
from tests.schedules.conftest import KYIV, MONDAY, SAMPLE


class Console:
    """A console adapter on a buffer and a worker delivering to it."""

    def __init__(self, app: App) -> None:
        self.out = io.StringIO()
        self.channel = ConsoleChannel(app.handle, "me", stdout=self.out)
        self.workers = DeliveryWorkers(
            OutboxQueue(app.engine, "schedule-test"),
            {Channel.CONSOLE: self.channel},  # type: ignore[dict-item]
            PushRenderer(app.uow_factory, app.catalogues, KYIV),
            app.uow_factory,
        )

    async def deliver(self) -> str:
        start = len(self.out.getvalue())
        await self.workers.run_once(Channel.CONSOLE)
        return self.out.getvalue()[start:]


async def ask(app: App, payload: str, user: str = "me") -> str:
    replies = await app.handle(Incoming(Channel.CONSOLE, user, payload=payload))
    return "\n".join(reply.text for reply in replies)


async def publish(app: App, drafts: list[ScheduleDraft]) -> int:
    async with app.uow_factory() as uow:
        outcome = await publish_schedules(
            uow, drafts, app.clock.now(), KYIV, push_texts(app.catalogues, KYIV)
        )
        await uow.commit()
    return outcome.queued


async def remind(app: App) -> int:
    async with app.uow_factory() as uow:
        count = await queue_schedule_reminders(
            uow, app.clock.now(), KYIV, push_texts(app.catalogues, KYIV)
        )
        await uow.commit()
    return count


def clock(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


async def test_missing_then_import_then_display(app: App, world: Builder) -> None:
    before = await ask(app, "sched")
    assert "Ваша черга: 3.2" in before
    assert before.count("графік ще не опубліковано") == 2
    assert "відключень немає" not in before
    drafts = parse_hourly(SAMPLE.read_text(), KYIV, MONDAY)
    # today's and tomorrow's schedule of each group with people: 3.2, 3.1 (two each), 12.1
    assert await publish(app, drafts) == 5
    text = await ask(app, "sched")
    assert "Сьогодні, 23.11.2026:" in text and "Завтра, 24.11.2026:" in text
    assert "08:00–12:30 без світла, 4,5 години" in text
    assert "20:00–21:00 можливе відключення, 1 година" in text
    assert "Разом без світла: 8,5 години" in text
    assert "Зараз світла немає, увімкнуть о 12:30." in text
    assert "Дані оновлено 23.11.2026 о 06:10." in text
    # Late in the evening nothing confirmed the data for more than 12 hours.
    clock(app).set(datetime(2026, 11, 23, 19, 0, tzinfo=KYIV))
    late = await ask(app, "sched")
    assert "Дані оновлено 23.11.2026 о 06:10, можуть бути застарілими." in late
    assert "Зараз світла немає, увімкнуть о 20:00." in late
    # A planned outage of the account's group is shown beside the schedule.
    async with app.uow_factory() as uow:
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.PLANNED,
                world.world.dso_id,
                clock(app).now() + timedelta(days=2),
                clock(app).now() + timedelta(days=2, hours=3),
                "Ремонт",
                (OutageTarget(outage_group="3.2"),),
            ),
            clock(app).now(),
        )
        await uow.commit()
    assert "є ще 1 планове відключення — деталі в «Аварійні та планові»" in await ask(app, "sched")
    # Pushes are rendered in every language; an English reader gets English.
    facts = {
        "kind": "schedule.remind_off",
        "group": "3.2",
        "at": "2026-11-23T16:00:00+02:00",
        "until": "2026-11-23T20:00:00+02:00",
        "minutes": 30,
    }
    texts = push_texts(app.catalogues, KYIV)(facts)
    assert texts["en"] == (
        "Group 3.2: power goes off in 30 minutes, at 16:00.\n"
        "By the schedule it comes back at 20:00."
    )
    assert texts["uk"].startswith("Черга 3.2: через 30 хвилин, о 16:00, світло вимкнуть.")


async def test_the_staleness_setting_changes_the_answer(
    app: App, world: Builder, database_url: str
) -> None:
    """SCHEDULE_STALE_AFTER_HOURS reaches the chat: data confirmed at 06:10 is fresh at
    10:00 under the default 12 hours, and marked possibly out of date under 3."""
    assert await publish(app, parse_hourly(SAMPLE.read_text(), KYIV, MONDAY)) == 5
    fresh = await ask(app, "sched")
    assert "Дані оновлено 23.11.2026 о 06:10." in fresh and "застарілими" not in fresh
    settings = load_settings(
        database_url=database_url, ocr_workers=0, kabinet_now=None, schedule_stale_after_hours=3
    )
    strict = await build_app(settings, clock=FrozenClock(MONDAY))
    try:
        stale = await ask(strict, "sched")
    finally:
        await strict.close()
    assert "Дані оновлено 23.11.2026 о 06:10, можуть бути застарілими." in stale


async def test_change_of_one_group_notifies_only_it(app: App, world: Builder) -> None:
    console = Console(app)
    drafts = parse_hourly(SAMPLE.read_text(), KYIV, MONDAY)
    await publish(app, drafts)
    first = await console.deliver()
    assert "Графік на завтра, 24.11.2026, для черги 3.2:" in first
    assert "06:00–09:00 без світла, 3 години" in first
    rows = len(await outbox_rows(app.engine))
    # The same data again (a re-import): nobody hears anything; it only counts as fresh.
    assert await publish(app, drafts) == 0
    assert len(await outbox_rows(app.engine)) == rows
    assert await console.deliver() == ""
    # 3.2's tomorrow changes: only 3.2's people are told, with what changed.
    changed = ScheduleDraft(
        "3.2",
        MONDAY.date() + timedelta(days=1),
        slots_from_intervals([{"from": "06:00", "to": "08:00"}, {"from": "18:00", "to": "20:00"}]),
        MONDAY + timedelta(minutes=5),
    )
    assert await publish(app, [changed]) == 1
    new = await outbox_rows(app.engine, "sched:3.2:2026-11-24:v2")
    assert [row["person_id"] for row in new] == [world.world.persons["me"]]
    text = await console.deliver()
    assert "Графік для черги 3.2 на 24.11.2026 змінився." in text
    assert "Додано: 06:00–08:00 без світла, 18:00–20:00 без світла" in text
    assert "Скасовано: 06:00–09:00 без світла" in text
    assert await publish(app, [changed]) == 0


async def test_reminder_at_the_right_minute_once_and_quiet_hours(app: App, world: Builder) -> None:
    console = Console(app)
    await publish(app, parse_hourly(SAMPLE.read_text(), KYIV, MONDAY))
    await console.deliver()
    # 3.2 goes off at 16:00: the default 30-minute reminder is due at 15:30, not 15:29.
    clock(app).set(datetime(2026, 11, 23, 15, 29, tzinfo=KYIV))
    assert await remind(app) == 0
    clock(app).set(datetime(2026, 11, 23, 15, 30, tzinfo=KYIV))
    assert await remind(app) == 1
    assert await remind(app) == 0
    clock(app).set(datetime(2026, 11, 23, 15, 31, tzinfo=KYIV))
    assert await remind(app) == 0
    text = await console.deliver()
    assert "Черга 3.2: через 30 хвилин, о 16:00, світло вимкнуть." in text
    assert "За графіком увімкнуть о 20:00." in text
    # Quiet hours 22:00–07:00 hold the reminder for 3.1's 04:00 off tomorrow; it goes
    # out once they end if the moment is still ahead (here it is not: nothing at all).
    async with app.uow_factory() as uow:
        await uow.schedules.save_settings(
            world.world.persons["other"],
            ScheduleSettings(remind_minutes=60, quiet_from=22 * 60, quiet_to=7 * 60),
        )
        await uow.commit()
    clock(app).set(datetime(2026, 11, 24, 3, 0, tzinfo=KYIV))
    assert await remind(app) == 0
    clock(app).set(datetime(2026, 11, 24, 3, 30, tzinfo=KYIV))
    assert await remind(app) == 0
    # Without quiet hours the 60-minute lead fires at 03:00.
    async with app.uow_factory() as uow:
        await uow.schedules.save_settings(
            world.world.persons["other"], ScheduleSettings(remind_minutes=60)
        )
        await uow.commit()
    clock(app).set(datetime(2026, 11, 24, 3, 0, tzinfo=KYIV))
    assert await remind(app) == 1


async def test_quiet_hours_hold_reminders_not_changes(app: App, world: Builder) -> None:
    await publish(app, parse_hourly(SAMPLE.read_text(), KYIV, MONDAY))
    other = world.world.persons["other"]
    async with app.uow_factory() as uow:
        await uow.schedules.save_settings(other, ScheduleSettings(quiet_from=0, quiet_to=7 * 60))
        await uow.commit()
    # 3.1 goes off at 04:00 tomorrow: at 03:30 other is in quiet hours, so no reminder...
    clock(app).set(datetime(2026, 11, 24, 3, 30, tzinfo=KYIV))
    assert await remind(app) == 0
    # ...but a change of 3.1's day reaches them at once.
    change = ScheduleDraft(
        "3.1",
        MONDAY.date() + timedelta(days=1),
        slots_from_intervals([{"from": "05:00", "to": "06:00"}]),
        clock(app).now(),
    )
    assert await publish(app, [change]) == 1
    rows = await outbox_rows(app.engine, "sched:3.1:2026-11-24:v2")
    assert [row["person_id"] for row in rows] == [other]


async def test_the_scheduler_job_reminds_once(app: App, world: Builder) -> None:
    from app.compose import make_rules
    from scheduler.jobs import Jobs

    await publish(app, parse_hourly(SAMPLE.read_text(), KYIV, MONDAY))
    jobs = Jobs(app.uow_factory, app.clock, make_rules(app.settings).readings)
    clock(app).set(datetime(2026, 11, 23, 15, 29, 59, tzinfo=KYIV))
    assert await jobs.schedule_reminders() == 0
    clock(app).set(datetime(2026, 11, 23, 15, 30, 40, tzinfo=KYIV))
    assert await jobs.schedule_reminders() == 1
    assert await jobs.schedule_reminders() == 0
