"""Retention on SQLite and PostgreSQL: old rows and files go, recent and in-flight ones stay,
and a second run deletes nothing."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FrozenClock
from core.readings import ReadingRules
from scheduler.jobs import Jobs
from scheduler.runner import KabinetScheduler, SchedulerLock
from storage.orm import (
    AccountRow,
    DsoRow,
    MeterRow,
    PhotoRow,
    ProcessedUpdateRow,
    RegionRow,
    SubmittedReadingRow,
    SupplierRow,
)
from storage.outbox import outbox
from storage.retention import Retention, RetentionPolicy
from storage.uow import SqlAlchemyUnitOfWorkFactory

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
DAYS_AGO_8 = NOW - timedelta(days=8)
RECENT = NOW - timedelta(days=2)

_updates = ProcessedUpdateRow.__table__
_photos = PhotoRow.__table__
_readings = SubmittedReadingRow.__table__


async def _count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as connection:
        counted = select(func.count()).select_from(table).where(*where)
        return int(await connection.scalar(counted) or 0)


async def _add_updates(engine: AsyncEngine) -> None:
    rows = [{"channel": "telegram", "key": f"old-{n}", "seen_at": DAYS_AGO_8} for n in range(25)]
    rows += [{"channel": "viber", "key": f"new-{n}", "seen_at": RECENT} for n in range(5)]
    async with engine.begin() as connection:
        await connection.execute(insert(_updates), rows)


def _push(n: int, status: str, created_at: datetime) -> dict[str, object]:
    return {
        "dedup_key": f"test:{n}",
        "channel": "telegram",
        "payload": {"kind": "text", "text": "x"},
        "status": status,
        "attempts": 1,
        "created_at": created_at,
    }


async def _add_outbox(engine: AsyncEngine) -> None:
    statuses = ["sent", "failed", "undeliverable", "superseded"]
    in_flight = ["pending", "claimed", "sending", "uncertain"]
    rows = []
    n = 0
    for status in statuses + in_flight:
        for created_at in (OLD, RECENT):
            for _ in range(7):
                n += 1
                rows.append(_push(n, status, created_at))
    async with engine.begin() as connection:
        await connection.execute(insert(outbox), rows)


async def _add_account_with_meter(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.begin() as connection:

        async def new(row: type, **values: object) -> int:
            result = await connection.execute(insert(row).values(**values))
            return int(result.inserted_primary_key[0])

        region = await new(RegionRow, name="Київська")
        dso = await new(DsoRow, region_id=region, name="ОСР", short_name="ОСР")
        supplier = await new(SupplierRow, name="Постачальник", iban="", edrpou="")
        account = (
            await connection.execute(
                insert(AccountRow).values(
                    number="2010000999",
                    eic="62Z000000000999X",
                    holder_name="Тест",
                    settlement="Київ",
                    street="вул. Тестова",
                    street_key="тестова",
                    building="1",
                    apartment="",
                    dso_id=dso,
                    supplier_id=supplier,
                    contract_number="",
                    tariff_plan="single",
                )
            )
        ).inserted_primary_key[0]
        meter = (
            await connection.execute(
                insert(MeterRow).values(
                    account_id=account,
                    serial="M1",
                    type_name="ЛЕО",
                    zones=["day"],
                    digit_count=6,
                    installed_on=date(2019, 11, 1),
                    install_readings={"day": 4920},
                )
            )
        ).inserted_primary_key[0]
    return account, meter


async def _add_photo(
    engine: AsyncEngine, root: Path, ref: str, retain_until: datetime | None
) -> int:
    path = root / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"jpeg")
    async with engine.begin() as connection:
        result = await connection.execute(
            insert(_photos).values(
                sha256="a" * 64,
                size=4,
                storage_ref=ref,
                content_type="image/jpeg",
                created_at=NOW - timedelta(days=400),
                retain_until=retain_until,
            )
        )
    return int(result.inserted_primary_key[0])


async def test_old_updates_and_finished_pushes_go_recent_and_in_flight_stay(
    engine: AsyncEngine,
) -> None:
    await _add_updates(engine)
    await _add_outbox(engine)
    batches: list[tuple[str, int, float]] = []
    retention = Retention(
        engine,
        None,
        RetentionPolicy(batch=10),
        on_batch=lambda kind, count, seconds: batches.append((kind, count, seconds)),
    )

    done = await retention.run(NOW)

    assert done == {"processed_updates": 25, "outbox": 28, "media": 0}
    assert await _count(engine, _updates) == 5
    assert await _count(engine, _updates, _updates.c.seen_at < NOW - timedelta(days=7)) == 0
    # Old finished rows are gone; recent ones and every in-flight or uncertain row stay.
    async with engine.connect() as connection:
        left = (
            await connection.execute(
                select(outbox.c.status, outbox.c.created_at < NOW - timedelta(days=30))
            )
        ).all()
    old_left = sorted({status for status, old in left if old})
    assert old_left == ["claimed", "pending", "sending", "uncertain"]
    assert len(left) == 8 * 7 * 2 - 28
    # In batches of at most 10, each its own transaction.
    assert [count for kind, count, _ in batches if kind == "processed_updates"] == [10, 10, 5]
    assert all(count <= 10 for _, count, _ in batches)
    assert sum(count for kind, count, _ in batches if kind == "outbox") == 28

    assert await retention.run(NOW) == {"processed_updates": 0, "outbox": 0, "media": 0}


async def test_expired_photos_go_with_their_files_and_readings_stay(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    account, meter = await _add_account_with_meter(engine)
    expired = await _add_photo(engine, tmp_path, "2025/12/01/" + "a" * 64 + ".jpg", OLD)
    kept = await _add_photo(
        engine, tmp_path, "2026/12/01/" + "b" * 64 + ".jpg", NOW + timedelta(days=300)
    )
    forever = await _add_photo(engine, tmp_path, "2026/01/01/" + "c" * 64 + ".jpg", None)
    # The same photo kept twice on one day: one row expired, the other not yet.
    shared = "2025/12/02/" + "d" * 64 + ".jpg"
    shared_old = await _add_photo(engine, tmp_path, shared, OLD)
    shared_new = await _add_photo(engine, tmp_path, shared, NOW + timedelta(days=1))
    async with engine.begin() as connection:
        await connection.execute(
            insert(_readings).values(
                account_id=account,
                meter_id=meter,
                taken_at=OLD,
                values={"day": 5000},
                source="telegram",
                photo_id=expired,
            )
        )
    retention = Retention(engine, tmp_path, RetentionPolicy(batch=100))

    assert await retention.prune_expired_photos(NOW) == 2

    async with engine.connect() as connection:
        ids = set((await connection.scalars(select(_photos.c.id))).all())
        reading = (
            await connection.execute(select(_readings.c["values"], _readings.c.photo_id))
        ).one()
    assert ids == {kept, forever, shared_new}
    assert shared_old not in ids
    assert reading == ({"day": 5000}, None)  # the reading stays, without its photo
    assert not (tmp_path / "2025/12/01" / ("a" * 64 + ".jpg")).exists()
    assert (tmp_path / "2026/12/01" / ("b" * 64 + ".jpg")).exists()
    assert (tmp_path / "2026/01/01" / ("c" * 64 + ".jpg")).exists()
    assert (tmp_path / shared).exists()  # still retained through the other row
    assert await retention.prune_expired_photos(NOW) == 0


async def test_a_file_deleted_before_a_crash_is_finished_by_the_next_run(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    ref = "2025/11/30/" + "e" * 64 + ".jpg"
    await _add_photo(engine, tmp_path, ref, OLD)
    (tmp_path / ref).unlink()  # the run before died between the file and the row

    assert await Retention(engine, tmp_path, RetentionPolicy()).prune_expired_photos(NOW) == 1
    assert await _count(engine, _photos) == 0


async def test_pending_photo_files_older_than_a_day_go(engine: AsyncEngine, tmp_path: Path) -> None:
    pending = tmp_path / "pending"
    pending.mkdir()
    old = pending / ("1" * 64)
    fresh = pending / ("2" * 64)
    half_written = pending / ("3" * 64 + ".part")
    for path in (old, fresh, half_written):
        path.write_bytes(b"jpeg")
    day_and_more = time.time() - 25 * 3600
    os.utime(old, (day_and_more, day_and_more))
    os.utime(half_written, (day_and_more, day_and_more))
    policy = RetentionPolicy(processed_updates=None, outbox=None, expired_photos=False)

    done = await Retention(engine, tmp_path, policy).run(NOW)

    assert done == {"pending_photo_files": 2, "media": 0}
    assert sorted(path.name for path in pending.iterdir()) == [fresh.name]


async def test_each_kind_can_be_off(engine: AsyncEngine, tmp_path: Path) -> None:
    await _add_updates(engine)
    await _add_outbox(engine)
    policy = RetentionPolicy(
        processed_updates=None,
        outbox=None,
        expired_photos=False,
        pending_photos=None,
        expired_media=False,
    )

    assert await Retention(engine, tmp_path, policy).run(NOW) == {}
    assert await _count(engine, _updates) == 30
    assert await _count(engine, outbox) == 8 * 7 * 2


async def test_the_scheduler_runs_retention_on_the_app_clock(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    await _add_updates(engine)
    await _add_outbox(engine)
    jobs = Jobs(
        uow_factory=uow_factory,
        clock=FrozenClock(NOW),
        reading_rules=ReadingRules(),
        pruner=Retention(engine, None, RetentionPolicy()),
    )
    runner = KabinetScheduler(jobs, SchedulerLock(engine), retention_every_seconds=900)

    assert runner._intervals["retention"] == 900
    assert await jobs.retention() == 25 + 28
    assert await jobs.retention() == 0
    without = Jobs(uow_factory=uow_factory, clock=FrozenClock(NOW), reading_rules=ReadingRules())
    assert "retention" not in KabinetScheduler(without, SchedulerLock(engine))._intervals
