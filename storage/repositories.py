"""SQLAlchemy implementations of the repository ports of `core.ports`.

Each repository works inside the session of one unit of work and returns `core.model`
dataclasses; ORM rows never leave this module. Queries load everything they need up front
(no lazy loads under asyncio).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.model import (
    Account,
    Address,
    Bill,
    BillingReading,
    CallCenterRequest,
    Channel,
    ChannelIdentity,
    Consent,
    Consumption,
    DialogState,
    Dso,
    FreeServiceOrder,
    Meter,
    NotificationPrefs,
    OrderStatus,
    Outage,
    OutageKind,
    OutageTarget,
    Payment,
    PaymentOrder,
    Person,
    ReadingSource,
    Region,
    RequestStatus,
    SubmittedReading,
    Supplier,
    SupportRequest,
    TariffPlan,
    TariffRate,
    Zone,
)
from core.ports import (
    AbstractAccountRepository,
    AbstractBillingRepository,
    AbstractDialogRepository,
    AbstractLinkRepository,
    AbstractMeterRepository,
    AbstractOutageRepository,
    AbstractPaymentOrderRepository,
    AbstractPersonRepository,
    AbstractPhotoRepository,
    AbstractReadingRepository,
    AbstractReferenceRepository,
    AbstractRequestRepository,
    AbstractTariffRepository,
)
from storage.addresses import settlement_key, street_key
from storage.orm import (
    AccountLinkRow,
    AccountRow,
    BillingReadingRow,
    BillRow,
    CallCenterRequestRow,
    ChannelIdentityRow,
    ConsentRow,
    ConsumptionRow,
    DialogStateRow,
    DsoRow,
    FreeServiceOrderRow,
    LinkAttemptRow,
    LinkCodeRow,
    MeterRow,
    NotificationPrefsRow,
    OutageRow,
    OutageTargetRow,
    OutboxRow,
    PaymentOrderRow,
    PaymentRow,
    PersonRow,
    PhotoRow,
    ProcessedUpdateRow,
    RegionRow,
    ScheduleSettingsRow,
    SubmittedReadingRow,
    SupplierRow,
    SupportRequestRow,
    TariffRateRow,
)

ZONE_ORDER = {Zone.PEAK: 0, Zone.HALF_PEAK: 1, Zone.DAY: 2, Zone.NIGHT: 3}
"""The order zones are listed in everywhere: it matches TariffPlan.zones for every plan."""


def dialect_insert(
    session_or_dialect: AsyncSession | str, table: Table | type
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT for the dialect of the session (or its name)."""
    name = (
        session_or_dialect
        if isinstance(session_or_dialect, str)
        else session_or_dialect.get_bind().dialect.name
    )
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert support for the {name} dialect")


def person_of(row: Any, person_id: int) -> Person:
    """The person of a row with the person's columns (its id given apart)."""
    return Person(
        id=person_id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        locale=row.locale,
        created_at=row.created_at,
    )


def _readings_from_json(values: dict[str, Any]) -> dict[Zone, int]:
    zones = sorted((Zone(zone) for zone in values), key=ZONE_ORDER.__getitem__)
    return {zone: int(values[zone.value]) for zone in zones}


def _readings_to_json(values: dict[Zone, int]) -> dict[str, int]:
    return {Zone(zone).value: int(value) for zone, value in values.items()}


def account_of(row: AccountRow) -> Account:
    """The account of an account row (or of a row with the same columns)."""
    return Account(
        id=row.id,
        number=row.number,
        eic=row.eic,
        holder_name=row.holder_name,
        address=Address(
            settlement=row.settlement,
            street=row.street,
            building=row.building,
            apartment=row.apartment,
        ),
        dso_id=row.dso_id,
        supplier_id=row.supplier_id,
        tariff_plan=TariffPlan(row.tariff_plan),
        outage_group=row.outage_group,
        contract_number=row.contract_number,
        contract_date=row.contract_date,
        opening_balance=row.opening_balance,
    )


class SqlAlchemyReferenceRepository(AbstractReferenceRepository):
    """Regions, DSOs and suppliers from their reference tables."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def regions(self) -> Sequence[Region]:
        rows = await self.session.scalars(select(RegionRow).order_by(RegionRow.name))
        return [Region(id=row.id, name=row.name) for row in rows]

    async def dsos(self) -> Sequence[Dso]:
        rows = await self.session.scalars(select(DsoRow).order_by(DsoRow.name))
        return [self._dso(row) for row in rows]

    async def dso(self, dso_id: int) -> Dso | None:
        row = await self.session.get(DsoRow, dso_id)
        return self._dso(row) if row else None

    async def supplier(self, supplier_id: int) -> Supplier | None:
        row = await self.session.get(SupplierRow, supplier_id)
        if row is None:
            return None
        return Supplier(id=row.id, name=row.name, iban=row.iban, edrpou=row.edrpou)

    @staticmethod
    def _dso(row: DsoRow) -> Dso:
        return Dso(id=row.id, name=row.name, region_id=row.region_id, short_name=row.short_name)


class SqlAlchemyAccountRepository(AbstractAccountRepository):
    """Accounts by id, or by number and EIC together."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> Account | None:
        row = await self.session.get(AccountRow, account_id)
        return account_of(row) if row else None

    async def find(self, number: str, eic: str) -> Account | None:
        row = await self.session.scalar(
            select(AccountRow).where(
                AccountRow.number == number.strip(), AccountRow.eic == eic.strip().upper()
            )
        )
        return account_of(row) if row else None


class SqlAlchemyLinkRepository(AbstractLinkRepository):
    """Person ⇄ account links and link attempts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        rows = await self.session.scalars(
            select(AccountRow)
            .join(AccountLinkRow, AccountLinkRow.account_id == AccountRow.id)
            .where(AccountLinkRow.person_id == person_id)
            .order_by(AccountLinkRow.linked_at, AccountLinkRow.id)
        )
        return [account_of(row) for row in rows]

    async def is_linked(self, person_id: int, account_id: int) -> bool:
        found = await self.session.scalar(
            select(AccountLinkRow.id).where(
                AccountLinkRow.person_id == person_id, AccountLinkRow.account_id == account_id
            )
        )
        return found is not None

    async def link(self, person_id: int, account_id: int, at: datetime) -> None:
        """Link them; linking an already linked pair keeps the first link time."""
        statement = (
            dialect_insert(self.session, AccountLinkRow)
            .values(person_id=person_id, account_id=account_id, linked_at=at)
            .on_conflict_do_nothing()
        )
        await self.session.execute(statement)

    async def unlink(self, person_id: int, account_id: int) -> None:
        await self.session.execute(
            delete(AccountLinkRow).where(
                AccountLinkRow.person_id == person_id, AccountLinkRow.account_id == account_id
            )
        )

    async def record_failed_attempt(
        self, keys: Sequence[str], at: datetime, kind: str = "account"
    ) -> None:
        self.session.add_all(LinkAttemptRow(subject=key, at=at, kind=kind) for key in keys)
        await self.session.flush()

    async def failed_attempts_since(
        self, key: str, since: datetime, kind: str = "account"
    ) -> Sequence[datetime]:
        times = await self.session.scalars(
            select(LinkAttemptRow.at)
            .where(
                LinkAttemptRow.subject == key,
                LinkAttemptRow.kind == kind,
                LinkAttemptRow.at >= since,
            )
            .order_by(LinkAttemptRow.at, LinkAttemptRow.id)
        )
        return list(times)


class SqlAlchemyMeterRepository(AbstractMeterRepository):
    """Meters of an account."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def in_service(self, account_id: int) -> Meter | None:
        row = await self.session.scalar(
            select(MeterRow)
            .where(MeterRow.account_id == account_id, MeterRow.removed_on.is_(None))
            .order_by(MeterRow.installed_on.desc(), MeterRow.id.desc())
            .limit(1)
        )
        return self._meter(row) if row else None

    @staticmethod
    def _meter(row: MeterRow) -> Meter:
        return Meter(
            id=row.id,
            account_id=row.account_id,
            serial=row.serial,
            type_name=row.type_name,
            zones=tuple(Zone(zone) for zone in row.zones),
            digit_count=row.digit_count,
            installed_on=row.installed_on,
            install_readings=_readings_from_json(row.install_readings),
            removed_on=row.removed_on,
        )


class SqlAlchemyReadingRepository(AbstractReadingRepository):
    """Submitted readings (one row, values as JSON) and billing readings (a row per zone)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def submitted(
        self, account_id: int, since: datetime | None = None, until: datetime | None = None
    ) -> Sequence[SubmittedReading]:
        query = select(SubmittedReadingRow).where(SubmittedReadingRow.account_id == account_id)
        if since is not None:
            query = query.where(SubmittedReadingRow.taken_at >= since)
        if until is not None:
            query = query.where(SubmittedReadingRow.taken_at < until)
        rows = await self.session.scalars(
            query.order_by(SubmittedReadingRow.taken_at.desc(), SubmittedReadingRow.id.desc())
        )
        return [self._submitted(row) for row in rows]

    async def add_submitted(self, reading: SubmittedReading) -> SubmittedReading:
        row = SubmittedReadingRow(
            account_id=reading.account_id,
            meter_id=reading.meter_id,
            taken_at=reading.taken_at,
            values=_readings_to_json(reading.values),
            source=ReadingSource(reading.source).value,
            identity_id=reading.identity_id,
            photo_id=reading.photo_id,
        )
        self.session.add(row)
        await self.session.flush()
        return dataclasses.replace(reading, id=row.id)

    async def remove_submitted(self, reading_id: int) -> None:
        await self.session.execute(
            delete(SubmittedReadingRow).where(SubmittedReadingRow.id == reading_id)
        )

    async def latest_billing(self, account_id: int) -> BillingReading | None:
        latest_period = (
            select(func.max(BillingReadingRow.period))
            .where(BillingReadingRow.account_id == account_id)
            .scalar_subquery()
        )
        rows = await self.session.scalars(
            select(BillingReadingRow).where(
                BillingReadingRow.account_id == account_id,
                BillingReadingRow.period == latest_period,
            )
        )
        readings = self._group_billing(rows)
        return readings[0] if readings else None

    async def billing(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[BillingReading]:
        query = select(BillingReadingRow).where(BillingReadingRow.account_id == account_id)
        if since_period is not None:
            query = query.where(BillingReadingRow.period >= since_period)
        rows = await self.session.scalars(query)
        return self._group_billing(rows)

    async def consumption(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[Consumption]:
        query = select(ConsumptionRow).where(ConsumptionRow.account_id == account_id)
        if since_period is not None:
            query = query.where(ConsumptionRow.period >= since_period)
        rows = await self.session.scalars(query.order_by(ConsumptionRow.period.desc()))
        items = [
            Consumption(
                account_id=row.account_id, period=row.period, zone=Zone(row.zone), kwh=row.kwh
            )
            for row in rows
        ]
        # Periods compare as text ("YYYY-MM"); within a period keep the plan's zone order.
        items.sort(key=lambda item: ZONE_ORDER[item.zone])
        items.sort(key=lambda item: item.period, reverse=True)
        return items

    @staticmethod
    def _submitted(row: SubmittedReadingRow) -> SubmittedReading:
        return SubmittedReading(
            id=row.id,
            account_id=row.account_id,
            meter_id=row.meter_id,
            taken_at=row.taken_at,
            values=_readings_from_json(row.values),
            source=ReadingSource(row.source),
            identity_id=row.identity_id,
            photo_id=row.photo_id,
        )

    @staticmethod
    def _group_billing(rows: Iterable[BillingReadingRow]) -> list[BillingReading]:
        """One BillingReading per period, newest first, zones in plan order."""
        by_period: dict[str, list[BillingReadingRow]] = {}
        for row in rows:
            by_period.setdefault(row.period, []).append(row)
        readings = []
        for period in sorted(by_period, reverse=True):
            zone_rows = sorted(by_period[period], key=lambda row: ZONE_ORDER[Zone(row.zone)])
            first = zone_rows[0]
            readings.append(
                BillingReading(
                    account_id=first.account_id,
                    meter_id=first.meter_id,
                    period=period,
                    taken_on=first.taken_on,
                    values={Zone(row.zone): row.value for row in zone_rows},
                    source=ReadingSource(first.source),
                )
            )
        return readings


class SqlAlchemyBillingRepository(AbstractBillingRepository):
    """Bills and payments."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bills(
        self, account_id: int, since_period: str | None = None, limit: int | None = None
    ) -> Sequence[Bill]:
        query = select(BillRow).where(BillRow.account_id == account_id)
        if since_period is not None:
            query = query.where(BillRow.period >= since_period)
        rows = await self.session.scalars(query.order_by(BillRow.period.desc()).limit(limit))
        return [self._bill(row) for row in rows]

    async def bill(self, account_id: int, period: str) -> Bill | None:
        row = await self.session.scalar(
            select(BillRow).where(BillRow.account_id == account_id, BillRow.period == period)
        )
        return self._bill(row) if row else None

    async def payments(
        self, account_id: int, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Payment]:
        query = select(PaymentRow).where(PaymentRow.account_id == account_id)
        if since is not None:
            query = query.where(PaymentRow.paid_at >= since)
        rows = await self.session.scalars(
            query.order_by(PaymentRow.paid_at.desc(), PaymentRow.id.desc()).limit(limit)
        )
        return [self._payment(row) for row in rows]

    async def totals(self, account_id: int) -> tuple[Decimal, Decimal]:
        # Both sums in one round trip: the balance is on the hottest path of the bot.
        charged = (
            select(func.coalesce(func.sum(BillRow.charged), 0))
            .where(BillRow.account_id == account_id)
            .scalar_subquery()
        )
        paid = (
            select(func.coalesce(func.sum(PaymentRow.amount), 0))
            .where(PaymentRow.account_id == account_id)
            .scalar_subquery()
        )
        row = (await self.session.execute(select(charged, paid))).one()
        return money(row[0]), money(row[1])

    async def add_payment(self, payment: Payment) -> bool:
        """Store it (its `id` is ignored; the database assigns one).

        ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed statement would
        poison a PostgreSQL transaction, and a retried provider callback is normal.
        """
        statement = (
            dialect_insert(self.session, PaymentRow)
            .values(
                account_id=payment.account_id,
                amount=payment.amount,
                paid_at=payment.paid_at,
                provider=payment.provider,
                provider_txn_id=payment.provider_txn_id,
            )
            .on_conflict_do_nothing()
            .returning(PaymentRow.id)
        )
        inserted = await self.session.scalar(statement)
        return inserted is not None

    async def payment_by_transaction(self, provider: str, provider_txn_id: str) -> Payment | None:
        row = await self.session.scalar(
            select(PaymentRow).where(
                PaymentRow.provider == provider, PaymentRow.provider_txn_id == provider_txn_id
            )
        )
        return self._payment(row) if row is not None else None

    @staticmethod
    def _payment(row: PaymentRow) -> Payment:
        return Payment(
            id=row.id,
            account_id=row.account_id,
            amount=row.amount,
            paid_at=row.paid_at,
            provider=row.provider,
            provider_txn_id=row.provider_txn_id,
        )

    @staticmethod
    def _bill(row: BillRow) -> Bill:
        return Bill(
            id=row.id,
            account_id=row.account_id,
            period=row.period,
            issued_on=row.issued_on,
            charged=row.charged,
            amount_due=row.amount_due,
            kwh=row.kwh,
            pdf_ref=row.pdf_ref,
        )


def money(value: Any) -> Decimal:
    """An amount of hryvnias with kopecks."""
    # SUM over NUMERIC comes back as Decimal on PostgreSQL but may be int/float on SQLite.
    return Decimal(str(value)).quantize(Decimal("0.01"))


class SqlAlchemyTariffRepository(AbstractTariffRepository):
    """Dated tariff rates."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rates_in_force(self, plan: TariffPlan, on: date) -> Sequence[TariffRate]:
        rows = await self.session.scalars(
            select(TariffRateRow)
            .where(
                TariffRateRow.plan == TariffPlan(plan).value,
                TariffRateRow.valid_from <= on,
                or_(TariffRateRow.valid_to.is_(None), TariffRateRow.valid_to >= on),
            )
            .order_by(TariffRateRow.valid_from.desc())
        )
        newest_per_zone: dict[Zone, TariffRate] = {}
        for row in rows:
            zone = Zone(row.zone)
            newest_per_zone.setdefault(
                zone,
                TariffRate(
                    plan=TariffPlan(row.plan),
                    zone=zone,
                    price=row.price,
                    valid_from=row.valid_from,
                    valid_to=row.valid_to,
                ),
            )
        return [newest_per_zone[zone] for zone in TariffPlan(plan).zones if zone in newest_per_zone]


class SqlAlchemyPersonRepository(AbstractPersonRepository):
    """Persons, channel identities, consents and notification preferences."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def identity(self, channel: Channel, external_id: str) -> ChannelIdentity | None:
        row = await self.session.scalar(
            select(ChannelIdentityRow).where(
                ChannelIdentityRow.channel == Channel(channel).value,
                ChannelIdentityRow.external_id == external_id,
            )
        )
        return self._identity(row) if row else None

    async def create_person_with_identity(
        self,
        channel: Channel,
        external_id: str,
        display_name: str,
        locale: str | None,
        at: datetime,
    ) -> ChannelIdentity:
        person = PersonRow(name=display_name, locale=locale, created_at=at)
        self.session.add(person)
        await self.session.flush()
        identity = ChannelIdentityRow(
            person_id=person.id,
            channel=Channel(channel).value,
            external_id=external_id,
            display_name=display_name,
            reachable=True,
        )
        self.session.add(identity)
        await self.session.flush()
        return self._identity(identity)

    async def get(self, person_id: int) -> Person | None:
        row = await self.session.get(PersonRow, person_id)
        return person_of(row, row.id) if row is not None else None

    async def update(self, person: Person) -> None:
        await self.session.execute(
            update(PersonRow)
            .where(PersonRow.id == person.id)
            .values(name=person.name, phone=person.phone, email=person.email, locale=person.locale)
        )

    async def identities(self, person_id: int) -> Sequence[ChannelIdentity]:
        rows = await self.session.scalars(
            select(ChannelIdentityRow)
            .where(ChannelIdentityRow.person_id == person_id)
            .order_by(ChannelIdentityRow.id)
        )
        return [self._identity(row) for row in rows]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        await self.session.execute(
            update(ChannelIdentityRow)
            .where(ChannelIdentityRow.id == identity_id)
            .values(reachable=reachable)
        )

    async def add_consent(self, consent: Consent) -> None:
        self.session.add(
            ConsentRow(
                person_id=consent.person_id,
                given_at=consent.given_at,
                version=consent.version,
                channel=Channel(consent.channel).value,
            )
        )
        await self.session.flush()

    async def latest_consent(self, person_id: int) -> Consent | None:
        row = await self.session.scalar(
            select(ConsentRow)
            .where(ConsentRow.person_id == person_id)
            .order_by(ConsentRow.given_at.desc(), ConsentRow.id.desc())
            .limit(1)
        )
        if row is None:
            return None
        return Consent(
            person_id=row.person_id,
            given_at=row.given_at,
            version=row.version,
            channel=Channel(row.channel),
        )

    async def move_identity(self, identity_id: int, person_id: int) -> None:
        await self.session.execute(
            update(ChannelIdentityRow)
            .where(ChannelIdentityRow.id == identity_id)
            .values(person_id=person_id)
        )

    async def erase(self, person_id: int, at: datetime) -> None:
        """Blank the person and delete what ties data to them; bills and payments stay.

        The person row stays (marked deleted) so consents remain as dated records and
        requests keep their text; requests lose the name, phone and login they carried.
        Readings they submitted stay with the account, without the identity.
        """
        identities = (
            await self.session.execute(
                select(ChannelIdentityRow.channel, ChannelIdentityRow.external_id).where(
                    ChannelIdentityRow.person_id == person_id
                )
            )
        ).all()
        for channel, external_id in identities:
            await self.session.execute(
                delete(DialogStateRow).where(
                    DialogStateRow.channel == channel, DialogStateRow.user_id == external_id
                )
            )
        for row_type in (ChannelIdentityRow, AccountLinkRow, LinkCodeRow):
            await self.session.execute(delete(row_type).where(row_type.person_id == person_id))
        await self.session.execute(
            delete(NotificationPrefsRow).where(NotificationPrefsRow.person_id == person_id)
        )
        await self.session.execute(
            update(SupportRequestRow)
            .where(SupportRequestRow.person_id == person_id)
            .values(name="", login="", phone="")
        )
        await self.session.execute(
            update(FreeServiceOrderRow)
            .where(FreeServiceOrderRow.person_id == person_id)
            .values(phone="")
        )
        await self.session.execute(
            update(PersonRow)
            .where(PersonRow.id == person_id)
            .values(name="", phone=None, email=None, locale=None, deleted_at=at)
        )
        await self._erase_elsewhere(person_id)

    async def _erase_elsewhere(self, person_id: int) -> None:
        """What other parts keep about the person: payment orders lose who paid (the order
        and the payment stay for accounting), the outage-schedule reminder settings and the
        pushes (with the texts they carried) go."""
        await self.session.execute(
            update(PaymentOrderRow)
            .where(PaymentOrderRow.person_id == person_id)
            .values(person_id=None, user_id="")
        )
        await self.session.execute(delete(OutboxRow).where(OutboxRow.person_id == person_id))
        # Imported here: storage.schedule_store imports this module (through the outbox).

        await self.session.execute(
            delete(ScheduleSettingsRow).where(ScheduleSettingsRow.person_id == person_id)
        )

    async def add_link_code(self, person_id: int, code_hash: str, expires_at: datetime) -> None:
        self.session.add(
            LinkCodeRow(
                person_id=person_id,
                code_hash=code_hash,
                expires_at=expires_at,
                tries=0,
                used=False,
            )
        )
        await self.session.flush()

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        """One UPDATE ... RETURNING: of two processes using one code, only one gets it."""
        return await self.session.scalar(
            update(LinkCodeRow)
            .where(
                LinkCodeRow.code_hash == code_hash,
                LinkCodeRow.used.is_(False),
                LinkCodeRow.expires_at > now,
            )
            .values(used=True)
            .returning(LinkCodeRow.person_id)
            .execution_options(synchronize_session=False)
        )

    async def prefs(self, person_id: int) -> NotificationPrefs | None:
        row = await self.session.get(NotificationPrefsRow, person_id)
        if row is None:
            return None
        return NotificationPrefs(
            person_id=row.person_id,
            channels=frozenset(Channel(channel) for channel in row.channels),
            paper_bill_only=row.paper_bill_only,
            outages_planned=row.outages_planned,
            outages_emergency=row.outages_emergency,
            new_bills=row.new_bills,
            reading_reminders=row.reading_reminders,
            changed_at=row.changed_at,
        )

    async def save_prefs(self, prefs: NotificationPrefs) -> None:
        values = {
            # Sorted so the stored JSON is stable and comparable.
            "channels": sorted(Channel(channel).value for channel in prefs.channels),
            "paper_bill_only": prefs.paper_bill_only,
            "outages_planned": prefs.outages_planned,
            "outages_emergency": prefs.outages_emergency,
            "new_bills": prefs.new_bills,
            "reading_reminders": prefs.reading_reminders,
            "changed_at": prefs.changed_at,
        }
        row = await self.session.get(NotificationPrefsRow, prefs.person_id)
        if row is None:
            self.session.add(NotificationPrefsRow(person_id=prefs.person_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        await self.session.flush()

    @staticmethod
    def _identity(row: ChannelIdentityRow) -> ChannelIdentity:
        return ChannelIdentity(
            id=row.id,
            person_id=row.person_id,
            channel=Channel(row.channel),
            external_id=row.external_id,
            display_name=row.display_name,
            reachable=row.reachable,
        )


class SqlAlchemyRequestRepository(AbstractRequestRepository):
    """Call-centre requests, free-service orders and support requests."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_call_center(self, request: CallCenterRequest) -> CallCenterRequest:
        row = CallCenterRequestRow(
            person_id=request.person_id,
            account_id=request.account_id,
            request_type=request.request_type,
            text=request.text,
            status=RequestStatus(request.status).value,
            created_at=request.created_at,
            answer=request.answer,
            answered_at=request.answered_at,
        )
        self.session.add(row)
        await self.session.flush()
        return dataclasses.replace(request, id=row.id)

    async def call_center_of(self, person_id: int) -> Sequence[CallCenterRequest]:
        """Newest first."""
        rows = await self.session.scalars(
            select(CallCenterRequestRow)
            .where(CallCenterRequestRow.person_id == person_id)
            .order_by(CallCenterRequestRow.created_at.desc(), CallCenterRequestRow.id.desc())
        )
        return [call_center_request(row) for row in rows]

    async def add_free_service(self, order: FreeServiceOrder) -> FreeServiceOrder:
        row = FreeServiceOrderRow(
            person_id=order.person_id,
            account_id=order.account_id,
            service_type=order.service_type,
            phone=order.phone,
            status=RequestStatus(order.status).value,
            created_at=order.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        return dataclasses.replace(order, id=row.id)

    async def free_services_of(self, person_id: int) -> Sequence[FreeServiceOrder]:
        """Newest first."""
        rows = await self.session.scalars(
            select(FreeServiceOrderRow)
            .where(FreeServiceOrderRow.person_id == person_id)
            .order_by(FreeServiceOrderRow.created_at.desc(), FreeServiceOrderRow.id.desc())
        )
        return [free_service_order(row) for row in rows]

    async def add_support(self, request: SupportRequest) -> SupportRequest:
        row = SupportRequestRow(
            person_id=request.person_id,
            name=request.name,
            login=request.login,
            phone=request.phone,
            request_type=request.request_type,
            text=request.text,
            status=RequestStatus(request.status).value,
            created_at=request.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        return dataclasses.replace(request, id=row.id)

    async def support_of(self, person_id: int) -> Sequence[SupportRequest]:
        """Newest first."""
        rows = await self.session.scalars(
            select(SupportRequestRow)
            .where(SupportRequestRow.person_id == person_id)
            .order_by(SupportRequestRow.created_at.desc(), SupportRequestRow.id.desc())
        )
        return [support_request(row) for row in rows]


def call_center_request(row: CallCenterRequestRow) -> CallCenterRequest:
    """A call-centre request row as the core entity."""
    return CallCenterRequest(
        id=row.id,
        person_id=row.person_id,
        account_id=row.account_id,
        request_type=row.request_type,
        text=row.text,
        status=RequestStatus(row.status),
        created_at=row.created_at,
        answer=row.answer,
        answered_at=row.answered_at,
    )


def free_service_order(row: FreeServiceOrderRow) -> FreeServiceOrder:
    """A free-service order row as the core entity."""
    return FreeServiceOrder(
        id=row.id,
        person_id=row.person_id,
        account_id=row.account_id,
        service_type=row.service_type,
        phone=row.phone,
        status=RequestStatus(row.status),
        created_at=row.created_at,
        answer=row.answer,
        answered_at=row.answered_at,
    )


def support_request(row: SupportRequestRow) -> SupportRequest:
    """A support request row as the core entity."""
    return SupportRequest(
        id=row.id,
        person_id=row.person_id,
        name=row.name,
        login=row.login,
        phone=row.phone,
        request_type=row.request_type,
        text=row.text,
        status=RequestStatus(row.status),
        created_at=row.created_at,
        answer=row.answer,
        answered_at=row.answered_at,
    )


class SqlAlchemyOutageRepository(AbstractOutageRepository):
    """Outages and the addresses or groups they hit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def affecting(self, account: Account, since: datetime) -> Sequence[Outage]:
        """Outages of the account's DSO that are not over before `since`, oldest start first.

        Cancelled ones are included (their flag is set) so a caller can say "cancelled".
        An outage is over at its restoration time, else at its (estimated) end.
        """
        account_street = street_key(account.address.street)
        target_match = or_(
            OutageTargetRow.outage_group == account.outage_group
            if account.outage_group
            else false(),
            OutageTargetRow.street_key == account_street,
        )
        not_over = or_(
            func.coalesce(OutageRow.restored_at, OutageRow.ends_at).is_(None),
            func.coalesce(OutageRow.restored_at, OutageRow.ends_at) >= since,
        )
        candidate_ids = (
            select(OutageTargetRow.outage_id).where(target_match).distinct().scalar_subquery()
        )
        rows = await self.session.scalars(
            select(OutageRow)
            .where(OutageRow.dso_id == account.dso_id, OutageRow.id.in_(candidate_ids), not_over)
            .order_by(OutageRow.starts_at, OutageRow.id)
        )
        return [
            self._outage(row)
            for row in rows
            if any(self._hits(target, account) for target in row.targets)
        ]

    async def last_update(self, dso_id: int) -> datetime | None:
        return await self.session.scalar(
            select(func.max(OutageRow.updated_at)).where(OutageRow.dso_id == dso_id)
        )

    @staticmethod
    def _hits(target: OutageTargetRow, account: Account) -> bool:
        # The SQL prefilter matched group or street key; settlement and buildings are
        # compared here because SQLite cannot case-fold Cyrillic.
        if target.outage_group and target.outage_group == account.outage_group:
            return True
        if not target.street_key or target.street_key != street_key(account.address.street):
            return False
        if target.settlement and settlement_key(target.settlement) != settlement_key(
            account.address.settlement
        ):
            return False
        buildings = {building.strip().casefold() for building in target.buildings}
        return not buildings or account.address.building.strip().casefold() in buildings

    @staticmethod
    def _outage(row: OutageRow) -> Outage:
        return Outage(
            id=row.id,
            kind=OutageKind(row.kind),
            dso_id=row.dso_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            reason=row.reason,
            targets=tuple(
                OutageTarget(
                    outage_group=target.outage_group,
                    settlement=target.settlement,
                    street=target.street,
                    buildings=tuple(target.buildings),
                )
                for target in row.targets
            ),
            published_at=row.published_at,
            updated_at=row.updated_at,
            cancelled=row.cancelled,
            restored_at=row.restored_at,
        )


class SqlAlchemyPaymentOrderRepository(AbstractPaymentOrderRepository):
    """Payment orders by their id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: PaymentOrder) -> None:
        self.session.add(
            PaymentOrderRow(
                order_id=order.order_id,
                account_id=order.account_id,
                amount=order.amount,
                created_at=order.created_at,
                person_id=order.person_id,
                channel=Channel(order.channel).value,
                user_id=order.user_id,
                status=OrderStatus(order.status).value,
                provider=order.provider,
                payment_url=order.payment_url,
                provider_txn_id=order.provider_txn_id,
                paid_at=order.paid_at,
            )
        )
        await self.session.flush()

    async def get(self, order_id: str) -> PaymentOrder | None:
        """The order; on PostgreSQL its row is locked (SQLite: BEGIN IMMEDIATE already is)."""
        return await self._one(PaymentOrderRow.order_id == order_id)

    async def paid_by(self, provider: str, provider_txn_id: str) -> PaymentOrder | None:
        return await self._one(
            PaymentOrderRow.provider == provider,
            PaymentOrderRow.provider_txn_id == provider_txn_id,
        )

    async def _one(self, *where: Any) -> PaymentOrder | None:
        query = select(PaymentOrderRow).where(*where)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = await self.session.scalar(query.execution_options(populate_existing=True))
        if row is None:
            return None
        return PaymentOrder(
            order_id=row.order_id,
            account_id=row.account_id,
            amount=row.amount,
            created_at=row.created_at,
            person_id=row.person_id,
            channel=Channel(row.channel),
            user_id=row.user_id,
            status=OrderStatus(row.status),
            provider=row.provider,
            payment_url=row.payment_url,
            provider_txn_id=row.provider_txn_id,
            paid_at=row.paid_at,
        )

    async def update(self, order: PaymentOrder) -> None:
        await self.session.execute(
            update(PaymentOrderRow)
            .where(PaymentOrderRow.order_id == order.order_id)
            .values(
                status=OrderStatus(order.status).value,
                amount=order.amount,
                provider=order.provider,
                payment_url=order.payment_url,
                provider_txn_id=order.provider_txn_id,
                paid_at=order.paid_at,
            )
        )


class SqlAlchemyPhotoRepository(AbstractPhotoRepository):
    """Records of stored meter photos."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        sha256: str,
        size: int,
        content_type: str,
        storage_ref: str,
        at: datetime,
        retain_until: datetime | None,
    ) -> int:
        row = PhotoRow(
            sha256=sha256,
            size=size,
            content_type=content_type,
            storage_ref=storage_ref,
            created_at=at,
            retain_until=retain_until,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id


class SqlAlchemyDialogRepository(AbstractDialogRepository):
    """Dialog state rows and processed-update keys."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load_for_update(self, channel: Channel, user_id: str) -> DialogState:
        """The state, with the row locked until the transaction ends.

        On PostgreSQL the row is created first if missing, so there is always a row to
        lock and a second process waits on it. On SQLite the transaction already holds the
        database write lock (BEGIN IMMEDIATE, see storage.database), so a read suffices.
        """
        channel_value = Channel(channel).value
        if self._dialect == "postgresql":
            # One round trip: an upsert that touches the row takes its lock like
            # SELECT ... FOR UPDATE, and RETURNING gives the state (new or existing).
            statement = (
                dialect_insert(self.session, DialogStateRow)
                .values(
                    channel=channel_value,
                    user_id=user_id,
                    state="",
                    data={},
                    updated_at=func.now(),
                )
                .on_conflict_do_update(
                    index_elements=[DialogStateRow.channel, DialogStateRow.user_id],
                    set_={"channel": channel_value},
                )
                .returning(DialogStateRow.state, DialogStateRow.data)
            )
            row = (await self.session.execute(statement)).one()
            return DialogState(Channel(channel), user_id, row.state, dict(row.data or {}))
        query = select(DialogStateRow.state, DialogStateRow.data).where(
            DialogStateRow.channel == channel_value, DialogStateRow.user_id == user_id
        )
        found = (await self.session.execute(query)).one_or_none()
        if found is None:
            return DialogState(channel=Channel(channel), user_id=user_id)
        return DialogState(Channel(channel), user_id, found.state, dict(found.data or {}))

    async def load_for_turn(self, channel: Channel, user_id: str, at: datetime) -> DialogState:
        """The state at the start of a turn on SQLite (whose transaction holds the database),
        noting that they wrote at `at`: one upsert, which also makes a first contact's row
        (as `turn_queries.begin_turn` does on PostgreSQL)."""
        statement = dialect_insert(self.session, DialogStateRow).values(
            channel=Channel(channel).value,
            user_id=user_id,
            state="",
            data={},
            updated_at=at,
            last_inbound_at=at,
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[DialogStateRow.channel, DialogStateRow.user_id],
            set_={"last_inbound_at": statement.excluded.last_inbound_at},
        ).returning(DialogStateRow.state, DialogStateRow.data)
        row = (await self.session.execute(upsert)).one()
        return DialogState(Channel(channel), user_id, row.state, dict(row.data or {}))

    async def save(self, state: DialogState, at: datetime) -> None:
        values = {
            "channel": Channel(state.channel).value,
            "user_id": state.user_id,
            "state": state.state,
            "data": dict(state.data),
            "updated_at": at,
        }
        statement = dialect_insert(self.session, DialogStateRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[DialogStateRow.channel, DialogStateRow.user_id],
            set_={"state": values["state"], "data": values["data"], "updated_at": at},
        )
        await self.session.execute(statement)

    async def first_time_seen(self, channel: Channel, key: str, at: datetime) -> bool:
        statement = (
            dialect_insert(self.session, ProcessedUpdateRow)
            .values(channel=Channel(channel).value, key=key, seen_at=at)
            .on_conflict_do_nothing()
            .returning(ProcessedUpdateRow.key)
        )
        inserted = await self.session.scalar(statement)
        return inserted is not None

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name
