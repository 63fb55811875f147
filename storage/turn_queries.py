"""Statements on the path of every chat turn, built once and reused.

A chat turn is a handful of small queries, and with SQLAlchemy most of their cost is
Python: building the statement and computing its cache key each time costs more than
PostgreSQL's work. A statement object built once keeps its cache key, so after the first
use each execution goes straight to the compiled form. They are built on first use (not
at import) and read only `storage.orm` tables, with plain columns rather than ORM
entities, so results come back as rows without the identity map's bookkeeping.

On PostgreSQL, `fetch` goes one step further once the unit of work's transaction is open:
it runs the statement, compiled once by SQLAlchemy's own asyncpg dialect, directly on the
transaction's asyncpg connection. Profiles of a busy bot showed SQLAlchemy's execution
machinery (session, connection, cursor adapter, result) costing several times what asyncpg
itself costs per statement. The statement, its parameters, its transaction and its
result values are the same either way; only the Python path is shorter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CompoundSelect

from storage.orm import (
    AccountLinkRow,
    AccountRow,
    BillingReadingRow,
    BillRow,
    ChannelIdentityRow,
    ConsentRow,
    ConsumptionRow,
    PaymentRow,
    PersonRow,
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
def accounts_of() -> Select:
    """Accounts linked to :person_id, oldest link first."""
    account = AccountRow.__table__
    link = AccountLinkRow.__table__
    return (
        select(*account.c)
        .join_from(account, link, link.c.account_id == account.c.id)
        .where(link.c.person_id == bindparam("person_id", type_=Integer))
        .order_by(link.c.linked_at, link.c.id)
    )


@cache
def balance_facts() -> Select:
    """One row: both totals of :account_id, its latest bill and latest payment (or NULLs)."""
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
    # A one-row base, so a row exists even when there is no bill, payment or reading.
    base = select(literal_column("1").label("one")).subquery("base")
    return select(
        charged.label("charged"),
        paid.label("paid"),
        *(column.label(f"bill_{column.name}") for column in last_bill.c),
        *(column.label(f"payment_{column.name}") for column in last_payment.c),
        *(column.label(f"period_{column.name}") for column in period.c),
    ).select_from(
        base.outerjoin(last_bill, true()).outerjoin(last_payment, true()).outerjoin(period, true())
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


BEGIN_TURN_ASYNCPG = """
WITH seen AS (
    INSERT INTO processed_updates (channel, key, seen_at)
    VALUES ($1::VARCHAR, $2::VARCHAR, $4::TIMESTAMPTZ)
    ON CONFLICT DO NOTHING
    RETURNING 1
), locked AS (
    INSERT INTO dialog_states (channel, user_id, state, data, updated_at)
    SELECT $1::VARCHAR, $3::VARCHAR, '', '{}', now()
    WHERE EXISTS (SELECT FROM seen)
    ON CONFLICT (channel, user_id) DO UPDATE SET channel = excluded.channel
    RETURNING state, data
)
SELECT EXISTS (SELECT FROM seen) AS fresh, locked.state, locked.data
FROM (SELECT 1) AS base LEFT JOIN locked ON true
"""
"""Remember update $2 of channel $1 (at $4) and lock-and-read the state of user $3, at once.

`fresh` is false for an update seen before; then no state row is touched. The upsert that
touches the state row takes its lock as SELECT ... FOR UPDATE would, and creates the row on
a first contact so that there is always a row to lock. It is the first statement of a turn,
so it goes through SQLAlchemy (which sends BEGIN), as driver SQL to skip the compiler.
"""


# What one query of a turn brought along for the next one, kept in the session's `info`
# until that next query takes it. Any write through the repositories that could change it,
# and every commit and rollback, forget it (see storage.repositories and storage.uow).
_PREFETCHED = "kabinet.prefetched"
_DRIVER = "kabinet.driver_connection"


def remember(session: AsyncSession, what: str, key: object, value: object) -> None:
    """Keep `value` for one later `take(session, what, key)`."""
    session.info.setdefault(_PREFETCHED, {})[what] = (key, value)


def take(session: AsyncSession, what: str, key: object) -> tuple[bool, Any]:
    """(True, value) when `value` was remembered for this key; it is taken either way."""
    found = session.info.get(_PREFETCHED, {}).pop(what, None)
    if found is not None and found[0] == key:
        return True, found[1]
    return False, None


def forget(session: AsyncSession, what: str | None = None) -> None:
    """Drop what was remembered (of one kind, or all, with the transaction's connection)."""
    if what is None:
        session.info.pop(_DRIVER, None)
    prefetched = session.info.get(_PREFETCHED)
    if prefetched:
        if what is None:
            prefetched.clear()
        else:
            prefetched.pop(what, None)


@dataclass(frozen=True)
class _DriverStatement:
    """A statement as asyncpg takes it: SQL with $n placeholders and the names behind them."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **params}
        return [values[name] for name in self.names]


_driver_statements: dict[int, tuple[Select | CompoundSelect, _DriverStatement]] = {}


def _for_driver(statement: Select | CompoundSelect, dialect: Dialect) -> _DriverStatement:
    # Keyed by identity: the statements here are built once and live as long as the process
    # (the statement is kept in the value so its id cannot be reused by another object).
    found = _driver_statements.get(id(statement))
    if found is None:
        compiled = statement.compile(dialect=dialect)
        driver = _DriverStatement(
            sql=str(compiled),
            names=tuple(compiled.positiontup or ()),
            defaults={name: value for name, value in compiled.params.items() if value is not None},
        )
        found = _driver_statements[id(statement)] = (statement, driver)
    return found[1]


async def fetch(
    session: AsyncSession, statement: Select | CompoundSelect, params: Mapping[str, Any]
) -> Sequence[Mapping[str, Any]]:
    """The rows of one of the statements above, each a mapping of column name to value."""
    info = session.info
    driver = info.get(_DRIVER)
    if driver is None and session.in_transaction():
        bind = session.get_bind()
        if bind.dialect.driver == "asyncpg":
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            # Kept until the transaction ends (`forget`, on commit, rollback and close).
            info[_DRIVER] = driver
    # Only inside the transaction SQLAlchemy began (its first statement sends BEGIN):
    # outside it a statement would run on its own, out of the unit of work.
    if driver is not None and driver.is_in_transaction():
        prepared = _for_driver(statement, session.get_bind().dialect)
        return await driver.fetch(prepared.sql, *prepared.arguments(params))
    return (await session.execute(statement, params)).mappings().all()
