"""Publishing, changing, cancelling and restoring outages, and the alerts each one queues.

Every service stores the change and queues its alerts in the caller's unit of work, so
both commit together or neither does. Alerts go through the outbox (`core.notifications`):

- publication: planned → everyone targeted (if it has not started yet); emergency → at once;
- the evening before (18:00 business time) and one hour before a planned outage:
  `queue_due_reminders`, called by the scheduler every minute; each stage runs once;
- a change → only those already told, saying what changed; people newly hit get the
  publication alert instead, pushes not yet sent are withdrawn and re-queued with news;
- a cancellation and a restoration → only those already told.

Targets are groups ("3.2") and/or addresses (settlement + street + buildings); storage
matches them set-based, with street names normalised (вул./вулиця, apostrophes, case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo

from core.delivery import Topic
from core.errors import DomainError
from core.imports import BadValue, parse_outage_group
from core.model import Outage, OutageKind, OutageTarget
from core.ports import AbstractUnitOfWork
from core.records import PushKind

HOUR_BEFORE = timedelta(hours=1)
EVENING_AT = time(18, 0)
_BUILDING_RANGE = re.compile(r"^\s*(\d+)\s*[-–—]\s*(\d+)\s*$")


class OutageNotFound(DomainError):
    """No outage with this id (or external id)."""


class OutageInvalid(DomainError):
    """An outage that makes no sense: no targets, ends before it starts, naive times."""


class OutageClosed(DomainError):
    """A cancelled or restored outage cannot be changed any more."""


@dataclass(frozen=True)
class OutageDraft:
    """What the operator publishes."""

    kind: OutageKind
    dso_id: int
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    targets: tuple[OutageTarget, ...]
    external_id: str | None = None


@dataclass(frozen=True)
class OutageChanges:
    """What the operator changes; None leaves a field as it is. `ends_at` may be cleared
    with `clear_end`."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    clear_end: bool = False
    reason: str | None = None
    targets: tuple[OutageTarget, ...] | None = None


def building_matches(spec: str, building: str) -> bool:
    """Whether a target's building spec ("39", "39а", "1-15") covers a building.

    A range covers buildings whose leading number is in it ("7б" is in "1-15"); a single
    spec is compared without case and spaces. Storage's SQL implements the same rule.
    """
    found = _BUILDING_RANGE.match(spec)
    if found:
        number = re.match(r"\s*(\d+)", building)
        low, high = int(found.group(1)), int(found.group(2))
        return number is not None and min(low, high) <= int(number.group(1)) <= max(low, high)
    return spec.replace(" ", "").casefold() == building.replace(" ", "").casefold()


def building_range(spec: str) -> tuple[int, int] | None:
    """(low, high) of a range spec like "1-15", else None."""
    found = _BUILDING_RANGE.match(spec)
    if not found:
        return None
    low, high = int(found.group(1)), int(found.group(2))
    return min(low, high), max(low, high)


def _validate(outage: Outage) -> None:
    for moment in (outage.starts_at, outage.ends_at):
        if moment is not None and moment.tzinfo is None:
            raise OutageInvalid("times must be timezone-aware")
    if outage.ends_at is not None and outage.ends_at <= outage.starts_at:
        raise OutageInvalid("the outage ends before it starts")
    if not outage.targets:
        raise OutageInvalid("an outage needs at least one group or address")
    for target in outage.targets:
        if not target.outage_group and not target.street:
            raise OutageInvalid("a target needs a group or a street")
        if target.outage_group is not None:
            try:
                parse_outage_group(target.outage_group)
            except BadValue as error:  # the rule accounts are imported with
                raise OutageInvalid(f"outage group {target.outage_group!r}: {error}") from None


def subject_of(outage_id: int) -> str:
    """The outbox subject grouping every push about one outage."""
    return f"outage:{outage_id}"


def describe(outage: Outage) -> dict:
    """The outage as a push payload's neutral facts (rendered per language later)."""
    return {
        "outage_id": outage.id,
        "outage_kind": outage.kind.value,
        "starts_at": outage.starts_at.isoformat(),
        "ends_at": outage.ends_at.isoformat() if outage.ends_at else None,
        "reason": outage.reason,
        "groups": sorted({t.outage_group for t in outage.targets if t.outage_group}),
        "streets": [
            {"settlement": t.settlement, "street": t.street, "buildings": list(t.buildings)}
            for t in outage.targets
            if t.street
        ],
    }


def _topic(outage: Outage) -> Topic:
    return Topic.OUTAGES_PLANNED if outage.kind == OutageKind.PLANNED else Topic.OUTAGES_EMERGENCY


def _version(outage: Outage) -> str:
    # Events are per version of the outage: a change after publication is a new event,
    # so its alert is not mistaken for the first one by the (event, person) key.
    return outage.updated_at.strftime("%Y%m%dT%H%M%S%f")


async def _alert_targets(
    uow: AbstractUnitOfWork, outage: Outage, now: datetime, *, exclude_told: bool
) -> int:
    planned = outage.kind == OutageKind.PLANNED
    kind = PushKind.OUTAGE_PUBLISHED if planned else PushKind.OUTAGE_EMERGENCY
    if outage.kind == OutageKind.PLANNED and (outage.ends_at or outage.starts_at) <= now:
        # A planned outage published after it is over is history, not a warning;
        # emergencies are alerted whatever their start.
        return 0
    payload = {"kind": kind, **describe(outage)}
    return await uow.outbox.enqueue_outage_targets(
        outage,
        event=f"{subject_of(outage.id)}:alert:{_version(outage)}",
        topic=_topic(outage).value,
        payload=payload,
        now=now,
        exclude_told=exclude_told,
    )


async def publish_outage(uow: AbstractUnitOfWork, draft: OutageDraft, now: datetime) -> Outage:
    """Store a new outage and queue its alert to everyone it hits; the stored outage.

    With an `external_id` already known for the DSO, the existing outage is returned and
    nothing is queued (an import re-run publishes once).
    """
    outage, _ = await publish_outage_once(uow, draft, now)
    return outage


async def publish_outage_once(
    uow: AbstractUnitOfWork, draft: OutageDraft, now: datetime
) -> tuple[Outage, bool]:
    """`publish_outage`, also saying whether this call stored it (True) or found it (False).

    A grid system that retries after a timeout posts the same `external_id` several times
    at once: the database keeps one per DSO, and the publishers that lose the race return
    the winner's outage without queueing anything.
    """
    if draft.external_id:
        existing = await uow.outage_store.by_external_id(draft.dso_id, draft.external_id)
        if existing is not None:
            return existing, False
    outage = Outage(
        id=0,
        kind=OutageKind(draft.kind),
        dso_id=draft.dso_id,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        reason=draft.reason,
        targets=tuple(draft.targets),
        published_at=now,
        updated_at=now,
    )
    _validate(outage)
    stored = await uow.outage_store.add(outage, external_id=draft.external_id)
    if stored is None:
        assert draft.external_id is not None  # only a known external_id can collide
        winner = await uow.outage_store.by_external_id(draft.dso_id, draft.external_id)
        if winner is None:
            raise LookupError(f"outage {draft.external_id!r} collided but is not stored")
        return winner, False
    await _alert_targets(uow, stored, now, exclude_told=False)
    return stored, True


async def _load_open(uow: AbstractUnitOfWork, outage_id: int) -> Outage:
    outage = await uow.outage_store.get(outage_id)
    if outage is None:
        raise OutageNotFound(str(outage_id))
    if outage.cancelled or outage.restored_at is not None:
        raise OutageClosed(str(outage_id))
    return outage


def what_changed(before: Outage, after: Outage) -> dict:
    """{field: {"old": ..., "new": ...}} for start, end, reason and targets."""
    old, new = describe(before), describe(after)
    changed = {}
    for name in ("starts_at", "ends_at", "reason", "groups", "streets"):
        if old[name] != new[name]:
            changed[name] = {"old": old[name], "new": new[name]}
    return changed


async def update_outage(
    uow: AbstractUnitOfWork, outage_id: int, changes: OutageChanges, now: datetime
) -> Outage:
    """Apply changes; tell those already told what changed (or that it no longer hits
    them); alert the newly hit; withdraw alerts not yet sent and re-queue them with news.
    Returns the outage as stored; nothing is queued when nothing changed."""
    before = await _load_open(uow, outage_id)
    after = replace(
        before,
        starts_at=changes.starts_at or before.starts_at,
        ends_at=None if changes.clear_end else (changes.ends_at or before.ends_at),
        reason=before.reason if changes.reason is None else changes.reason,
        targets=before.targets if changes.targets is None else tuple(changes.targets),
        updated_at=now,
    )
    _validate(after)
    changed = what_changed(before, after)
    if not changed:
        return before
    await uow.outage_store.save(after)
    subject = subject_of(outage_id)
    await uow.outbox.supersede_pending(subject, now)
    base = {"kind": PushKind.OUTAGE_CHANGED, **describe(after), "changed": changed}
    event = f"{subject}:changed:{_version(after)}"
    await uow.outbox.enqueue_told(
        subject,
        event,
        _topic(after).value,
        {**base, "affected": True},
        now,
        outage=after,
        still_targeted=True,
    )
    if "groups" in changed or "streets" in changed:
        await uow.outbox.enqueue_told(
            subject,
            event,
            _topic(after).value,
            {**base, "affected": False},
            now,
            outage=after,
            still_targeted=False,
        )
    # Everyone hit now and not told yet (newly targeted, or whose alert was withdrawn)
    # gets the alert with the current facts.
    await _alert_targets(uow, after, now, exclude_told=True)
    return after


async def cancel_outage(
    uow: AbstractUnitOfWork, outage_id: int, now: datetime, reason: str = ""
) -> Outage:
    """Cancel it; withdraw alerts not yet sent; tell those told who it still hit."""
    before = await _load_open(uow, outage_id)
    after = replace(before, cancelled=True, updated_at=now)
    await uow.outage_store.save(after)
    subject = subject_of(outage_id)
    await uow.outbox.supersede_pending(subject, now)
    await uow.outbox.enqueue_told(
        subject,
        f"{subject}:cancelled",
        _topic(after).value,
        {"kind": PushKind.OUTAGE_CANCELLED, **describe(after), "note": reason},
        now,
        # Those told it no longer hits them heard the last word already.
        outage=after,
        still_targeted=True,
    )
    return after


async def restore_outage(
    uow: AbstractUnitOfWork, outage_id: int, now: datetime, restored_at: datetime | None = None
) -> Outage:
    """Power is back: record when, withdraw alerts not yet sent, tell those told who it
    still hit."""
    before = await _load_open(uow, outage_id)
    after = replace(before, restored_at=restored_at or now, updated_at=now)
    await uow.outage_store.save(after)
    subject = subject_of(outage_id)
    await uow.outbox.supersede_pending(subject, now)
    await uow.outbox.enqueue_told(
        subject,
        f"{subject}:restored",
        _topic(after).value,
        {
            "kind": PushKind.OUTAGE_RESTORED,
            **describe(after),
            "restored_at": (restored_at or now).isoformat(),
        },
        now,
        outage=after,
        still_targeted=True,
    )
    return after


def evening_before(outage: Outage, zone: tzinfo) -> datetime:
    """18:00 business time on the day before the outage starts."""
    local_day = outage.starts_at.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(local_day, EVENING_AT, tzinfo=zone)


async def queue_due_reminders(uow: AbstractUnitOfWork, now: datetime, zone: tzinfo) -> int:
    """The evening-before and hour-before alerts that are due now; each stage once.

    Idempotent: a stage whose event has rows is skipped, and the (event, person) key keeps
    a re-run from doubling anything. A stage is skipped when the outage was published
    after it was due (the publication alert said it all), and the evening alert is skipped
    once the hour-before one is due.
    """
    queued = 0
    # Evening reminders are due up to ~30 h before a start; look that far ahead.
    for outage in await uow.outage_store.planned_starting(now, now + timedelta(hours=31)):
        subject = subject_of(outage.id)
        stages = []
        hour_due = outage.starts_at - HOUR_BEFORE
        evening_due = evening_before(outage, zone)
        if hour_due <= now and outage.published_at < hour_due:
            stages.append(("hour", PushKind.OUTAGE_HOUR))
        elif evening_due <= now < hour_due and outage.published_at < evening_due:
            stages.append(("evening", PushKind.OUTAGE_EVENING))
        for stage, kind in stages:
            event = f"{subject}:{stage}"
            if await uow.outbox.event_queued(subject, event):
                continue
            queued += await uow.outbox.enqueue_outage_targets(
                outage,
                event=event,
                topic=_topic(outage).value,
                payload={"kind": kind, **describe(outage)},
                now=now,
            )
    return queued
