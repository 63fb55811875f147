"""Retention: what Kabinet no longer needs is deleted, in small transactions.

Four kinds, each optional and idempotent (a second run finds nothing, an interrupted run
is finished by the next):

- processed update ids (the redelivery guard) older than a few days: platforms redeliver
  within minutes or hours, never after days;
- outbox rows that are finished — sent, failed, undeliverable, superseded — and older than
  a month. Pending, claimed and sending rows are in flight; `uncertain` rows wait for an
  operator: neither is ever touched;
- photos past their `retain_until`: the file first, then the row (a reading keeps its
  values, its photo link becomes empty), so a crash in between leaves a row whose file is
  gone, which the next run deletes; never a file without a row;
- pending photo files (waiting for the person's "Так") older than a day, by the file's own
  time on the shared volume;
- media files (images and PDFs behind signed URLs for Viber and Messenger) past their
  expiry, by the wall clock, as their URLs' expiry is.

Rows go in batches of `batch`, each its own short transaction, so a table of millions is
pruned without holding locks for long: each batch locks only its own rows, and other
writers wait at most one batch. The outbox is walked by primary key (keyset), so every row
is looked at once per run whatever has been deleted before it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Delete

from storage.orm import MediaRow, PhotoRow, ProcessedUpdateRow
from storage.outbox import FAILED, SENT, SUPERSEDED, UNDELIVERABLE, outbox

log = logging.getLogger(__name__)

FINISHED = (SENT, FAILED, UNDELIVERABLE, SUPERSEDED)
"""Outbox statuses nothing will change any more and no operator waits on."""

_updates = ProcessedUpdateRow.__table__
_photos = PhotoRow.__table__
_media = MediaRow.__table__


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind is kept; None keeps it forever."""

    processed_updates: timedelta | None = timedelta(days=7)
    outbox: timedelta | None = timedelta(days=30)
    expired_photos: bool = True
    pending_photos: timedelta | None = timedelta(hours=24)
    expired_media: bool = True
    batch: int = 1000


BatchObserver = Callable[[str, int, float], None]
"""Told after every committed batch: the kind, rows deleted, seconds the transaction took."""


class Retention:
    """Runs the policy against one database and the photo directory."""

    def __init__(
        self,
        engine: AsyncEngine,
        photos_dir: Path | None,
        policy: RetentionPolicy,
        *,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self._engine = engine
        self._photos = photos_dir
        self.policy = policy
        self._on_batch = on_batch

    async def run(self, now: datetime) -> dict[str, int]:
        """Apply every kind of the policy once; how many of each were deleted.

        `now` is the application's clock (rows carry its times); pending files are aged by
        the wall clock, as the file system stamps them.
        """
        policy = self.policy
        done: dict[str, int] = {}
        if policy.processed_updates is not None:
            done["processed_updates"] = await self.prune_processed_updates(
                now - policy.processed_updates
            )
        if policy.outbox is not None:
            done["outbox"] = await self.prune_outbox(now - policy.outbox)
        if policy.expired_photos and self._photos is not None:
            done["photos"] = await self.prune_expired_photos(now)
        if policy.pending_photos is not None and self._photos is not None:
            cutoff = time.time() - policy.pending_photos.total_seconds()
            done["pending_photo_files"] = await asyncio.to_thread(
                _prune_pending_files, self._photos / "pending", cutoff
            )
        if policy.expired_media:
            done["media"] = await self.prune_expired_media(datetime.now(UTC))
        return done

    def _observed(self, kind: str, count: int, started: float) -> None:
        if self._on_batch is not None:
            self._on_batch(kind, count, time.perf_counter() - started)

    async def prune_processed_updates(self, before: datetime) -> int:
        """Delete update ids seen before `before`, batch by batch (index on seen_at)."""
        oldest = (
            select(_updates.c.channel, _updates.c.key)
            .where(_updates.c.seen_at < before)
            .limit(self.policy.batch)
        )
        statement = delete(_updates).where(tuple_(_updates.c.channel, _updates.c.key).in_(oldest))
        return await self._delete_in_batches("processed_updates", statement)

    async def prune_expired_media(self, now: datetime) -> int:
        """Delete media files that expired before `now`, batch by batch (index on expires_at).

        `now` is the wall clock: media URLs expire by it, whatever KABINET_NOW says."""
        oldest = select(_media.c.key).where(_media.c.expires_at < now).limit(self.policy.batch)
        return await self._delete_in_batches(
            "media", delete(_media).where(_media.c.key.in_(oldest))
        )

    async def _delete_in_batches(self, kind: str, statement: Delete) -> int:
        """Run `statement` (which deletes at most one batch) until a batch comes up short."""
        total = 0
        while True:
            started = time.perf_counter()
            async with self._engine.begin() as connection:
                count = (await connection.execute(statement)).rowcount
            self._observed(kind, count, started)
            total += count
            if count < self.policy.batch:
                return total

    async def prune_outbox(self, before: datetime) -> int:
        """Delete finished outbox rows created before `before`; in-flight and uncertain rows
        stay. Keyset by id: each batch takes the next ids that qualify, then deletes the
        qualifying rows in that id range (the condition is checked again by the DELETE, so
        a row that changed in between is judged by what it is now)."""
        qualifies = (outbox.c.status.in_(FINISHED), outbox.c.created_at < before)
        total = 0
        after = 0
        while True:
            next_ids = (
                select(outbox.c.id)
                .where(outbox.c.id > after, *qualifies)
                .order_by(outbox.c.id)
                .limit(self.policy.batch)
                .subquery()
            )
            started = time.perf_counter()
            async with self._engine.begin() as connection:
                upto = await connection.scalar(select(func.max(next_ids.c.id)))
                if upto is None:
                    count = 0
                else:
                    result = await connection.execute(
                        delete(outbox).where(outbox.c.id > after, outbox.c.id <= upto, *qualifies)
                    )
                    count = result.rowcount
            self._observed("outbox", count, started)
            total += count
            if upto is None:
                return total
            after = upto

    async def prune_expired_photos(self, now: datetime) -> int:
        """Delete photos whose `retain_until` has passed: their files, then their rows.

        A file two rows share (the same photo kept twice in a day) stays while any of them
        is still retained. The files are deleted between the two short transactions, so no
        lock is held while the disk works.
        """
        assert self._photos is not None
        total = 0
        while True:
            async with self._engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(_photos.c.id, _photos.c.storage_ref)
                        .where(_photos.c.retain_until < now)
                        .order_by(_photos.c.retain_until, _photos.c.id)
                        .limit(self.policy.batch)
                    )
                ).all()
                refs = {ref for _, ref in rows}
                still_kept = (
                    select(_photos.c.storage_ref)
                    .where(
                        _photos.c.storage_ref.in_(refs),
                        or_(_photos.c.retain_until.is_(None), _photos.c.retain_until >= now),
                    )
                    .distinct()
                )
                kept = set((await connection.execute(still_kept)).scalars()) if refs else set()
                await connection.rollback()
            if not rows:
                return total
            await asyncio.to_thread(_unlink_files, self._photos, refs - kept)
            ids = [photo_id for photo_id, _ in rows]
            started = time.perf_counter()
            async with self._engine.begin() as connection:
                # A reading that showed this photo keeps its values (photo_id SET NULL).
                await connection.execute(
                    delete(_photos).where(_photos.c.id.in_(ids), _photos.c.retain_until < now)
                )
            self._observed("photos", len(ids), started)
            total += len(ids)
            if len(rows) < self.policy.batch:
                return total


def _unlink_files(root: Path, refs: set[str]) -> None:
    base = root.resolve()
    for ref in refs:
        path = (root / ref).resolve()
        if not path.is_relative_to(base):  # a stored ref never leaves the photo directory
            log.warning("retention: photo path outside the photo directory skipped")
            continue
        path.unlink(missing_ok=True)


def _prune_pending_files(directory: Path, cutoff: float) -> int:
    """Delete files in `directory` last changed before `cutoff` (a Unix time)."""
    count = 0
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    count += 1
            except FileNotFoundError:  # taken ("Так") or dropped meanwhile
                continue
    return count
