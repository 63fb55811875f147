"""Several `kabinet serve` processes on one PostgreSQL behave as one: an outage reaches every
subscriber exactly once, never over the rate limit they share; a worker killed with SIGKILL
mid-broadcast sends nothing twice after a restart and loses at most the part it was on (as
`uncertain`); only one process runs the scheduler."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bench.broadcast.population import CHAT_ID_BASE, bulk_accounts, subscribe_accounts
from core.model import OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import part_rows
from storage.database import make_engine
from storage.migrate import migrate
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.channels.fake_telegram import FakeTelegram
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.pushes.processes import start_serve, stop
from tests.pushes.world import Builder

# Starts `kabinet serve` processes: the e2e tier.
pytestmark = pytest.mark.e2e


SUBSCRIBERS = 300
# Enough for several seconds at the shared 200/s, so both processes get claims: with fewer,
# one process could take the whole schedule before the other polled.
SHARED_SUBSCRIBERS = 900


@pytest.fixture
def pg_url() -> str:
    name = f"kabinet_test_{os.getpid()}_procs"
    url = new_postgres_database(name)
    yield url
    drop_postgres_database(name)


async def populate(url: str, count: int) -> tuple[SqlAlchemyUnitOfWorkFactory, int]:
    engine = make_engine(url)
    await migrate(engine)
    builder = Builder(engine)
    await builder.references()
    await bulk_accounts(engine, count, builder.world.dso_id, builder.supplier)
    await subscribe_accounts(engine, datetime.now(UTC))
    return SqlAlchemyUnitOfWorkFactory(engine), builder.world.dso_id


async def publish(uow_factory: SqlAlchemyUnitOfWorkFactory, dso_id: int) -> None:
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.EMERGENCY,
                dso_id,
                now,
                None,
                "Пошкодження кабелю",
                (OutageTarget(outage_group="3.2"),),
            ),
            now,
        )
        await uow.commit()


def messages_per_chat(fake: FakeTelegram) -> Counter[int]:
    """Messages Telegram accepted, per chat (a call refused with 429 was not delivered)."""
    return Counter(call.chat_id for call in fake.calls_of("sendMessage") if call.status == 200)


async def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def settled(queue: OutboxQueue) -> bool:
    counts = await queue.counts()
    return not any(counts.get(s) for s in ("pending", "claimed", "sending"))


async def test_two_processes_deliver_each_alert_exactly_once(pg_url: str, tmp_path: Path) -> None:
    uow_factory, dso_id = await populate(pg_url, SHARED_SUBSCRIBERS)
    # The fake holds both processes to the limit they share, as Telegram would (a send
    # over it would be refused with 429).
    fake = FakeTelegram(limits=True, free_rate=200)
    base = await fake.start()
    served = await asyncio.gather(
        *(
            start_serve(pg_url, base, tmp_path / f"serve{n}.log", DELIVERY_RATE_TELEGRAM="200")
            for n in (1, 2)
        )
    )
    try:
        await publish(uow_factory, dso_id)
        queue = OutboxQueue(uow_factory.engine, "observer")
        assert await wait_for(lambda: settled(queue), 30)
        await asyncio.sleep(0.5)
        per_chat = messages_per_chat(fake)
        async with uow_factory.engine.connect() as connection:
            person_ids = (await connection.scalars(text("SELECT id FROM persons"))).all()
        assert set(per_chat) == {CHAT_ID_BASE + pid for pid in person_ids}
        assert set(per_chat.values()) == {1}
        # Taking their slots from one schedule, they never exceed the limit they share.
        assert fake.too_many == 0
        # Both processes delivered (claims interleave), one ran the scheduler.
        claimers = await claimers_of(uow_factory)
        assert len(claimers) == 2
        logs = [s.log_text() for s in served]
        assert sum("runs the scheduled jobs" in log for log in logs) == 1
    finally:
        for s in served:
            await stop(s)
        await fake.close()
        await uow_factory.engine.dispose()


async def claimers_of(uow_factory: SqlAlchemyUnitOfWorkFactory) -> set[str]:
    async with uow_factory.engine.connect() as connection:
        rows = await connection.scalars(text("SELECT DISTINCT claimed_by FROM outbox"))
        return {row.rsplit(":", 1)[0] for row in rows if row}


async def test_kill_9_mid_broadcast_sends_nothing_twice_and_loses_at_most_one_part(
    pg_url: str, tmp_path: Path
) -> None:
    uow_factory, dso_id = await populate(pg_url, SUBSCRIBERS)
    fake = FakeTelegram()
    base = await fake.start()
    env = {"DELIVERY_RATE_TELEGRAM": "100", "DELIVERY_LEASE_SECONDS": "2", "DELIVERY_BATCH": "20"}
    first = await start_serve(pg_url, base, tmp_path / "first.log", scheduler=False, **env)
    second = None
    try:
        await publish(uow_factory, dso_id)
        assert await wait_for(lambda: _count(fake, SUBSCRIBERS // 3), 20)
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
        killed_at = len(fake.calls_of("sendMessage"))
        assert killed_at < SUBSCRIBERS
        second = await start_serve(pg_url, base, tmp_path / "second.log", scheduler=False, **env)
        queue = OutboxQueue(uow_factory.engine, "observer")
        assert await wait_for(lambda: settled(queue), 40)
        per_chat = messages_per_chat(fake)
        counts = await queue.counts()
        duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
        losses = SUBSCRIBERS - len(per_chat)
        print(
            f"kill -9 after {killed_at} sends: outbox {counts}, duplicates {duplicates}, "
            f"losses {losses}"
        )
        assert duplicates == 0
        # A kill that lands between a part's `sending` commit and its call leaves that
        # push `uncertain` and unsent (at 100/s a part is one push): never silently, and
        # never more than the part the worker was on.
        assert losses <= min(counts.get("uncertain", 0), part_rows(100))
        assert counts.get("sent", 0) + counts.get("uncertain", 0) == SUBSCRIBERS
    finally:
        if second is not None:
            await stop(second)
        await fake.close()
        await uow_factory.engine.dispose()


async def test_a_worker_stopped_mid_broadcast_finishes_its_sends_before_its_channels_close(
    pg_url: str, tmp_path: Path
) -> None:
    """SIGTERM while answers are on their way: the delivery workers finish the batches in
    hand while the channels can still send; a channel closed first cut the calls in flight,
    which were retried, and those people got the alert twice."""
    uow_factory, dso_id = await populate(pg_url, SUBSCRIBERS)
    fake = FakeTelegram()
    fake.answer_delay = 0.3
    base = await fake.start()
    env = {"DELIVERY_RATE_TELEGRAM": "100"}
    served = await start_serve(pg_url, base, tmp_path / "serve.log", scheduler=False, **env)
    try:
        await publish(uow_factory, dso_id)
        assert await wait_for(lambda: _count(fake, SUBSCRIBERS // 3), 20)
        await stop(served)
        assert served.process.returncode == 0
        per_chat = messages_per_chat(fake)
        assert per_chat and set(per_chat.values()) == {1}
        assert "retrying" not in served.log_text()
        counts = await OutboxQueue(uow_factory.engine, "observer").counts()
        assert counts.get("sent", 0) == len(per_chat)
        assert not counts.get("sending") and not counts.get("uncertain")
    finally:
        await stop(served)
        await fake.close()
        await uow_factory.engine.dispose()


async def _count(fake: FakeTelegram, at_least: int) -> bool:
    return len(fake.calls_of("sendMessage")) >= at_least
