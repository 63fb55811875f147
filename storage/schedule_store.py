"""Outage schedules in SQL: versions per group and day, people's schedule settings, and
set-based enqueueing of schedule pushes into the outbox (migration 0004).

A push is one `INSERT ... SELECT` per event, with each person's route picked by the
outbox's ranking (`storage.outbox`). Texts are rendered per language before the insert
(the delivery renderer knows no schedule kinds): the payload is the outbox's plain
`{"kind": "text"}` push, chosen per person's language by a CASE in the same statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    String,
    UniqueConstraint,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement, Select

from core.delivery import Topic, lane_of
from core.model import Channel
from core.ports import AbstractScheduleStore
from core.records import DEFAULT_REMINDER, DaySchedule, ScheduleSettings
from storage.locks import lock_for_transaction
from storage.orm import (
    AccountLinkRow,
    AccountRow,
    Base,
    PersonRow,
    ScheduleSettingsRow,
    UtcDateTime,
)
from storage.outbox import PENDING, _routes, insert_outbox_rows, outbox

_TOPIC = Topic.OUTAGES_PLANNED.value
"""Schedule pushes follow the person's planned-outage switch."""


class OutageScheduleRow(Base):
    """One version of a group's day: 48 slots ("-" off, "?" possible, "+" on)."""

    __tablename__ = "outage_schedules"
    __table_args__ = (UniqueConstraint("outage_group", "day", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_group: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    slots: Mapped[str] = mapped_column(String(48))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime())


_schedules = OutageScheduleRow.__table__
_settings = ScheduleSettingsRow.__table__
_accounts = AccountRow.__table__
_links = AccountLinkRow.__table__
_persons = PersonRow.__table__


def _schedule(row: OutageScheduleRow) -> DaySchedule:
    return DaySchedule(
        row.outage_group, row.day, row.slots, row.published_at, row.version, row.confirmed_at
    )


def _in_quiet(minute: int) -> ColumnElement[bool]:
    """The person's quiet hours hold `minute` (windows may span midnight)."""
    low, high = _settings.c.quiet_from, _settings.c.quiet_to
    return and_(
        low.is_not(None),
        high.is_not(None),
        or_(
            and_(low < high, low <= minute, high > minute),
            and_(low > high, or_(low <= minute, high > minute)),
        ),
    )


class SqlAlchemyScheduleStore(AbstractScheduleStore):
    """The schedule store on the unit of work's session; `on` are the channels that are on
    in the installation (None: every channel), for routing its pushes."""

    def __init__(self, session: AsyncSession, on: Collection[Channel] | None = None) -> None:
        self.session = session
        self.on = on

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def latest(self, group: str, day: date) -> DaySchedule | None:
        # The next version is the latest + 1: two publishers take turns (the lock lasts
        # until the transaction ends), so the second stores the next version or finds the
        # same slots, instead of failing on the unique (group, day, version). One lock for
        # all groups and days: a publish covers several, and per-day locks taken in the
        # publishers' own orders could deadlock; publishing is rare.
        await lock_for_transaction(self.session, "schedules")
        row = await self.session.scalar(
            select(OutageScheduleRow)
            .where(OutageScheduleRow.outage_group == group, OutageScheduleRow.day == day)
            .order_by(OutageScheduleRow.version.desc())
            .limit(1)
        )
        return _schedule(row) if row else None

    async def add(self, schedule: DaySchedule) -> DaySchedule:
        row = OutageScheduleRow(
            outage_group=schedule.group,
            day=schedule.day,
            version=schedule.version,
            slots=schedule.slots,
            published_at=schedule.published_at,
            confirmed_at=schedule.as_of,
        )
        self.session.add(row)
        # Two publishers of one group's day at once: the unique (group, day, version)
        # fails the second transaction instead of storing two "version 2"s.
        await self.session.flush()
        return _schedule(row)

    async def confirm(self, schedule: DaySchedule, at: datetime) -> None:
        await self.session.execute(
            update(_schedules)
            .where(
                _schedules.c.outage_group == schedule.group,
                _schedules.c.day == schedule.day,
                _schedules.c.version == schedule.version,
            )
            .values(confirmed_at=at)
        )

    async def latest_for_days(
        self, days: Sequence[date], groups: Sequence[str] | None = None
    ) -> Sequence[DaySchedule]:
        newest = (
            select(
                _schedules.c.outage_group,
                _schedules.c.day,
                func.max(_schedules.c.version).label("version"),
            )
            .where(_schedules.c.day.in_(list(days)))
            .group_by(_schedules.c.outage_group, _schedules.c.day)
        )
        if groups is not None:
            newest = newest.where(_schedules.c.outage_group.in_(list(groups)))
        n = newest.subquery("n")
        rows = await self.session.scalars(
            select(OutageScheduleRow)
            .join(
                n,
                and_(
                    OutageScheduleRow.outage_group == n.c.outage_group,
                    OutageScheduleRow.day == n.c.day,
                    OutageScheduleRow.version == n.c.version,
                ),
            )
            .order_by(OutageScheduleRow.outage_group, OutageScheduleRow.day)
        )
        return [_schedule(row) for row in rows]

    async def settings(self, person_id: int) -> ScheduleSettings:
        row = await self.session.get(ScheduleSettingsRow, person_id)
        if row is None:
            return ScheduleSettings()
        return ScheduleSettings(row.remind_minutes, row.remind_on, row.quiet_from, row.quiet_to)

    async def save_settings(self, person_id: int, settings: ScheduleSettings) -> None:
        row = await self.session.get(ScheduleSettingsRow, person_id)
        if row is None:
            row = ScheduleSettingsRow(person_id=person_id)
            self.session.add(row)
        row.remind_minutes = settings.remind_minutes
        row.remind_on = settings.remind_on
        row.quiet_from = settings.quiet_from
        row.quiet_to = settings.quiet_to
        await self.session.flush()

    def _members(self, group: str) -> Select[Any]:
        """Persons linked to an account of the group (one row per link: the ranking's
        window function keeps one per person)."""
        return (
            select(_links.c.person_id, literal("", String).label("ref"))
            .join(_accounts, _accounts.c.id == _links.c.account_id)
            .where(_accounts.c.outage_group == group)
        )

    async def enqueue_group(
        self, group: str, event: str, subject: str, texts: Mapping[str, str], now: datetime
    ) -> int:
        return await self._insert(self._members(group), event, subject, texts, now)

    async def enqueue_reminder(
        self,
        group: str,
        event: str,
        subject: str,
        texts: Mapping[str, str],
        now: datetime,
        *,
        minutes_left: int,
        before_on: bool,
        local_minute: int,
    ) -> int:
        members = self._members(group).subquery("m")
        lead = func.coalesce(_settings.c.remind_minutes, DEFAULT_REMINDER)
        conditions = [
            lead > 0,
            lead >= minutes_left,
            not_(func.coalesce(_in_quiet(local_minute), False)),
        ]
        if before_on:
            conditions.append(func.coalesce(_settings.c.remind_on, False) == true())
        recipients = (
            select(members.c.person_id, members.c.ref)
            .outerjoin(_settings, _settings.c.person_id == members.c.person_id)
            .where(*conditions)
        )
        return await self._insert(recipients, event, subject, texts, now)

    async def _event_queued(self, subject: str, event: str) -> bool:
        found = await self.session.scalar(
            select(outbox.c.id).where(outbox.c.subject == subject, outbox.c.event == event).limit(1)
        )
        return found is not None

    async def _insert(
        self,
        recipients: Select[Any],
        event: str,
        subject: str,
        texts: Mapping[str, str],
        now: datetime,
    ) -> int:
        """INSERT ... SELECT of the best route per recipient, the text in their language;
        ON CONFLICT on the outbox key: an event reaches a person once."""
        routes = _routes(recipients, _TOPIC, now, None, self._dialect, self.on).subquery("best")
        default = texts.get("uk") or next(iter(texts.values()))
        language = func.lower(func.substr(func.coalesce(_persons.c.locale, ""), 1, 2))
        whens = [
            (language == locale, literal({"kind": "text", "text": body}, JSON))
            for locale, body in sorted(texts.items())
            if body != default
        ]
        fallback = literal({"kind": "text", "text": default}, JSON)
        payload = case(*whens, else_=fallback) if whens else fallback
        # The outbox's key layout: a hash of the event, then the zero-padded person id, so
        # one event's rows append to the unique index in order.
        prefix = hashlib.blake2b(event.encode(), digest_size=8).hexdigest()
        if self._dialect == "postgresql":
            padded = func.lpad(cast(routes.c.person_id, String), 12, "0")
            await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
        else:
            padded = func.printf("%012d", routes.c.person_id)
        rows = (
            select(
                literal(prefix, String(16)) + routes.c.ref + literal("|", String(1)) + padded,
                routes.c.identity_id,
                routes.c.person_id,
                routes.c.channel,
                payload,
                literal(PENDING, String(20)),
                literal(0, Integer),
                literal(now, UtcDateTime()),
                literal(event, String(160)) + routes.c.ref,
                literal(subject, String(80)),
                literal(_TOPIC, String(40)),
                literal(lane_of(_TOPIC), Integer),
            )
            .select_from(routes)
            .join(_persons, _persons.c.id == routes.c.person_id)
            .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
        )
        # A new version's event has no rows yet: a plain INSERT skips the per-row conflict
        # check (a fifth of a big broadcast's cost); the unique key still guards a race.
        first = not await self._event_queued(subject, event)
        return await insert_outbox_rows(self.session, rows, plain=first)
