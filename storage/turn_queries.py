"""The statements of a chat turn, built once, and what their rows mean.

A chat turn is a handful of small queries, and with SQLAlchemy most of their cost is
Python: building the statement and computing its cache key each time costs more than
PostgreSQL's work. A statement object built once keeps its cache key, so after the first
use each execution goes straight to the compiled form. They are built on first use (not
at import) and read only `storage.orm` tables, with plain columns rather than ORM
entities, so results come back as rows without the identity map's bookkeeping.

Two statements make a balance turn: `begin_turn` (the update, the conversation's lock, the
caller and their accounts) and `balance_facts`. The unit of work runs them (see
`storage.uow`); on PostgreSQL it compiles them once for asyncpg (`for_driver`) and runs
them on its connection directly, inside the one transaction it owns. The functions at the
end turn their rows into the `core.model` records a turn works with.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.selectable import CompoundSelect

from core.model import (
    BalanceFacts,
    BillingReading,
    Caller,
    Channel,
    DialogState,
    Readings,
    ReadingSource,
    TurnSnapshot,
    Zone,
)
from storage.orm import (
    AccountLinkRow,
    AccountRow,
    BillingReadingRow,
    BillRow,
    ChannelIdentityRow,
    ConsentRow,
    ConsumptionRow,
    DialogStateRow,
    PaymentRow,
    PersonRow,
    ProcessedUpdateRow,
    SubmittedReadingRow,
)
from storage.repositories import (
    ZONE_ORDER,
    SqlAlchemyBillingRepository,
    SqlAlchemyPersonRepository,
    SqlAlchemyReadingRepository,
    account_of,
    money,
    person_of,
)


@cache
def caller() -> Select:
    """Identity, person, latest consent version and linked accounts of (:channel, :external_id)."""
    identity = ChannelIdentityRow.__table__
    person = PersonRow.__table__
    consent = ConsentRow.__table__
    link = AccountLinkRow.__table__
    account = AccountRow.__table__
    consent_version = (
        select(consent.c.version)
        .where(consent.c.person_id == identity.c.person_id)
        .order_by(consent.c.given_at.desc(), consent.c.id.desc())
        .limit(1)
        .correlate(identity)
        .scalar_subquery()
    )
    return (
        select(
            identity.c.id,
            identity.c.person_id,
            identity.c.channel,
            identity.c.external_id,
            identity.c.display_name,
            identity.c.reachable,
            person.c.name,
            person.c.phone,
            person.c.email,
            person.c.locale,
            person.c.created_at,
            consent_version.label("consent_version"),
            # The person's accounts come along (one row each, or one row of NULLs): the
            # turn asks for them next, and one round trip fewer is worth the repetition.
            *(column.label(f"account_{column.name}") for column in account.c),
            link.c.linked_at.label("link_linked_at"),
            link.c.id.label("link_id"),
        )
        .join_from(identity, person, person.c.id == identity.c.person_id)
        .outerjoin(link, link.c.person_id == person.c.id)
        .outerjoin(account, account.c.id == link.c.account_id)
        .where(
            identity.c.channel == bindparam("channel", type_=String),
            identity.c.external_id == bindparam("external_id", type_=String),
        )
        .order_by(link.c.linked_at, link.c.id)
    )


@cache
def balance_facts() -> Select:
    """Both totals of :account_id, its latest bill and payment, its latest billing period
    and what was submitted in [:since, :until): one row per period row and submission."""
    bill = BillRow.__table__
    payment = PaymentRow.__table__
    account_id = bindparam("account_id", type_=Integer)
    charged = (
        select(func.coalesce(func.sum(bill.c.charged), 0))
        .where(bill.c.account_id == account_id)
        .scalar_subquery()
    )
    paid = (
        select(func.coalesce(func.sum(payment.c.amount), 0))
        .where(payment.c.account_id == account_id)
        .scalar_subquery()
    )
    last_bill = (
        select(bill)
        .where(bill.c.account_id == account_id)
        .order_by(bill.c.period.desc())
        .limit(1)
        .subquery("last_bill")
    )
    last_payment = (
        select(payment)
        .where(payment.c.account_id == account_id)
        .order_by(payment.c.paid_at.desc(), payment.c.id.desc())
        .limit(1)
        .subquery("last_payment")
    )
    # The latest billing period's readings and kWh come along (one row each): the balance
    # shows them too, and one round trip fewer is worth repeating the totals on each row.
    period = latest_billing_with_consumption().subquery("period")
    # So do the readings submitted in [:since, :until) (none when those are NULL): rows are
    # the periods' times the submissions, both a few at most.
    submitted = SubmittedReadingRow.__table__
    taken_at = submitted.c.taken_at
    window = (
        select(submitted)
        .where(
            submitted.c.account_id == account_id,
            taken_at >= bindparam("since", type_=taken_at.type),
            taken_at < bindparam("until", type_=taken_at.type),
        )
        .subquery("submitted")
    )
    # A one-row base, so a row exists even when there is no bill, payment or reading.
    base = select(literal_column("1").label("one")).subquery("base")
    return select(
        charged.label("charged"),
        paid.label("paid"),
        *(column.label(f"bill_{column.name}") for column in last_bill.c),
        *(column.label(f"payment_{column.name}") for column in last_payment.c),
        *(column.label(f"period_{column.name}") for column in period.c),
        *(column.label(f"submitted_{column.name}") for column in window.c),
    ).select_from(
        base.outerjoin(last_bill, true())
        .outerjoin(last_payment, true())
        .outerjoin(period, true())
        .outerjoin(window, true())
    )


@cache
def latest_billing_with_consumption() -> CompoundSelect:
    """Rows of the latest billing period of :account_id: readings (kind 1) and kWh (kind 2)."""
    reading = BillingReadingRow.__table__
    used = ConsumptionRow.__table__
    account_id = bindparam("account_id", type_=Integer)
    latest = (
        select(func.max(reading.c.period)).where(reading.c.account_id == account_id)
    ).scalar_subquery()
    readings = select(
        literal_column("1").label("kind"),
        reading.c.period,
        reading.c.zone,
        reading.c.value.label("amount"),
        reading.c.meter_id,
        reading.c.taken_on,
        reading.c.source,
    ).where(reading.c.account_id == account_id, reading.c.period == latest)
    kwh = select(
        literal_column("2"), used.c.period, used.c.zone, used.c.kwh, null(), null(), null()
    ).where(used.c.account_id == account_id, used.c.period == latest)
    return union_all(readings, kwh)


@cache
def begin_turn() -> Select:
    """Remember update :key of :channel (at :at), lock and read the state of :user_id
    (noting on its row that they wrote at :at: Messenger's window, judged by any replica),
    and read the caller (as `caller()`, one row per linked account), in one statement: the
    first of a turn on PostgreSQL.

    `fresh` is false for an update seen before; then nothing else matters (a NULL key, as
    the console has, is always fresh). The upsert that
    touches the state row takes its lock as SELECT ... FOR UPDATE would, and creates the row
    on a first contact so that there is always a row to lock.

    The caller is read in the statement's snapshot, taken before the lock: when a turn of
    the same person in another process committed in between, that read may be stale. The
    upsert only touches the row when its version (xmin) is the one the snapshot saw, and
    still locks it when it is not; then `current` is false, no state comes back, and the
    turn reads state and caller again with fresh statements.
    """
    seen_table = ProcessedUpdateRow.__table__
    dialog = DialogStateRow.__table__
    channel = bindparam("channel", type_=String)
    user_id = bindparam("user_id", type_=String)
    key = bindparam("key", type_=String)
    at = bindparam("at", type_=seen_table.c.seen_at.type)
    # Without a key (the console) nothing is remembered and the turn is always fresh.
    seen = (
        pg_insert(seen_table)
        .from_select(
            ["channel", "key", "seen_at"],
            select(channel, key, at).where(key.is_not(None)),
        )
        .on_conflict_do_nothing()
        .returning(literal_column("1").label("one"))
        .cte("seen")
    )
    fresh = or_(key.is_(None), exists(select(seen.c.one)))
    version_seen = (
        select(literal_column("xmin"))
        .select_from(dialog)
        .where(dialog.c.channel == channel, dialog.c.user_id == user_id)
        .scalar_subquery()
    )
    upsert = pg_insert(dialog).from_select(
        ["channel", "user_id", "state", "data", "updated_at", "last_inbound_at"],
        # Untyped literals, as the column types take them (no bind processing on this path).
        select(
            channel, user_id, literal_column("''"), literal_column("'{}'"), func.now(), at
        ).where(fresh),
    )
    locked = (
        upsert.on_conflict_do_update(
            index_elements=[dialog.c.channel, dialog.c.user_id],
            # Touching the row locks it; it also notes that they wrote (Messenger's window),
            # at no cost of its own.
            set_={"channel": upsert.excluded.channel, "last_inbound_at": at},
            where=literal_column("dialog_states.xmin") == version_seen,
        )
        .returning(dialog.c.state, dialog.c.data)
        .cte("locked")
    )
    found = caller().order_by(None).subquery("found")
    base = select(literal_column("1").label("one")).subquery("base")
    return (
        select(
            fresh.label("fresh"),
            (locked.c.state.is_not(None)).label("current"),
            locked.c.state.label("dialog_state"),
            locked.c.data.label("dialog_data"),
            *found.c,
        )
        .select_from(base.outerjoin(locked, true()).outerjoin(found, true()))
        .order_by(found.c.link_linked_at, found.c.link_id)
    )


@cache
def state_of() -> ReturningUpdate:
    """The state of (:channel, :user_id), read again once the turn holds its row lock, and
    noting that they wrote at :at (what `begin_turn`'s upsert did not do then)."""
    dialog = DialogStateRow.__table__
    return (
        update(dialog)
        .where(
            dialog.c.channel == bindparam("channel", type_=String),
            dialog.c.user_id == bindparam("user_id", type_=String),
        )
        .values(last_inbound_at=bindparam("at", type_=dialog.c.last_inbound_at.type))
        .returning(dialog.c.state.label("dialog_state"), dialog.c.data.label("dialog_data"))
    )


@dataclass(frozen=True)
class DriverStatement:
    """A statement as asyncpg takes it: SQL with $n placeholders and the names behind them."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params` (by name)."""
        values = {**self.defaults, **params}
        return [values[name] for name in self.names]


TurnStatement = Select | CompoundSelect | ReturningUpdate
"""What the turn runs on the driver: queries, and an UPDATE … RETURNING."""

_driver_statements: dict[int, tuple[TurnStatement, DriverStatement]] = {}


def for_driver(statement: TurnStatement, dialect: Dialect) -> DriverStatement:
    """`statement` compiled once by `dialect` (SQLAlchemy's asyncpg dialect) for asyncpg.

    The value, its parameters and its result values are those SQLAlchemy would use; only
    the Python path around asyncpg is shorter (profiles of a busy bot showed SQLAlchemy's
    execution machinery costing several times what asyncpg itself costs per statement).
    """
    # Keyed by identity: the statements here are built once and live as long as the process
    # (the statement is kept in the value so its id cannot be reused by another object).
    found = _driver_statements.get(id(statement))
    if found is None:
        compiled = statement.compile(dialect=dialect)
        driver = DriverStatement(
            sql=str(compiled),
            names=tuple(compiled.positiontup or ()),
            defaults={name: value for name, value in compiled.params.items() if value is not None},
        )
        found = _driver_statements[id(statement)] = (statement, driver)
    return found[1]


# ---- rows to records ------------------------------------------------------------------------


def snapshot(
    channel: Channel, user_id: str, state: str, data: Any, rows: Sequence[Mapping[str, Any]]
) -> TurnSnapshot:
    """The turn's snapshot: the state, and the caller of `caller()` rows (none: a stranger)."""
    if isinstance(data, str):  # the driver hands json over as text
        data = json.loads(data)
    dialog_state = DialogState(Channel(channel), user_id, state, dict(data or {}))
    if not rows or rows[0]["id"] is None:
        return TurnSnapshot(dialog_state, None)
    row = SimpleNamespace(**rows[0])
    accounts = tuple(
        account_of(_columns_with_prefix(account, "account_"))  # type: ignore[arg-type]
        for account in rows
        if account["account_id"] is not None
    )
    identity = SqlAlchemyPersonRepository._identity(row)  # type: ignore[arg-type]
    caller = Caller(identity, person_of(row, row.person_id), row.consent_version)
    return TurnSnapshot(dialog_state, caller, accounts)


def balance_facts_of(account_id: int, rows: Sequence[Mapping[str, Any]]) -> BalanceFacts:
    """The balance facts of `balance_facts()` rows (one or more; the totals on each)."""
    first = rows[0]
    period_rows: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    submitted_rows: dict[int, SimpleNamespace] = {}
    for row in rows:
        if row["period_kind"] is not None:
            period = vars(_columns_with_prefix(row, "period_"))
            period_rows.setdefault((period["kind"], period["zone"]), period)
        if row["submitted_id"] is not None and row["submitted_id"] not in submitted_rows:
            found = _columns_with_prefix(row, "submitted_")
            if isinstance(found.values, str):  # the driver hands json over as text
                found.values = json.loads(found.values)
            submitted_rows[found.id] = found
    reading, used = _latest_billing(account_id, period_rows.values())
    submitted = sorted(
        submitted_rows.values(), key=lambda found: (found.taken_at, found.id), reverse=True
    )
    bill = _columns_with_prefix(first, "bill_")
    payment = _columns_with_prefix(first, "payment_")
    return BalanceFacts(
        charged=money(first["charged"]),
        paid=money(first["paid"]),
        last_bill=SqlAlchemyBillingRepository._bill(bill) if bill.id is not None else None,  # type: ignore[arg-type]
        last_payment=(
            SqlAlchemyBillingRepository._payment(payment)  # type: ignore[arg-type]
            if payment.id is not None
            else None
        ),
        last_billing_reading=reading,
        last_period_consumption=used,
        submitted=tuple(
            SqlAlchemyReadingRepository._submitted(found)  # type: ignore[arg-type]
            for found in submitted
        ),
    )


def _latest_billing(
    account_id: int, rows: Iterable[Mapping[str, Any]]
) -> tuple[BillingReading | None, Readings]:
    """The reading and kWh of `latest_billing_with_consumption()` rows."""
    rows = list(rows)
    readings = sorted((row for row in rows if row["kind"] == 1), key=_zone_rank)
    if not readings:
        return None, {}
    first = readings[0]
    reading = BillingReading(
        account_id=account_id,
        meter_id=first["meter_id"],
        period=first["period"],
        taken_on=first["taken_on"],
        values={Zone(row["zone"]): int(row["amount"]) for row in readings},
        source=ReadingSource(first["source"]),
    )
    used = sorted((row for row in rows if row["kind"] == 2), key=_zone_rank)
    return reading, {Zone(row["zone"]): int(row["amount"]) for row in used}


def _zone_rank(row: Mapping[str, Any]) -> int:
    return ZONE_ORDER[Zone(row["zone"])]


def _columns_with_prefix(row: Mapping[str, Any], prefix: str) -> SimpleNamespace:
    """The columns a joined row labels `<prefix><column>`, under their own names."""
    return SimpleNamespace(
        **{name: row[label] for label, name in _prefixed(prefix, tuple(row.keys()))}
    )


@functools.lru_cache(maxsize=64)
def _prefixed(prefix: str, labels: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # The turn statements' rows have dozens of columns and few shapes: which labels carry
    # the prefix is worked out once per shape, not for every row.
    start = len(prefix)
    return tuple((label, label[start:]) for label in labels if label.startswith(prefix))
