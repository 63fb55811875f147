"""The outbox in SQL: set-based enqueueing with channel choice, and claims for delivery.

Enqueueing is one `INSERT ... SELECT ... ON CONFLICT (dedup_key) DO NOTHING` per event:
recipients come from a subquery (accounts an outage targets, persons already told, ...),
each person's route is picked with a window function (`ROW_NUMBER() OVER (PARTITION BY
person ORDER BY rank)`) using the ranks of `core.delivery`. No Python loop over people.

Delivery claims rows per channel (`OutboxQueue`) under the lock of the channel rate's row
in `delivery_pace`, the one send schedule all processes share: each claim takes the next
slots of its rate for its rows, so the rate limit holds across processes. Row life:
pending → claimed → sending → sent | pending (retry) | failed | undeliverable; pending →
superseded (an outage changed). A claimed row
whose worker died goes back to pending; a row that was `sending` when its worker died
becomes `uncertain` and is not sent again (it may have reached the person).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from core import channels as channel_rules
from core.delivery import (
    RANK_BILLED,
    RANK_EMAIL,
    RANK_FREE,
    RANK_IN_SESSION,
    RANK_OFF,
    RANK_TAGGED,
    SWITCHABLE,
    Topic,
    lane_of,
)
from core.model import Channel, Outage
from core.outages import building_range
from core.ports import AbstractOutboxRepository
from storage.addresses import settlement_key, street_key
from storage.orm import (
    AccountLinkRow,
    AccountRow,
    BillRow,
    ChannelIdentityRow,
    DialogStateRow,
    MeterRow,
    NotificationPrefsRow,
    PersonRow,
    SubmittedReadingRow,
    UtcDateTime,
)
from storage.repositories import dialect_insert

# The outbox as migration 0003 left it (storage.orm's OutboxRow predates these columns).
_metadata = MetaData()
outbox = Table(
    "outbox",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("identity_id", Integer),
    Column("person_id", Integer),
    Column("channel", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Column("last_error", Text),
    Column("event", String(160)),
    Column("subject", String(80)),
    Column("topic", String(40)),
    Column("claimed_at", UtcDateTime()),
    Column("claimed_by", String(80)),
    Column("lane", Integer, nullable=False),  # migration 0008
    Column("paid", Boolean, nullable=False),
)

PENDING = "pending"
CLAIMED = "claimed"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNDELIVERABLE = "undeliverable"
SUPERSEDED = "superseded"
UNCERTAIN = "uncertain"
TOLD = (CLAIMED, SENDING, SENT, UNCERTAIN)
"""Statuses of a push that reached (or may have reached) the person."""

_accounts = AccountRow.__table__
_links = AccountLinkRow.__table__
_identities = ChannelIdentityRow.__table__
_prefs = NotificationPrefsRow.__table__
_persons = PersonRow.__table__
_dialogs = DialogStateRow.__table__
_bills = BillRow.__table__
_meters = MeterRow.__table__
_readings = SubmittedReadingRow.__table__

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)

_pace = Table(
    "delivery_pace",
    _metadata,
    Column("rate_key", String(40), primary_key=True),
    Column("next_at", UtcDateTime(), nullable=False),
)


def _chose(channel: str | ColumnElement[Any]) -> ColumnElement[bool]:
    """The person's settings list the channel (JSON list text, e.g. '["telegram"]')."""
    as_text = cast(_prefs.c.channels, String)
    if isinstance(channel, str):
        return as_text.like(f'%"{channel}"%')
    return as_text.like(literal('%"', String) + channel + literal('"%', String))


def _wants(topic: str) -> ColumnElement[bool]:
    if Topic(topic) not in SWITCHABLE:
        return true()
    return func.coalesce(_prefs.c[topic], true()) == true()


def _chose_any(channels: Collection[str]) -> ColumnElement[bool]:
    return or_(*(_chose(name) for name in sorted(channels))) if channels else false()


def _rank_whens(topic: str, now: datetime) -> list[tuple[ColumnElement[bool], int]]:
    """`core.delivery.rank` as CASE branches over a messenger identity and its dialog
    (whose `last_inbound_at` is the person's last message there, as the channel judges
    its session window; `updated_at`, the last change of the state, for rows older than
    that column), from the same channel rows; channels that rank alike share a branch."""
    channel = _identities.c.channel
    free: list[str] = []
    billed: list[str] = []
    inside: dict[timedelta, list[str]] = {}
    outside: dict[int, list[str]] = {RANK_BILLED: [], RANK_TAGGED: []}
    for policy in channel_rules.policies():
        if not policy.messenger:
            continue
        name = str(policy.channel)  # the plain string of the registered Channel
        if policy.session is None:
            (billed if policy.billed else free).append(name)
            continue
        inside.setdefault(policy.session, []).append(name)
        if policy.billed:
            outside[RANK_BILLED].append(name)
        elif policy.tag(topic) is not None:
            outside[RANK_TAGGED].append(name)
    whens: list[tuple[ColumnElement[bool], int]] = []
    if free:
        whens.append((channel.in_(free), RANK_FREE))
    for session, names in inside.items():
        last_wrote = func.coalesce(_dialogs.c.last_inbound_at, _dialogs.c.updated_at)
        recent = last_wrote > now - session
        whens.append((and_(channel.in_(names), recent), RANK_IN_SESSION))
    if billed:
        whens.append((channel.in_(billed), RANK_BILLED))
    for rank, names in outside.items():
        if names:
            whens.append((channel.in_(names), rank))
    return whens


def _routes(
    recipients: Select,
    topic: str,
    now: datetime,
    prefer: Channel | None = None,
    dialect: str = "postgresql",
    on: Collection[Channel] | None = None,
) -> Select[Any]:
    """(person_id, ref, identity_id, channel) of the best route per (person, ref).

    `recipients` yields columns person_id and ref (a string added to the event, "" for
    one push per person). `on`: the channels that are on in the installation (None: all);
    the choice is `core.delivery.allowed_channels`, in SQL.
    """
    usable = sorted(c.value for c in (on if on is not None else Channel))
    # A CTE: both branches below read the recipients, which are computed once.
    # Duplicates (a person with several accounts hit) need no DISTINCT: the window
    # function keeps one row per (person, ref).
    # (SQLite: a subquery; its driver reports no row count for a statement that starts
    # with WITH, and SQLite runs small single-process installations anyway.)
    r = recipients.cte("r") if dialect == "postgresql" else recipients.subquery("r")
    rank_whens: list[tuple[ColumnElement[bool], int]] = []
    if prefer is not None:
        rank_whens.append((_identities.c.channel == prefer.value, -1))
    rank_whens += _rank_whens(topic, now)
    on_here = _identities.c.channel.in_(usable)
    # A messenger that is off here ranks after every channel that is on (core.delivery).
    rank = case(*rank_whens, else_=null()) + case((on_here, 0), else_=RANK_OFF)
    offered = [c.value for c in channel_rules.offered_messengers()]
    # Messengers a person cannot choose (the console) follow any chosen messenger.
    followers = [c.value for c in channel_rules.messengers() if c.value not in offered]
    address_channels = [str(p.channel) for p in channel_rules.policies() if not p.messenger]
    any_messenger = _chose_any([name for name in offered if name in usable])
    # Nothing they chose is on: every messenger they use, as without settings (a choice
    # made empty on purpose silences the switchable topics only).
    nothing_on = not_(_chose_any(usable))
    if Topic(topic) in SWITCHABLE:
        nothing_on = and_(nothing_on, _chose_any([c.value for c in Channel]))
    allowed = or_(
        and_(_prefs.c.person_id.is_(None), _identities.c.channel.not_in(address_channels)),
        and_(_chose(_identities.c.channel), on_here),
        and_(_identities.c.channel.in_(followers), any_messenger),
        and_(
            _prefs.c.person_id.is_not(None),
            nothing_on,
            _identities.c.channel.not_in(address_channels),
        ),
    )
    messengers = (
        select(
            r.c.person_id,
            r.c.ref,
            _identities.c.id.label("identity_id"),
            _identities.c.channel,
            rank.label("rank"),
        )
        .select_from(r)
        .join(_identities, _identities.c.person_id == r.c.person_id)
        .outerjoin(_prefs, _prefs.c.person_id == r.c.person_id)
        .outerjoin(
            _dialogs,
            and_(
                _dialogs.c.channel == _identities.c.channel,
                _dialogs.c.user_id == _identities.c.external_id,
            ),
        )
        .where(_identities.c.reachable == true(), allowed, _wants(topic), rank.is_not(None))
    )
    email_rank = -1 if prefer == Channel.EMAIL else RANK_EMAIL
    emails = (
        select(
            r.c.person_id,
            r.c.ref,
            cast(null(), Integer).label("identity_id"),
            literal(Channel.EMAIL.value, String(20)).label("channel"),
            literal(email_rank, Integer).label("rank"),
        )
        .select_from(r)
        .join(_persons, _persons.c.id == r.c.person_id)
        .join(_prefs, _prefs.c.person_id == r.c.person_id)
        .where(
            _persons.c.email.is_not(None),
            _persons.c.deleted_at.is_(None),
            _chose(Channel.EMAIL.value) if Channel.EMAIL.value in usable else false(),
            _wants(topic),
        )
    )
    candidates = union_all(messengers, emails).subquery("c")
    ranked = select(
        candidates.c.person_id,
        candidates.c.ref,
        candidates.c.identity_id,
        candidates.c.channel,
        func.row_number()
        .over(
            partition_by=(candidates.c.person_id, candidates.c.ref),
            order_by=(candidates.c.rank, candidates.c.identity_id),
        )
        .label("rn"),
    ).subquery("ranked")
    return select(ranked.c.person_id, ranked.c.ref, ranked.c.identity_id, ranked.c.channel).where(
        ranked.c.rn == 1
    )


def target_predicate(outage: Outage, settlements: Sequence[str]) -> ColumnElement[bool]:
    """Accounts an outage targets, as SQL over `accounts`.

    `settlements` are the distinct settlement spellings of the DSO's accounts: the ones
    whose normalised key equals a target's are matched by equality (SQLite cannot
    case-fold Cyrillic in SQL, so keys are compared in Python on this short list).
    """
    groups = sorted({t.outage_group for t in outage.targets if t.outage_group})
    clauses: list[ColumnElement[bool]] = []
    if groups:
        clauses.append(_accounts.c.outage_group.in_(groups))
    for target in outage.targets:
        if not target.street:
            continue
        parts: list[ColumnElement[bool]] = [_accounts.c.street_key == street_key(target.street)]
        if target.settlement:
            wanted = settlement_key(target.settlement)
            spellings = [name for name in settlements if settlement_key(name) == wanted]
            parts.append(_accounts.c.settlement.in_(spellings) if spellings else false())
        if target.buildings:
            parts.append(or_(*(_building_clause(spec) for spec in target.buildings)))
        clauses.append(and_(*parts))
    return or_(*clauses) if clauses else false()


def _building_clause(spec: str) -> ColumnElement[bool]:
    bounds = building_range(spec)
    if bounds is not None:
        # A range covers buildings whose leading number is in it ("7б" is in "1-15").
        # Regular expressions differ per dialect, so each number is matched as a prefix
        # not followed by another digit; ranges on one street are short.
        numbers = [str(n) for n in range(bounds[0], min(bounds[1], bounds[0] + 999) + 1)]
        building = _accounts.c.building
        return or_(
            building.in_(numbers),
            *(
                and_(building.like(f"{n}%"), not_(_digit_follows(building, len(n))))
                for n in numbers
            ),
        )
    variants = {spec.strip(), spec.strip().lower(), spec.strip().upper()}
    variants |= {v.replace(" ", "") for v in variants}
    return _accounts.c.building.in_(sorted(variants))


def _digit_follows(building: ColumnElement[Any], length: int) -> ColumnElement[bool]:
    next_char = func.substr(building, length + 1, 1)
    return next_char.in_([str(d) for d in range(10)])


class SqlAlchemyOutboxRepository(AbstractOutboxRepository):
    """The outbox port on the unit of work's session; `on` are the channels that are on in
    the installation (None: every channel)."""

    def __init__(self, session: AsyncSession, on: Collection[Channel] | None = None) -> None:
        self.session = session
        self.on = on

    async def _insert(
        self,
        routes: Select[Any],
        event: str,
        subject: str,
        topic: str,
        payload: dict,
        now: datetime,
        *,
        new_event: bool = False,
    ) -> int:
        """INSERT ... SELECT of the routes; `new_event` skips ON CONFLICT when no row of
        the event exists yet (its unique check per row is a fifth of a broadcast's cost;
        events of outages are named by outage and version, so no one else inserts them
        meanwhile, and if someone did the unique key would fail the transaction, never
        double a push)."""
        r = routes.subquery("best")
        event_expr = literal(event, String(160)) + r.c.ref
        # The key is short and grows with the person id within an event, so a broadcast
        # appends to the unique index instead of splitting pages all over it (the unique
        # index on the readable "event|person" text was half the cost of 100,000 rows).
        prefix = hashlib.blake2b(event.encode(), digest_size=8).hexdigest()
        rows = select(
            literal(prefix, String(16))
            + r.c.ref
            + literal("|", String(1))
            + self._padded(r.c.person_id),
            r.c.identity_id,
            r.c.person_id,
            r.c.channel,
            literal(payload, JSON),
            literal(PENDING, String(20)),
            literal(0, Integer),
            literal(now, UtcDateTime()),
            event_expr,
            literal(subject, String(80)),
            literal(topic, String(40)),
            literal(lane_of(topic), Integer),
        ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
        plain = new_event and not await self.event_queued(subject, event)
        if self._dialect == "postgresql":
            # The window function sorts every recipient; let it sort in memory (the default
            # 4 MB spills a 100,000-row broadcast to disk). For this transaction only.
            await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
        return await insert_outbox_rows(self.session, rows, plain=plain)

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _padded(self, number: ColumnElement[Any]) -> ColumnElement[Any]:
        """The id as 12 digits with leading zeros, so text order is number order."""
        if self.session.get_bind().dialect.name == "postgresql":
            return func.lpad(cast(number, String), 12, "0")
        return func.printf("%012d", number)

    async def enqueue_person(
        self,
        person_id: int,
        event: str,
        subject: str,
        topic: str,
        payload: dict,
        now: datetime,
        prefer: Channel | None = None,
    ) -> bool:
        recipients = select(
            literal(person_id, Integer).label("person_id"), literal("", String).label("ref")
        )
        routes = _routes(recipients, topic, now, prefer, self._dialect, self.on)
        return await self._insert(routes, event, subject, topic, payload, now) > 0

    async def _settlements(self, dso_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(_accounts.c.settlement).where(_accounts.c.dso_id == dso_id).distinct()
        )
        return list(rows)

    async def _targeted_persons(self, outage: Outage) -> Select[Any]:
        settlements = (
            await self._settlements(outage.dso_id)
            if any(t.settlement for t in outage.targets)
            else []
        )
        return (
            select(_links.c.person_id)
            .join(_accounts, _accounts.c.id == _links.c.account_id)
            .where(_accounts.c.dso_id == outage.dso_id, target_predicate(outage, settlements))
        )

    async def enqueue_outage_targets(
        self,
        outage: Outage,
        event: str,
        topic: str,
        payload: dict,
        now: datetime,
        exclude_told: bool = False,
    ) -> int:
        subject = f"outage:{outage.id}"
        persons = await self._targeted_persons(outage)
        if exclude_told:
            persons = persons.where(_links.c.person_id.not_in(self._told(subject)))
        recipients = select(persons.subquery("p").c.person_id, literal("", String).label("ref"))
        routes = _routes(recipients, topic, now, None, self._dialect, self.on)
        return await self._insert(routes, event, subject, topic, payload, now, new_event=True)

    @staticmethod
    def _told(subject: str) -> Select[Any]:
        return select(outbox.c.person_id).where(
            outbox.c.subject == subject, outbox.c.status.in_(TOLD)
        )

    async def enqueue_told(
        self,
        subject: str,
        event: str,
        topic: str,
        payload: dict,
        now: datetime,
        outage: Outage | None = None,
        still_targeted: bool | None = None,
    ) -> int:
        told = self._told(subject).where(outbox.c.person_id.is_not(None))
        if outage is not None and still_targeted is not None:
            targeted = (await self._targeted_persons(outage)).subquery("t")
            in_targets = outbox.c.person_id.in_(select(targeted.c.person_id))
            told = told.where(in_targets if still_targeted else not_(in_targets))
        told_sub = told.subquery("told")
        recipients = select(told_sub.c.person_id, literal("", String).label("ref"))
        # Topic settings do not silence a follow-up: whoever was told hears how it ended.
        routes = _routes(recipients, Topic.ANSWERS.value, now, None, self._dialect, self.on)
        return await self._insert(routes, event, subject, topic, payload, now)

    async def supersede_pending(self, subject: str, now: datetime) -> int:
        result = await self.session.execute(
            update(outbox)
            .where(outbox.c.subject == subject, outbox.c.status == PENDING)
            .values(status=SUPERSEDED, last_error="superseded by a change")
        )
        return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]

    async def queued_per_channel(self, subject: str) -> dict[tuple[Channel, str], int]:
        rows = await self.session.execute(
            select(outbox.c.channel, outbox.c.topic, func.count())
            .where(outbox.c.subject == subject, outbox.c.status != SUPERSEDED)
            .group_by(outbox.c.channel, outbox.c.topic)
        )
        return {(Channel(channel), topic or ""): count for channel, topic, count in rows}

    async def event_queued(self, subject: str, event: str) -> bool:
        found = await self.session.scalar(
            select(outbox.c.id).where(outbox.c.subject == subject, outbox.c.event == event).limit(1)
        )
        return found is not None

    async def enqueue_new_bills(
        self, periods: Sequence[str], account_ids: Sequence[int] | None, now: datetime
    ) -> int:
        queued = 0
        for period in periods:
            condition = _bills.c.period == period
            if account_ids is not None:
                condition = and_(condition, _bills.c.account_id.in_(list(account_ids)))
            recipients = (
                select(
                    _links.c.person_id,
                    (literal(":", String) + cast(_bills.c.account_id, String)).label("ref"),
                )
                .join(_bills, _bills.c.account_id == _links.c.account_id)
                .where(condition)
            )
            routes = _routes(recipients, Topic.NEW_BILLS.value, now, None, self._dialect, self.on)
            queued += await self._insert(
                routes,
                f"bill:{period}",
                f"bill:{period}",
                Topic.NEW_BILLS.value,
                {"kind": "bill.new", "period": period},
                now,
            )
        return queued

    async def enqueue_reading_reminders(
        self, period: str, window_opens: datetime, payload: dict, now: datetime
    ) -> int:
        has_reading = exists(
            select(_readings.c.id).where(
                _readings.c.account_id == _links.c.account_id,
                _readings.c.taken_at >= window_opens,
            )
        )
        has_meter = exists(
            select(_meters.c.id).where(
                _meters.c.account_id == _links.c.account_id, _meters.c.removed_on.is_(None)
            )
        )
        recipients = (
            select(_links.c.person_id, literal("", String).label("ref"))
            .where(has_meter, not_(has_reading))
            .distinct()
        )
        routes = _routes(
            recipients, Topic.READING_REMINDERS.value, now, None, self._dialect, self.on
        )
        event = f"reading:{period}"
        return await self._insert(routes, event, event, Topic.READING_REMINDERS.value, payload, now)


# --- delivery side ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedPush:
    """A row a worker holds, with what it needs to render and send it."""

    id: int
    person_id: int | None
    identity_id: int | None
    channel: Channel
    external_id: str | None
    email: str | None
    locale: str | None
    payload: dict
    topic: str
    event: str
    attempts: int
    lane: int = 2
    paid: bool = False  # claimed for a paid send (Telegram's allow_paid_broadcast)
    send_at: float = 0.0  # its slot in the rate's shared schedule (Unix time; 0: now)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed push."""

    id: int
    status: str  # SENT, PENDING (retry), FAILED, UNDELIVERABLE
    error: str | None = None
    next_attempt_at: datetime | None = None
    identity_id: int | None = None  # a new route (re-routed after UNREACHABLE)
    channel: Channel | None = None


def _utc(value: Any) -> datetime:
    # max(CASE ...) comes back untyped: SQLite gives the stored text, PostgreSQL a datetime.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# How far ahead of now a rate's schedule may be taken: the next claims are in hand before
# the current ones are sent, and an emergency alert waits at most this long behind rows
# already claimed (every lane shares the schedule).
SCHEDULE_AHEAD = timedelta(milliseconds=500)
# A claim takes at most this much of the rate: a second's sends leave in a few batches
# spread over the second and over the processes, not in one burst.
CLAIM_SECONDS = 0.25


# `OutboxQueue.mark_sending` as one PostgreSQL statement for `mark_on_the_wire`
# (SENDING, CLAIMED).
_MARK_SENDING = (
    "UPDATE outbox SET status = 'sending' "
    "WHERE id = ANY($1::integer[]) AND status = 'claimed' AND claimed_by = $2 "
    "RETURNING id"
)


def rate_key(channel: Channel, paid: bool) -> str:
    """The schedule a claim takes its slots from: the channel's free or paid rate."""
    return f"{channel.value}:paid" if paid else channel.value


class OutboxQueue:
    """Claims, marks and finishes outbox rows for delivery workers (own short transactions).

    `limit_per_second` holds across processes: each claim takes its rows' send slots from
    the channel's row in `delivery_pace` under that row's lock (one even stream for all
    workers, `ClaimedPush.send_at`); `FOR UPDATE SKIP LOCKED` is not needed, since the lock
    serialises the claims of a channel.
    """

    def __init__(self, engine: AsyncEngine, worker_id: str, user_id: str | None = None) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.dialect = engine.dialect.name
        # A console chat delivers only to its own user: other consoles (other users, or
        # none open) keep theirs pending until their chat opens.
        self.user_id = user_id
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine
        )
        # The `sending` mark's statement, prepared on each database connection that ran it.
        self._marks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def claim(
        self,
        channel: Channel,
        batch: int,
        limit_per_second: float,
        now: datetime,
        *,
        topics: Collection[str | None] | None = None,
        paid: bool = False,
        oldest_first: bool = False,
    ) -> tuple[list[ClaimedPush], float]:
        """Up to `batch` due rows of a channel with their send slots; (rows, seconds to wait
        when the rate's schedule is taken further ahead than SCHEDULE_AHEAD).

        The rows' slots follow each other at `limit_per_second` from the later of now and
        the end of the last claim's slots (of any worker, any process): sent at their
        `send_at`, all workers' sends together stay within the rate. Rows of the highest
        lane first, oldest first within a lane; `oldest_first` takes the oldest due rows
        whatever their lane (the workers do that every few claims, so a lower lane never
        starves). `topics`: only rows of these topics (None: every topic). `paid`: a claim
        for paid sends, on the channel's paid schedule.
        """
        key = rate_key(channel, paid)
        async with self.engine.begin() as connection:
            scheduled = await self._lock_schedule(connection, key, now)
            # The wall clock after the lock: waiting for it must not let a claim take slots
            # in the past (they would go out at once, on top of the others').
            now = max(now, datetime.now(UTC))
            start = max(now, scheduled)
            if start - now > SCHEDULE_AHEAD:
                return [], (start - now - SCHEDULE_AHEAD).total_seconds()
            size = min(batch, max(1, math.ceil(limit_per_second * CLAIM_SECONDS)))
            ids = list(
                await connection.scalars(self._due(channel, topics, size, now, oldest_first))
            )
            if not ids:
                return [], 0.0
            # Claims of one channel are serialised by the schedule row's lock; the status
            # check drops a row superseded meanwhile.
            claimed_ids = await connection.scalars(
                update(outbox)
                .where(outbox.c.id.in_(ids), outbox.c.status == PENDING)
                .values(
                    status=CLAIMED,
                    claimed_at=now,
                    claimed_by=self.worker_id,
                    attempts=outbox.c.attempts + 1,
                    paid=paid,
                )
                .returning(outbox.c.id)
            )
            ids = list(claimed_ids)
            if not ids:
                return [], 0.0
            rows = await connection.execute(
                select(
                    outbox.c.id,
                    outbox.c.person_id,
                    outbox.c.identity_id,
                    outbox.c.channel,
                    _identities.c.external_id,
                    _persons.c.email,
                    _persons.c.locale,
                    outbox.c.payload,
                    outbox.c.topic,
                    outbox.c.event,
                    outbox.c.attempts,
                    outbox.c.lane,
                )
                .select_from(outbox)
                .outerjoin(_identities, _identities.c.id == outbox.c.identity_id)
                .outerjoin(_persons, _persons.c.id == outbox.c.person_id)
                .where(outbox.c.id.in_(ids))
                .order_by(outbox.c.lane, outbox.c.id)
            )
            step = 1.0 / limit_per_second if limit_per_second > 0 else 0.0
            first = start.timestamp()
            claimed = [
                ClaimedPush(
                    id=row.id,
                    person_id=row.person_id,
                    identity_id=row.identity_id,
                    channel=Channel(row.channel),
                    external_id=row.external_id,
                    email=row.email,
                    locale=row.locale,
                    payload=row.payload
                    if isinstance(row.payload, dict)
                    else json.loads(row.payload),
                    topic=row.topic or "",
                    event=row.event or "",
                    attempts=row.attempts,
                    lane=row.lane,
                    paid=paid,
                    send_at=first + number * step,
                )
                for number, row in enumerate(rows)
            ]
            await connection.execute(
                update(_pace)
                .where(_pace.c.rate_key == key)
                .values(next_at=start + timedelta(seconds=len(claimed) * step))
            )
        return claimed, 0.0

    async def reschedule(self, channel: Channel, paid: bool, count: int, rate: float) -> float:
        """New slots for `count` sends whose own slots passed unused (the worker was paused
        by a 429 or held up): the start of the first (Unix time), after every slot taken
        so far. Sent at their old slots they would go out on top of others' sends."""
        key = rate_key(channel, paid)
        async with self.engine.begin() as connection:
            scheduled = await self._lock_schedule(connection, key, datetime.now(UTC))
            start = max(datetime.now(UTC), scheduled)
            await connection.execute(
                update(_pace)
                .where(_pace.c.rate_key == key)
                .values(next_at=start + timedelta(seconds=count / rate if rate > 0 else 0.0))
            )
        return start.timestamp()

    async def _lock_schedule(self, connection: Any, key: str, now: datetime) -> datetime:
        """The rate's schedule, locked until the claim's transaction ends (created at `now`
        the first time): one round trip, which also serialises the channel's claims."""
        statement = dialect_insert(self.dialect, _pace).values(rate_key=key, next_at=now)
        locked = statement.on_conflict_do_update(
            index_elements=[_pace.c.rate_key], set_={"rate_key": statement.excluded.rate_key}
        ).returning(_pace.c.next_at)
        return _utc(await connection.scalar(locked))

    def _due(
        self,
        channel: Channel,
        topics: Collection[str | None] | None,
        size: int,
        now: datetime,
        oldest_first: bool,
    ) -> Select[Any]:
        """The ids to claim: the oldest `size` due rows of each topic (one range of
        ix_outbox_pending each), then the best `size` of those by lane and age."""
        wanted: list[str | None] = (
            [topic.value for topic in Topic] + [None] if topics is None else list(topics)
        )
        parts = []
        for topic in wanted:
            of_topic = outbox.c.topic.is_(None) if topic is None else outbox.c.topic == topic
            part = (
                select(outbox.c.id, outbox.c.lane)
                .where(
                    outbox.c.channel == channel.value,
                    outbox.c.status == PENDING,
                    of_topic,
                    or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
                    *self._only_user(channel),
                )
                .order_by(outbox.c.id)
                .limit(size)
                .subquery()
            )
            # Wrapped: SQLite allows no ORDER BY / LIMIT in a member of a UNION itself.
            parts.append(select(part.c.id, part.c.lane))
        if not parts:
            return select(outbox.c.id).where(false())
        every = union_all(*parts).subquery("due") if len(parts) > 1 else parts[0].subquery("due")
        order = (every.c.id,) if oldest_first else (every.c.lane, every.c.id)
        return select(every.c.id).order_by(*order).limit(size)

    def _only_user(self, channel: Channel) -> list[ColumnElement[bool]]:
        if self.user_id is None:
            return []
        identity = select(_identities.c.id).where(
            _identities.c.channel == channel.value, _identities.c.external_id == self.user_id
        )
        return [outbox.c.identity_id.in_(identity)]

    async def mark_sending(self, ids: Sequence[int]) -> set[int]:
        """Right before the platform calls: from here a crash leaves them `uncertain`.
        The ids still claimed by this worker (a change may have withdrawn none: claimed
        rows are never superseded, so this is all of them unless recovered meanwhile)."""
        if not ids:
            return set()
        # One statement, atomic on its own: on PostgreSQL autocommit saves the BEGIN and
        # COMMIT round trips, which the part's calls would wait for (SQLite's transactions
        # cost none, and its connections keep their own BEGIN: storage.database).
        async with self._single.begin() as connection:
            result = await connection.execute(
                update(outbox)
                .where(
                    outbox.c.id.in_(list(ids)),
                    outbox.c.status == CLAIMED,
                    outbox.c.claimed_by == self.worker_id,
                )
                .values(status=SENDING)
                .returning(outbox.c.id)
            )
            return set(result.scalars())

    async def mark_on_the_wire(self, ids: Sequence[int]) -> asyncio.Future[set[int]] | None:
        """Put the `sending` mark of these rows on its way and return once its statement's
        bytes are written, with the answer (the ids marked) still to come; None where that
        cannot be known (SQLite: use `mark_sending`).

        PostgreSQL runs and commits a statement it has received even if the client dies
        the next instant, so calls written after this return are covered by the mark
        without waiting the commit's round trip (and its flush to disk) — the stretch in
        which a killed worker would leave a marked row whose call never left. The cost:
        the calls go before the answer says which rows were marked; the caller uses this
        only while its claim is far from being recovered by others.
        """
        if self.dialect != "postgresql" or not ids:
            return None
        connection = await self._single.connect()
        try:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # a checked-out connection has its driver's
            statement = self._marks.get(driver)
            if statement is None:
                # A statement prepared once per connection: executing it writes at once,
                # with no round trip to prepare it first.
                statement = await driver.prepare(_MARK_SENDING)
                self._marks[driver] = statement
            answer = asyncio.ensure_future(statement.fetch(list(ids), self.worker_id))
            # The task's first step writes Bind/Execute/Sync and waits for the answer; it
            # runs before this coroutine resumes.
            await asyncio.sleep(0)
            failed = answer.exception() if answer.done() else None
            if failed is not None:
                raise failed
        except BaseException:
            await connection.close()
            raise

        async def marked() -> set[int]:
            try:
                return {row[0] for row in await answer}
            finally:
                await connection.close()

        return asyncio.ensure_future(marked())

    async def finish(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Record what became of pushes, in one transaction."""
        if not outcomes:
            return
        async with self.engine.begin() as connection:
            sent = [o.id for o in outcomes if o.status == SENT]
            if sent:
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(sent))
                    .values(status=SENT, sent_at=now, last_error=None)
                )
            for outcome in outcomes:
                if outcome.status == SENT:
                    continue
                values: dict[str, Any] = {
                    "status": outcome.status,
                    "last_error": (outcome.error or "")[:1000],
                    "next_attempt_at": outcome.next_attempt_at,
                }
                if outcome.channel is not None:
                    values["channel"] = outcome.channel.value
                    values["identity_id"] = outcome.identity_id
                await connection.execute(
                    update(outbox).where(outbox.c.id == outcome.id).values(**values)
                )

    async def recover(self, stale_before: datetime) -> tuple[int, int]:
        """Rows of dead workers: claimed → pending again; sending → uncertain (never sent
        twice). (re-queued, uncertain)."""
        async with self.engine.begin() as connection:
            requeued = await connection.execute(
                update(outbox)
                .where(outbox.c.status == CLAIMED, outbox.c.claimed_at < stale_before)
                .values(status=PENDING, claimed_by=None)
            )
            uncertain = await connection.execute(
                update(outbox)
                .where(outbox.c.status == SENDING, outbox.c.claimed_at < stale_before)
                .values(status=UNCERTAIN, last_error="worker died while sending")
            )
        return max(requeued.rowcount or 0, 0), max(uncertain.rowcount or 0, 0)

    async def routes_of(self, person_id: int) -> list[tuple[int, Channel, str, bool, Any]]:
        """(identity id, channel, external id, reachable, last inbound) of a person."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(
                    _identities.c.id,
                    _identities.c.channel,
                    _identities.c.external_id,
                    _identities.c.reachable,
                    _dialogs.c.updated_at,
                )
                .select_from(_identities)
                .outerjoin(
                    _dialogs,
                    and_(
                        _dialogs.c.channel == _identities.c.channel,
                        _dialogs.c.user_id == _identities.c.external_id,
                    ),
                )
                .where(_identities.c.person_id == person_id)
            )
            return [
                (row.id, Channel(row.channel), row.external_id, row.reachable, row.updated_at)
                for row in rows
            ]

    async def offer_step(self, channel: Channel, user_id: str, state: str, data: dict) -> bool:
        """Put an idle conversation into a step (a reminder's reply goes straight to it).

        A conversation in the middle of something else is left alone. `updated_at` is not
        touched: it tells when the person last wrote (the 24-hour windows), and a push is
        not the person writing. False when the conversation was busy.
        """
        async with self.engine.begin() as connection:
            changed = await connection.execute(
                update(_dialogs)
                .where(
                    _dialogs.c.channel == channel.value,
                    _dialogs.c.user_id == user_id,
                    _dialogs.c.state == "",
                )
                .values(state=state, data=data)
            )
            if changed.rowcount:
                return True
            exists_already = await connection.scalar(
                select(_dialogs.c.user_id).where(
                    _dialogs.c.channel == channel.value, _dialogs.c.user_id == user_id
                )
            )
            if exists_already is not None:
                return False
            await connection.execute(
                dialect_insert(self.dialect, _dialogs)
                .values(
                    channel=channel.value,
                    user_id=user_id,
                    state=state,
                    data=data,
                    updated_at=_NEVER,
                )
                .on_conflict_do_nothing()
            )
            return True

    async def counts(self) -> dict[str, int]:
        """Rows per status (metrics, tests, the benchmark)."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(outbox.c.status, func.count()).group_by(outbox.c.status)
            )
            return {status: count for status, count in rows}


_OUTBOX_COLUMNS = (
    "dedup_key",
    "identity_id",
    "person_id",
    "channel",
    "payload",
    "status",
    "attempts",
    "created_at",
    "event",
    "subject",
    "topic",
    "lane",
)


async def insert_outbox_rows(session: AsyncSession, rows: Select, *, plain: bool) -> int:
    """INSERT ... SELECT of outbox rows (columns in `_OUTBOX_COLUMNS` order); how many.

    `plain` skips ON CONFLICT: only for an event with no rows yet, where the per-row conflict
    check is a fifth of a big broadcast's cost and the unique key still guards a race.
    """
    columns = list(_OUTBOX_COLUMNS)
    if plain:
        statement = outbox.insert().from_select(columns, rows)
    else:
        statement = (
            dialect_insert(session, outbox)
            .from_select(columns, rows)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
        )
    result = await session.execute(statement)
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
