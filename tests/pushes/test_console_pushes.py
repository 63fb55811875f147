"""Every push type through the console channel, with the scheduler's jobs on a frozen clock:
outage published / evening before / hour before / changed / cancelled, emergency and
restored, a new bill, a call-centre answer, the reading reminder whose reply is taken as
the reading, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.compose import App, build_app, make_rules
from app.settings import load_settings
from bot.channels.console import ConsoleChannel
from bot.messages import Incoming
from bot.pushes import PushRenderer
from core.clock import FrozenClock
from core.model import Channel, OutageKind, OutageTarget
from core.notifications import notify_call_center_answer, notify_new_bills
from core.outages import (
    OutageChanges,
    OutageDraft,
    cancel_outage,
    publish_outage,
    restore_outage,
    update_outage,
)
from scheduler.delivery import DeliveryWorkers
from scheduler.jobs import Jobs
from storage.outbox import OutboxQueue
from tests.pushes.world import Builder

KYIV = ZoneInfo("Europe/Kyiv")
# Monday 2026-11-23 10:00 Kyiv; the window of November opens on the 29th.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=KYIV)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = load_settings(database_url=database_url, ocr_workers=0, kabinet_now=None)
    built = await build_app(settings, clock=FrozenClock(MONDAY))
    yield built
    await built.close()


@pytest.fixture
async def me(builder: Builder) -> Builder:
    await builder.account("home", group="3.2")
    await builder.person("me", "home", channels={"console": "me"})
    await builder.consent("me")
    await builder.tariff()
    return builder


class Console:
    """The console adapter on a string buffer, and a worker delivering to it."""

    def __init__(self, app: App) -> None:
        self.out = io.StringIO()
        self.channel = ConsoleChannel(app.handle, "me", stdout=self.out)
        self.app = app
        self.workers = DeliveryWorkers(
            OutboxQueue(app.engine, "console-test"),
            {Channel.CONSOLE: self.channel},  # type: ignore[dict-item]
            PushRenderer(app.uow_factory, app.catalogues, KYIV),
            app.uow_factory,
        )

    async def deliver(self) -> str:
        """Deliver what is due; the text printed since the last call."""
        start = len(self.out.getvalue())
        await self.workers.run_once(Channel.CONSOLE)
        return self.out.getvalue()[start:]


def clock(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


async def test_planned_outage_life(app: App, me: Builder) -> None:
    console = Console(app)
    starts = datetime(2026, 11, 25, 9, 0, tzinfo=KYIV)  # Wednesday 09:00
    async with app.uow_factory() as uow:
        outage = await publish_outage(
            uow,
            OutageDraft(
                OutageKind.PLANNED,
                me.world.dso_id,
                starts,
                starts + timedelta(hours=8),
                "Ремонт ТП-1234",
                (OutageTarget(outage_group="3.2"),),
            ),
            MONDAY,
        )
        await uow.commit()
    text = await console.deliver()
    assert "⚡ Планове відключення" in text and "Коли: 25.11.2026 з 09:00 до 17:00" in text
    jobs = Jobs(app.uow_factory, app.clock, make_rules(app.settings).readings)
    # Tuesday 17:59: nothing due; 18:00: the evening alert, once.
    clock(app).set(datetime(2026, 11, 24, 17, 59, tzinfo=KYIV))
    assert await jobs.outage_reminders() == 0
    clock(app).set(datetime(2026, 11, 24, 18, 0, tzinfo=KYIV))
    assert await jobs.outage_reminders() == 1
    assert await jobs.outage_reminders() == 0
    assert "завтра планове відключення" in await console.deliver()
    # A change: start one hour later; said what changed.
    async with app.uow_factory() as uow:
        await update_outage(
            uow, outage.id, OutageChanges(starts_at=starts + timedelta(hours=1)), clock(app).now()
        )
        await uow.commit()
    text = await console.deliver()
    assert "Зміни у відключенні" in text
    assert "Початок: 25.11.2026 о 09:00 → 10:00" in text
    assert "Коли: 25.11.2026 з 10:00 до 17:00" in text
    # Wednesday 09:00: the hour-before alert for the new start, once.
    clock(app).set(datetime(2026, 11, 25, 8, 59, tzinfo=KYIV))
    assert await jobs.outage_reminders() == 0
    clock(app).set(datetime(2026, 11, 25, 9, 0, tzinfo=KYIV))
    assert await jobs.outage_reminders() == 1
    assert await jobs.outage_reminders() == 0
    assert "Через годину" in await console.deliver()
    async with app.uow_factory() as uow:
        await cancel_outage(uow, outage.id, clock(app).now())
        await uow.commit()
    assert "Відключення скасовано" in await console.deliver()
    assert await console.deliver() == ""


async def test_emergency_restoration_bill_and_answer(app: App, me: Builder) -> None:
    console = Console(app)
    async with app.uow_factory() as uow:
        outage = await publish_outage(
            uow,
            OutageDraft(
                OutageKind.EMERGENCY,
                me.world.dso_id,
                MONDAY - timedelta(minutes=20),
                None,
                "Пошкодження кабелю",
                (OutageTarget(settlement="м. Київ", street="Кузьми Скрябіна вулиця"),),
            ),
            MONDAY,
        )
        await uow.commit()
    text = await console.deliver()
    assert "🚨 Аварійне відключення" in text and "до відновлення" in text
    async with app.uow_factory() as uow:
        await restore_outage(uow, outage.id, MONDAY + timedelta(hours=2))
        await uow.commit()
    assert "Електропостачання відновлено 23.11.2026 о 12:00" in await console.deliver()
    await me.bill("home", "2026-10", "561.60", "548.26")
    for _ in range(2):  # an import re-run tells nobody twice
        async with app.uow_factory() as uow:
            await notify_new_bills(uow, ["2026-10"], MONDAY)
            await uow.commit()
    text = await console.deliver()
    assert text.count("Новий рахунок") == 1
    assert "Новий рахунок за жовтень 2026" in text and "561,60 грн" in text
    assert "до сплати 548,26 грн до 07.12.2026" in text
    async with app.uow_factory() as uow:
        await notify_call_center_answer(
            uow, 5, me.world.persons["me"], "Лічильник замінять.", MONDAY
        )
        await uow.commit()
    assert "№ 5:\nЛічильник замінять." in await console.deliver()


async def test_reading_reminder_takes_the_reply_as_the_reading(app: App, me: Builder) -> None:
    console = Console(app)
    jobs = Jobs(app.uow_factory, app.clock, make_rules(app.settings).readings, reminder_at=time(9))
    clock(app).set(datetime(2026, 11, 28, 9, 0, tzinfo=KYIV))  # the day before: nothing
    assert await jobs.reading_reminders() == 0
    clock(app).set(datetime(2026, 11, 29, 8, 59, tzinfo=KYIV))  # first day, too early
    assert await jobs.reading_reminders() == 0
    clock(app).set(datetime(2026, 11, 29, 9, 0, tzinfo=KYIV))
    assert await jobs.reading_reminders() == 1
    assert await jobs.reading_reminders() == 0
    text = await console.deliver()
    assert "Прийом показів відкрито: з 29.11.2026 по 03.12.2026." in text
    assert "Надішліть покази у відповідь" in text
    replies = await app.handle(Incoming(Channel.CONSOLE, "me", text="250"))
    assert "Покази прийнято" in "\n".join(reply.text for reply in replies)
    # Those who submitted are not reminded again in this window.
    async with app.uow_factory() as uow:
        from core.notifications import remind_readings

        opens = datetime(2026, 11, 29, tzinfo=KYIV)
        assert await remind_readings(uow, opens, opens + timedelta(days=4), clock(app).now()) == 0
