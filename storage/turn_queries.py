"""Statements on the path of every chat turn, built once and reused.

A chat turn is a handful of small queries, and with SQLAlchemy most of their cost is
Python: building the statement and computing its cache key each time costs more than
PostgreSQL's work. A statement object built once keeps its cache key, so after the first
use each execution goes straight to the compiled form. They are built on first use (not
at import) and read only `storage.orm` tables, with plain columns rather than ORM
entities, so results come back as rows without the identity map's bookkeeping.

On PostgreSQL, `fetch` goes one step further: it runs the statement, compiled once by
SQLAlchemy's own asyncpg dialect, directly on the unit of work's asyncpg connection,
beginning the unit of work's transaction there when it is the first statement (see
`DriverTransaction`). Profiles of a busy bot showed SQLAlchemy's execution machinery
(session, connection, cursor adapter, result) costing several times what asyncpg itself
costs per statement. The statement, its parameters, its transaction and its result values
are the same either way; only the Python path is shorter.
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
    exists,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
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
    DialogStateRow,
    PaymentRow,
    PersonRow,
    ProcessedUpdateRow,
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


@cache
def begin_turn() -> Select:
    """Remember update :key of :channel (at :at), lock and read the state of :user_id, and
    read the caller (as `caller()`, one row per linked account), in one statement.

    `fresh` is false for an update seen before; then nothing else matters. The upsert that
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
    seen = (
        pg_insert(seen_table)
        .values(channel=channel, key=bindparam("key", type_=String), seen_at=bindparam("at"))
        .on_conflict_do_nothing()
        .returning(literal_column("1").label("one"))
        .cte("seen")
    )
    version_seen = (
        select(literal_column("xmin"))
        .select_from(dialog)
        .where(dialog.c.channel == channel, dialog.c.user_id == user_id)
        .scalar_subquery()
    )
    upsert = pg_insert(dialog).from_select(
        ["channel", "user_id", "state", "data", "updated_at"],
        # Untyped literals, as the column types take them (no bind processing on this path).
        select(channel, user_id, literal_column("''"), literal_column("'{}'"), func.now()).where(
            exists(select(seen.c.one))
        ),
    )
    locked = (
        upsert.on_conflict_do_update(
            index_elements=[dialog.c.channel, dialog.c.user_id],
            set_={"channel": upsert.excluded.channel},
            where=literal_column("dialog_states.xmin") == version_seen,
        )
        .returning(dialog.c.state, dialog.c.data)
        .cte("locked")
    )
    found = caller().order_by(None).subquery("found")
    base = select(literal_column("1").label("one")).subquery("base")
    return (
        select(
            exists(select(seen.c.one)).label("fresh"),
            (locked.c.state.is_not(None)).label("current"),
            locked.c.state.label("dialog_state"),
            locked.c.data.label("dialog_data"),
            *found.c,
        )
        .select_from(base.outerjoin(locked, true()).outerjoin(found, true()))
        .order_by(found.c.link_linked_at, found.c.link_id)
    )


STATE_AFTER_WAIT_ASYNCPG = (
    "SELECT state, data FROM dialog_states WHERE channel = $1 AND user_id = $2"
)
"""The state of ($1, $2) read again by a fresh statement, once the turn holds its row lock."""


# What one query of a turn brought along for the next one, kept in the session's `info`
# until that next query takes it. Any write through the repositories that could change it,
# and every commit and rollback, forget it (see storage.repositories and storage.uow).
_PREFETCHED = "kabinet.prefetched"
_DRIVER = "kabinet.driver"


class DriverTransaction:
    """The asyncpg connection of a unit of work's session, and the transaction begun on it.

    A turn statement begins the transaction on the driver itself: BEGIN, the statements and
    COMMIT go straight to asyncpg. When a repository then uses the session, SQLAlchemy's
    asyncpg adapter opens its own transaction on the same connection, which asyncpg nests
    as a savepoint; the unit of work commits the session (releasing the savepoint) before
    this one. When the session was used first, its transaction is the outer one and turn
    statements simply run inside it.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._transaction: Any = None

    async def begin(self) -> Any:
        """The connection, inside a transaction (this one's, or the session's)."""
        if not self.connection.is_in_transaction():
            transaction = self.connection.transaction()
            await transaction.start()
            self._transaction = transaction
        return self.connection

    async def end(self, *, commit: bool) -> None:
        """Commit or roll back the transaction begun here, if one is open."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            if commit:
                await transaction.commit()
            else:
                await transaction.rollback()


def attach(session: AsyncSession, connection: Any) -> None:
    """Let turn statements of `session` run on its asyncpg `connection` directly."""
    session.info[_DRIVER] = DriverTransaction(connection)


async def end(session: AsyncSession, *, commit: bool) -> None:
    """End the driver-level transaction of `session` (after the session's own)."""
    driver = session.info.get(_DRIVER)
    if driver is not None:
        await driver.end(commit=commit)


def still_open(session: AsyncSession) -> bool:
    """Whether the session's asyncpg connection is still inside a transaction."""
    driver = session.info.get(_DRIVER)
    return driver is not None and driver.connection.is_in_transaction()


def connection_lost(session: AsyncSession) -> bool:
    """Whether the session's asyncpg connection was closed under it (server gone)."""
    driver = session.info.get(_DRIVER)
    return driver is not None and driver.connection.is_closed()


async def driver_connection(session: AsyncSession) -> Any | None:
    """The session's asyncpg connection inside the unit of work's transaction, if attached."""
    driver = session.info.get(_DRIVER)
    return None if driver is None else await driver.begin()


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
    """Drop what was remembered (of one kind, or all)."""
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
    driver = await driver_connection(session)
    if driver is not None:
        prepared = _for_driver(statement, session.get_bind().dialect)
        return await driver.fetch(prepared.sql, *prepared.arguments(params))
    return (await session.execute(statement, params)).mappings().all()
