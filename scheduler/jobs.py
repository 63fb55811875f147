"""The jobs: each opens a unit of work, calls a core service, commits. All idempotent:
the outbox's (event, person) key makes a re-run (or a second scheduler) queue nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from bot.i18n import Catalogues
from bot.pushes import push_texts
from core.clock import Clock
from core.notifications import remind_readings
from core.outages import queue_due_reminders
from core.ports import AbstractUnitOfWorkFactory
from core.readings import ReadingRules, current_window, window_start
from core.schedules import PushTexts, queue_schedule_reminders

if TYPE_CHECKING:
    from storage.retention import Retention

log = logging.getLogger(__name__)


@dataclass
class Jobs:
    """What the scheduler runs; `queued` is called after a job queued pushes (wakes the
    delivery workers of this process)."""

    uow_factory: AbstractUnitOfWorkFactory
    clock: Clock
    reading_rules: ReadingRules
    reminder_at: time = time(9, 0)
    queued: Callable[[], None] | None = None
    schedule_texts: PushTexts | None = None  # built on the first schedule tick
    pruner: Retention | None = None  # retention (RETENTION_*); None: nothing is deleted

    async def schedule_reminders(self) -> int:
        """Reminders N minutes before power goes off (or comes back) by the outage
        schedules; one set-based insert per (group, moment), each once per person."""
        if self.schedule_texts is None:
            # Reading the catalogues is file I/O: off the event loop, once.
            catalogues = await asyncio.to_thread(Catalogues)
            self.schedule_texts = push_texts(catalogues, self.reading_rules.zone)
        now = self.clock.now()
        async with self.uow_factory() as uow:
            count = await queue_schedule_reminders(
                uow, now, self.reading_rules.zone, self.schedule_texts
            )
            await uow.commit()
        self._after("schedule reminders", count)
        return count

    async def outage_reminders(self) -> int:
        """Evening-before (18:00) and hour-before alerts of planned outages that are due."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            count = await queue_due_reminders(uow, now, self.reading_rules.zone)
            await uow.commit()
        self._after("outage reminders", count)
        return count

    async def reading_reminders(self) -> int:
        """On the reading window's first day, from `reminder_at` business time: remind
        everyone whose linked account has no reading in this window yet (once)."""
        now = self.clock.now()
        zone = self.reading_rules.zone
        window = current_window(now, self.reading_rules)
        local = now.astimezone(zone)
        if window is None or local.date() != window.opens or local.time() < self.reminder_at:
            return 0
        opens = window_start(window, self.reading_rules)
        closes = datetime.combine(window.closes, time(0, 0), zone)
        async with self.uow_factory() as uow:
            count = await remind_readings(uow, opens, closes, now)
            await uow.commit()
        self._after("reading reminders", count)
        return count

    async def retention(self) -> int:
        """Delete what is kept no longer (storage/retention.py); how many rows and files."""
        if self.pruner is None:
            return 0
        done = await self.pruner.run(self.clock.now())
        total = sum(done.values())
        if total:
            summary = ", ".join(f"{kind} {count}" for kind, count in done.items() if count)
            log.info("scheduler: retention deleted %s", summary)
        return total

    def _after(self, what: str, count: int) -> None:
        if count:
            log.info("scheduler: %d %s queued", count, what)
            if self.queued is not None:
                self.queued()
