"""SQLAlchemy 2 declarative models for the whole domain.

Rows are storage's own business: repositories map them to `core.model` dataclasses and
nothing outside `storage/` sees them. Enums are stored as short strings (not database
enums) so adding a value never needs a migration. Every column works on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

Money = Numeric(12, 2)
"""Hryvnias with kopecks; never float."""

Price = Numeric(10, 4)
"""UAH per kWh; four places so zone multipliers (×0.4) stay exact."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant stored in UTC that always comes back aware.

    PostgreSQL keeps `timestamptz` natively. SQLite has no time zones: it stores the UTC wall
    time as text, so we refuse naive input (its zone would be a guess) and attach UTC on the
    way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
        in_utc = value.astimezone(UTC)
        # SQLite compares these as text, so one offset everywhere keeps ORDER BY right.
        return in_utc.replace(tzinfo=None) if dialect.name == "sqlite" else in_utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Deterministic constraint names: batch migrations on SQLite rebuild tables by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: one metadata with the naming convention and our column types."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        Decimal: Money,
        date: Date(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }
    if TYPE_CHECKING:
        # Every row class here maps one Table (SQLAlchemy types it as any FromClause), so
        # `XRow.__table__` has `insert()`, `delete()` and is what the upsert helpers take.
        __table__: ClassVar[Table]


# --- reference data -----------------------------------------------------------------------


class RegionRow(Base):
    """Регіон."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class DsoRow(Base):
    """ОСР: the grid operator that owns meters and reports outages."""

    __tablename__ = "dsos"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    short_name: Mapped[str] = mapped_column(String(100), default="")


class SupplierRow(Base):
    """Постачальник: who bills the consumer."""

    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    iban: Mapped[str] = mapped_column(String(34), default="")
    edrpou: Mapped[str] = mapped_column(String(10), default="")


class TariffRateRow(Base):
    """Price per kWh of one zone of one plan over a validity period (valid_to inclusive)."""

    __tablename__ = "tariff_rates"
    __table_args__ = (
        UniqueConstraint("plan", "zone", "valid_from"),
        Index(None, "plan", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal] = mapped_column(Price)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]


# --- accounts, meters, readings -----------------------------------------------------------


class AccountRow(Base):
    """Особовий рахунок with its address split for outage targeting."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index(None, "settlement", "street_key"),
        Index(None, "dso_id", "outage_group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), index=True)
    eic: Mapped[str] = mapped_column(String(16), unique=True)
    holder_name: Mapped[str] = mapped_column(String(300))
    settlement: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    street_key: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(20))
    apartment: Mapped[str] = mapped_column(String(20), default="")
    outage_group: Mapped[str | None] = mapped_column(String(20))
    dso_id: Mapped[int] = mapped_column(ForeignKey("dsos.id"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    contract_number: Mapped[str] = mapped_column(String(50), default="")
    contract_date: Mapped[date | None]
    tariff_plan: Mapped[str] = mapped_column(String(20))
    opening_balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))


class MeterRow(Base):
    """A meter of an account; `zones` and `install_readings` are small JSON values."""

    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    serial: Mapped[str] = mapped_column(String(50))
    type_name: Mapped[str] = mapped_column(String(100))
    zones: Mapped[list[Any]]
    digit_count: Mapped[int] = mapped_column(Integer)
    installed_on: Mapped[date]
    install_readings: Mapped[dict[str, Any]]
    removed_on: Mapped[date | None]


class PhotoRow(Base):
    """A meter photo kept as evidence until `retain_until`; bytes live behind storage_ref."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    storage_ref: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    retain_until: Mapped[datetime | None] = mapped_column(index=True)


class SubmittedReadingRow(Base):
    """Введені покази: one report, values per zone as JSON {"day": 123, ...}."""

    __tablename__ = "submitted_readings"
    __table_args__ = (Index(None, "account_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime]
    values: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(20))
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="SET NULL"), index=True
    )
    photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("photos.id", ondelete="SET NULL"), index=True
    )


class BillingReadingRow(Base):
    """Розрахункові покази: one row per account, period (YYYY-MM) and zone."""

    __tablename__ = "billing_readings"
    __table_args__ = (UniqueConstraint("account_id", "period", "zone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    zone: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(BigInteger)
    taken_on: Mapped[date]
    source: Mapped[str] = mapped_column(String(20))


class ConsumptionRow(Base):
    """kWh billed per account, period and zone."""

    __tablename__ = "consumption"
    __table_args__ = (UniqueConstraint("account_id", "period", "zone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    zone: Mapped[str] = mapped_column(String(20))
    kwh: Mapped[int] = mapped_column(BigInteger)


class BillRow(Base):
    """A bill per account and period."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    issued_on: Mapped[date] = mapped_column(index=True)
    charged: Mapped[Decimal]
    amount_due: Mapped[Decimal]
    kwh: Mapped[int] = mapped_column(BigInteger)
    pdf_ref: Mapped[str | None] = mapped_column(String(500))


class PaymentRow(Base):
    """A payment; a provider's transaction id is stored once (callbacks get retried)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id"),
        Index(None, "account_id", "paid_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    amount: Mapped[Decimal]
    paid_at: Mapped[datetime]
    provider: Mapped[str] = mapped_column(String(50))
    provider_txn_id: Mapped[str] = mapped_column(String(100))


class PaymentOrderRow(Base):
    """An order handed to a payment provider; its notification settles it once."""

    __tablename__ = "payment_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal]
    created_at: Mapped[datetime]
    # None, with user_id "", once the person erased their data: the order and its payment
    # stay for accounting, without whom they were for (migration 0006).
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(50), default="")
    payment_url: Mapped[str] = mapped_column(String(2000), default="")
    provider_txn_id: Mapped[str | None] = mapped_column(String(100))
    paid_at: Mapped[datetime | None]


# --- people and channels ------------------------------------------------------------------


class PersonRow(Base):
    """A person; `deleted_at` marks an erased one (personal data removed, rows kept)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class ChannelIdentityRow(Base):
    """One messenger user id of a person."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)


class AccountLinkRow(Base):
    """A person sees an account."""

    __tablename__ = "account_links"
    __table_args__ = (UniqueConstraint("person_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    linked_at: Mapped[datetime]


class LinkAttemptRow(Base):
    """A failed try to link an account ("account") or join a messenger ("code").

    Counted under `subject`, a hash of the messenger identity or of the account number
    tried (core.privacy.attempt_key), never under a person: the limits outlive erasure
    (migration 0006).
    """

    __tablename__ = "link_attempts"
    __table_args__ = (Index(None, "subject", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), default="account", server_default="account")


class ConsentRow(Base):
    """Consent to personal-data processing: which text version, when, where."""

    __tablename__ = "consents"
    __table_args__ = (Index(None, "person_id", "given_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    given_at: Mapped[datetime]
    version: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(20))


class NotificationPrefsRow(Base):
    """Налаштування повідомлень, one row per person; channels as a JSON list."""

    __tablename__ = "notification_prefs"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    channels: Mapped[list[Any]]
    paper_bill_only: Mapped[bool] = mapped_column(Boolean, default=False)
    outages_planned: Mapped[bool] = mapped_column(Boolean, default=True)
    outages_emergency: Mapped[bool] = mapped_column(Boolean, default=True)
    new_bills: Mapped[bool] = mapped_column(Boolean, default=True)
    reading_reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime | None]


class LinkCodeRow(Base):
    """A one-time code that joins another channel to a person; only its hash is kept."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


# --- requests -----------------------------------------------------------------------------


class CallCenterRequestRow(Base):
    """Звернення до кол-центру."""

    __tablename__ = "call_center_requests"
    __table_args__ = (Index(None, "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    request_type: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class FreeServiceOrderRow(Base):
    """Замовлення безкоштовної послуги."""

    __tablename__ = "free_service_orders"
    __table_args__ = (Index(None, "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    service_type: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class SupportRequestRow(Base):
    """Питання до технічної підтримки."""

    __tablename__ = "support_requests"
    __table_args__ = (Index(None, "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    login: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str] = mapped_column(String(20))
    request_type: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


# --- outages ------------------------------------------------------------------------------


class OutageRow(Base):
    """A planned or emergency outage of one DSO."""

    __tablename__ = "outages"
    __table_args__ = (
        Index(None, "dso_id", "updated_at"),
        # A grid system's retries store one outage (migration 0006); NULLs never collide.
        Index("uq_outages_dso_external_id", "dso_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    dso_id: Mapped[int] = mapped_column(ForeignKey("dsos.id"))
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    restored_at: Mapped[datetime | None]

    # Selectin: targets always come with their outage, never through an async lazy load.
    targets: Mapped[list[OutageTargetRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="OutageTargetRow.id"
    )


class OutageTargetRow(Base):
    """Who an outage hits: a group, or settlement + street key (+ buildings as JSON list)."""

    __tablename__ = "outage_targets"
    __table_args__ = (Index(None, "settlement", "street_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"), index=True)
    outage_group: Mapped[str | None] = mapped_column(String(20), index=True)
    settlement: Mapped[str | None] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(200))
    street_key: Mapped[str | None] = mapped_column(String(200))
    buildings: Mapped[list[Any]]


# --- delivery and dialog ------------------------------------------------------------------


class OutboxRow(Base):
    """A notification waiting for (or done with) delivery; dedup_key makes enqueueing safe.

    One row per (event, person); e-mail rows have no identity. storage/outbox.py works on
    it (migration 0003 added person, event, subject, topic and the claim columns).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "subject", "event", "status"),
        # Partial, so a broadcast's INSERT pays for few indexes (see migration 0003).
        # Read per topic in id order and ordered by lane (migration 0008).
        Index(
            "ix_outbox_pending",
            "channel",
            "topic",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_claimed",
            "channel",
            "claimed_at",
            postgresql_where=text("claimed_at IS NOT NULL"),
            sqlite_where=text("claimed_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    event: Mapped[str | None] = mapped_column(String(160))
    subject: Mapped[str | None] = mapped_column(String(80))
    topic: Mapped[str | None] = mapped_column(String(40))
    # Priority lane (core.delivery.LANES, 0 first) and whether the claim was a paid send.
    lane: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    paid: Mapped[bool] = mapped_column(Boolean, server_default=false())
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedUpdateRow(Base):
    """An inbound update key already handled (messengers redeliver on timeouts)."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class DialogStateRow(Base):
    """Where one user's conversation is, keyed by (channel, user id)."""

    __tablename__ = "dialog_states"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(100), default="")
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    # When they last wrote (set by every turn's first statement): Messenger's 24-hour
    # window is judged from it by whichever replica sends a push.
    last_inbound_at: Mapped[datetime | None]
    # What the channel's adapter keeps of this chat between turns (Telegram's reply
    # keyboard labels, Messenger's "More" pages…), so that every replica knows it.
    channel_memory: Mapped[dict[str, Any] | None]


class MediaRow(Base):
    """A file served at GET /media/{token} to Viber's and Messenger's servers, which fetch
    it without cookies from whichever replica the proxy picks: so it is kept here, under
    the random key of its signed token, until `expires_at` (retention deletes it then)."""

    __tablename__ = "media"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    mime_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeliveryPaceRow(Base):
    """The shared send schedule of one channel's rate (free or paid): the moment from which
    the next claim's sends may go. Every delivery worker of every process takes its slots
    from this row under its lock, so together they never exceed the platform's rate."""

    __tablename__ = "delivery_pace"

    rate_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_at: Mapped[datetime]


class ScheduleSettingsRow(Base):
    """A person's schedule pushes; no row: the defaults."""

    __tablename__ = "schedule_settings"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    remind_minutes: Mapped[int] = mapped_column(SmallInteger)
    remind_on: Mapped[bool] = mapped_column(Boolean)
    quiet_from: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_to: Mapped[int | None] = mapped_column(SmallInteger)
