"""The scheduler of `kabinet serve`: APScheduler's asyncio scheduler running `Jobs`, acting
only while this process holds the single-scheduler lock.

Every process schedules the jobs; each run first checks the lock. On PostgreSQL the lock
is a session advisory lock held on a connection of its own: when the holder dies its
connection closes, the lock is free, and another process takes it on its next tick. On
SQLite there is one process, so the lock is always held.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.jobs import Jobs

log = logging.getLogger(__name__)

# Any constant works; every Kabinet process must use the same one.
SCHEDULER_LOCK_KEY = 7_305_240_218


class SchedulerLock:
    """Who may act: `held()` takes the lock when free and tells whether this process has it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._single = engine.dialect.name != "postgresql"

    async def held(self) -> bool:
        """True when this process holds (or just took) the lock."""
        if self._single:
            return True
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died: so did the lock
                log.warning("scheduler: lost the scheduler lock's connection")
                await self._drop()
        connection = await self._engine.connect()
        try:
            taken = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}
            )
            # Leave no transaction open on the lock's connection: it lives for hours.
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        log.info("scheduler: this process runs the scheduled jobs")
        return True

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                log.debug("scheduler: closing the lock's connection failed", exc_info=True)

    async def release(self) -> None:
        """Give the lock up (closing its connection releases it)."""
        if self._connection is not None:
            try:
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEDULER_LOCK_KEY}
                )
            except Exception:
                log.debug("scheduler: unlock failed; closing releases it", exc_info=True)
        await self._drop()


class KabinetScheduler:
    """Runs the jobs on APScheduler; only the lock holder acts."""

    def __init__(
        self,
        jobs: Jobs,
        lock: SchedulerLock,
        *,
        outage_every_seconds: float = 60.0,
        reading_every_seconds: float = 300.0,
        retention_every_seconds: float = 3600.0,
    ) -> None:
        self.jobs = jobs
        self.lock = lock
        self._intervals = {
            "outage_reminders": outage_every_seconds,
            "reading_reminders": reading_every_seconds,
            # Reminders fire at the minute: the schedule job ticks as often as outages'.
            "schedule_reminders": outage_every_seconds,
        }
        if jobs.pruner is not None:
            # Batched and idempotent: a run cut short by a restart is finished by the next.
            self._intervals["retention"] = retention_every_seconds
        self._scheduler: Any = None

    def _guarded(
        self, name: str, job: Callable[[], Awaitable[int]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                if not await self.lock.held():
                    return
                await job()
            except Exception:  # a failed run is retried at the next tick
                log.exception("scheduler: job %s failed", name)

        return run

    def start(self) -> None:
        """Start APScheduler on the running loop; the first ticks run at once."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # loads only in serve

        scheduler = AsyncIOScheduler(timezone="UTC")
        for name, seconds in self._intervals.items():
            scheduler.add_job(
                self._guarded(name, getattr(self.jobs, name)),
                "interval",
                seconds=seconds,
                id=name,
                max_instances=1,
                coalesce=True,
                next_run_time=_soon(),
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop scheduling and release the lock."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self.lock.release()


def _soon() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
