"""In-memory implementations of every core port, for fast tests of core and flows."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
    Outage,
    Payment,
    PaymentOrder,
    Person,
    Region,
    RequestStatus,
    SubmittedReading,
    Supplier,
    SupportRequest,
    TariffPlan,
    TariffRate,
)
from core.payments import PaymentProvider, PaymentProviderError
from core.photo_reading import (
    MeterPhotoReader,
    PhotoProblem,
    PhotoRecognition,
    ReadingCandidate,
    ReadingPrior,
)
from core.ports import (
    AbstractAccountRepository,
    AbstractBillingRepository,
    AbstractDialogRepository,
    AbstractLinkRepository,
    AbstractMeterRepository,
    AbstractOperatorRepository,
    AbstractOutageRepository,
    AbstractPaymentOrderRepository,
    AbstractPersonRepository,
    AbstractPhotoRepository,
    AbstractReadingRepository,
    AbstractReferenceRepository,
    AbstractRequestRepository,
    AbstractScheduleStore,
    AbstractTariffRepository,
    AbstractUnitOfWork,
    AbstractUnitOfWorkFactory,
)
from core.records import (
    AccountRecord,
    AccountRef,
    BillingReadingRecord,
    BillRecord,
    ConsumptionRecord,
    DaySchedule,
    MeterRecord,
    MeterRef,
    PaymentRecord,
    ReadingExport,
    ScheduleSettings,
    UpsertResult,
)


@dataclass
class FakeData:
    """Everything the fakes store; shared by all units of work of one factory."""

    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    regions: list[Region] = field(default_factory=list)
    dsos: list[Dso] = field(default_factory=list)
    suppliers: list[Supplier] = field(default_factory=list)
    accounts: dict[int, Account] = field(default_factory=dict)
    links: dict[tuple[int, int], datetime] = field(default_factory=dict)
    failures: list[tuple[int, datetime, str]] = field(default_factory=list)
    link_codes: dict[str, tuple[int, datetime, bool]] = field(default_factory=dict)
    orders: dict[str, PaymentOrder] = field(default_factory=dict)
    photos: dict[int, tuple[str, int, str, str]] = field(default_factory=dict)
    meters: list[Meter] = field(default_factory=list)
    submitted: dict[int, SubmittedReading] = field(default_factory=dict)
    billing_readings: list[BillingReading] = field(default_factory=list)
    consumption: list[Consumption] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    rates: list[TariffRate] = field(default_factory=list)
    persons: dict[int, Person] = field(default_factory=dict)
    identities: dict[int, ChannelIdentity] = field(default_factory=dict)
    consents: list[Consent] = field(default_factory=list)
    prefs: dict[int, NotificationPrefs] = field(default_factory=dict)
    call_center: list[CallCenterRequest] = field(default_factory=list)
    free_services: list[FreeServiceOrder] = field(default_factory=list)
    support: list[SupportRequest] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    dialogs: dict[tuple[Channel, str], DialogState] = field(default_factory=dict)
    seen: set[tuple[Channel, str]] = field(default_factory=set)

    def next_id(self) -> int:
        return next(self.ids)


class _Repo:
    def __init__(self, data: FakeData) -> None:
        self.data = data


class FakeReferences(_Repo, AbstractReferenceRepository):
    async def regions(self) -> Sequence[Region]:
        return list(self.data.regions)

    async def dsos(self) -> Sequence[Dso]:
        return list(self.data.dsos)

    async def dso(self, dso_id: int) -> Dso | None:
        return next((d for d in self.data.dsos if d.id == dso_id), None)

    async def supplier(self, supplier_id: int) -> Supplier | None:
        return next((s for s in self.data.suppliers if s.id == supplier_id), None)


class FakeAccounts(_Repo, AbstractAccountRepository):
    async def get(self, account_id: int) -> Account | None:
        return self.data.accounts.get(account_id)

    async def find(self, number: str, eic: str) -> Account | None:
        return next(
            (a for a in self.data.accounts.values() if a.number == number and a.eic == eic.upper()),
            None,
        )


class FakeLinks(_Repo, AbstractLinkRepository):
    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        linked = sorted((at, a) for (p, a), at in self.data.links.items() if p == person_id)
        return [self.data.accounts[a] for _, a in linked]

    async def is_linked(self, person_id: int, account_id: int) -> bool:
        return (person_id, account_id) in self.data.links

    async def link(self, person_id: int, account_id: int, at: datetime) -> None:
        self.data.links[(person_id, account_id)] = at

    async def unlink(self, person_id: int, account_id: int) -> None:
        self.data.links.pop((person_id, account_id), None)

    async def record_failed_attempt(
        self, person_id: int, at: datetime, kind: str = "account"
    ) -> None:
        self.data.failures.append((person_id, at, kind))

    async def failed_attempts_since(
        self, person_id: int, since: datetime, kind: str = "account"
    ) -> Sequence[datetime]:
        return sorted(
            at for p, at, k in self.data.failures if p == person_id and at >= since and k == kind
        )


class FakeMeters(_Repo, AbstractMeterRepository):
    async def in_service(self, account_id: int) -> Meter | None:
        return next(
            (m for m in self.data.meters if m.account_id == account_id and m.removed_on is None),
            None,
        )


class FakeReadings(_Repo, AbstractReadingRepository):
    async def submitted(
        self, account_id: int, since: datetime | None = None, until: datetime | None = None
    ) -> Sequence[SubmittedReading]:
        rows = [
            r
            for r in self.data.submitted.values()
            if r.account_id == account_id
            and (since is None or r.taken_at >= since)
            and (until is None or r.taken_at < until)
        ]
        return sorted(rows, key=lambda r: r.taken_at, reverse=True)

    async def add_submitted(self, reading: SubmittedReading) -> SubmittedReading:
        stored = replace(reading, id=self.data.next_id())
        self.data.submitted[stored.id] = stored  # type: ignore[index]
        return stored

    async def remove_submitted(self, reading_id: int) -> None:
        self.data.submitted.pop(reading_id, None)

    async def latest_billing(self, account_id: int) -> BillingReading | None:
        rows = await self.billing(account_id)
        return rows[0] if rows else None

    async def billing(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[BillingReading]:
        rows = [
            r
            for r in self.data.billing_readings
            if r.account_id == account_id and (since_period is None or r.period >= since_period)
        ]
        return sorted(rows, key=lambda r: r.period, reverse=True)

    async def consumption(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[Consumption]:
        rows = [
            r
            for r in self.data.consumption
            if r.account_id == account_id and (since_period is None or r.period >= since_period)
        ]
        return sorted(rows, key=lambda r: r.period, reverse=True)


class FakeBilling(_Repo, AbstractBillingRepository):
    async def bills(
        self, account_id: int, since_period: str | None = None, limit: int | None = None
    ) -> Sequence[Bill]:
        rows = [
            b
            for b in self.data.bills
            if b.account_id == account_id and (since_period is None or b.period >= since_period)
        ]
        return sorted(rows, key=lambda b: b.period, reverse=True)[:limit]

    async def bill(self, account_id: int, period: str) -> Bill | None:
        return next(
            (b for b in self.data.bills if b.account_id == account_id and b.period == period), None
        )

    async def payments(
        self, account_id: int, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Payment]:
        rows = [
            p
            for p in self.data.payments
            if p.account_id == account_id and (since is None or p.paid_at >= since)
        ]
        return sorted(rows, key=lambda p: p.paid_at, reverse=True)[:limit]

    async def totals(self, account_id: int) -> tuple[Decimal, Decimal]:
        charged = sum(
            (b.charged for b in self.data.bills if b.account_id == account_id), Decimal(0)
        )
        paid = sum((p.amount for p in self.data.payments if p.account_id == account_id), Decimal(0))
        return charged, paid

    async def add_payment(self, payment: Payment) -> bool:
        if any(
            p.provider == payment.provider and p.provider_txn_id == payment.provider_txn_id
            for p in self.data.payments
        ):
            return False
        self.data.payments.append(payment)
        return True


class FakeTariffs(_Repo, AbstractTariffRepository):
    async def rates_in_force(self, plan: TariffPlan, on: date) -> Sequence[TariffRate]:
        return [
            r
            for r in self.data.rates
            if r.plan == plan and r.valid_from <= on and (r.valid_to is None or on <= r.valid_to)
        ]


class FakePersons(_Repo, AbstractPersonRepository):
    async def identity(self, channel: Channel, external_id: str) -> ChannelIdentity | None:
        return next(
            (
                i
                for i in self.data.identities.values()
                if i.channel == channel and i.external_id == external_id
            ),
            None,
        )

    async def create_person_with_identity(
        self,
        channel: Channel,
        external_id: str,
        display_name: str,
        locale: str | None,
        at: datetime,
    ) -> ChannelIdentity:
        person = Person(self.data.next_id(), name=display_name, locale=locale, created_at=at)
        self.data.persons[person.id] = person
        identity = ChannelIdentity(
            self.data.next_id(), person.id, channel, external_id, display_name
        )
        self.data.identities[identity.id] = identity
        return identity

    async def get(self, person_id: int) -> Person | None:
        return self.data.persons.get(person_id)

    async def update(self, person: Person) -> None:
        self.data.persons[person.id] = person

    async def identities(self, person_id: int) -> Sequence[ChannelIdentity]:
        return [i for i in self.data.identities.values() if i.person_id == person_id]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        identity = self.data.identities[identity_id]
        self.data.identities[identity_id] = replace(identity, reachable=reachable)

    async def add_consent(self, consent: Consent) -> None:
        self.data.consents.append(consent)

    async def latest_consent(self, person_id: int) -> Consent | None:
        mine = [c for c in self.data.consents if c.person_id == person_id]
        return max(mine, key=lambda c: c.given_at) if mine else None

    async def move_identity(self, identity_id: int, person_id: int) -> None:
        identity = self.data.identities[identity_id]
        self.data.identities[identity_id] = replace(identity, person_id=person_id)

    async def erase(self, person_id: int, at: datetime) -> None:
        person = self.data.persons[person_id]
        self.data.persons[person_id] = Person(person.id, created_at=person.created_at)
        for identity in [i for i in self.data.identities.values() if i.person_id == person_id]:
            del self.data.identities[identity.id]
            self.data.dialogs.pop((identity.channel, identity.external_id), None)
        for key in [k for k in self.data.links if k[0] == person_id]:
            del self.data.links[key]
        self.data.prefs.pop(person_id, None)
        for code, (owner, _, _) in list(self.data.link_codes.items()):
            if owner == person_id:
                del self.data.link_codes[code]

    async def add_link_code(self, person_id: int, code_hash: str, expires_at: datetime) -> None:
        self.data.link_codes[code_hash] = (person_id, expires_at, False)

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        entry = self.data.link_codes.get(code_hash)
        if entry is None or entry[2] or entry[1] <= now:
            return None
        self.data.link_codes[code_hash] = (entry[0], entry[1], True)
        return entry[0]

    async def prefs(self, person_id: int) -> NotificationPrefs | None:
        return self.data.prefs.get(person_id)

    async def save_prefs(self, prefs: NotificationPrefs) -> None:
        self.data.prefs[prefs.person_id] = prefs


class FakeRequests(_Repo, AbstractRequestRepository):
    async def add_call_center(self, request: CallCenterRequest) -> CallCenterRequest:
        stored = replace(request, id=self.data.next_id())
        self.data.call_center.append(stored)
        return stored

    async def call_center_of(self, person_id: int) -> Sequence[CallCenterRequest]:
        return [r for r in reversed(self.data.call_center) if r.person_id == person_id]

    async def add_free_service(self, order: FreeServiceOrder) -> FreeServiceOrder:
        stored = replace(order, id=self.data.next_id())
        self.data.free_services.append(stored)
        return stored

    async def free_services_of(self, person_id: int) -> Sequence[FreeServiceOrder]:
        return [o for o in reversed(self.data.free_services) if o.person_id == person_id]

    async def add_support(self, request: SupportRequest) -> SupportRequest:
        stored = replace(request, id=self.data.next_id())
        self.data.support.append(stored)
        return stored

    async def support_of(self, person_id: int) -> Sequence[SupportRequest]:
        return [r for r in reversed(self.data.support) if r.person_id == person_id]


class FakeOutages(_Repo, AbstractOutageRepository):
    async def affecting(self, account: Account, since: datetime) -> Sequence[Outage]:
        def hits(outage: Outage) -> bool:
            return any(
                (t.outage_group and t.outage_group == account.outage_group)
                or (
                    t.settlement == account.address.settlement
                    and t.street == account.address.street
                    and (not t.buildings or account.address.building in t.buildings)
                )
                for t in outage.targets
            )

        return [
            o
            for o in self.data.outages
            if hits(o) and not o.cancelled and (o.ends_at is None or o.ends_at >= since)
        ]

    async def last_update(self, dso_id: int) -> datetime | None:
        times = [o.updated_at for o in self.data.outages if o.dso_id == dso_id]
        return max(times) if times else None


class FakeDialogs(_Repo, AbstractDialogRepository):
    async def load_for_update(self, channel: Channel, user_id: str) -> DialogState:
        state = self.data.dialogs.get((channel, user_id))
        if state is None:
            return DialogState(channel, user_id)
        return DialogState(channel, user_id, state.state, dict(state.data))

    async def save(self, state: DialogState, at: datetime) -> None:
        self.data.dialogs[(state.channel, state.user_id)] = state

    async def first_time_seen(self, channel: Channel, key: str, at: datetime) -> bool:
        if (channel, key) in self.data.seen:
            return False
        self.data.seen.add((channel, key))
        return True


class FakePaymentOrders(_Repo, AbstractPaymentOrderRepository):
    async def add(self, order: PaymentOrder) -> None:
        self.data.orders[order.order_id] = order

    async def get(self, order_id: str) -> PaymentOrder | None:
        return self.data.orders.get(order_id)

    async def update(self, order: PaymentOrder) -> None:
        self.data.orders[order.order_id] = order


class FakePhotos(_Repo, AbstractPhotoRepository):
    async def add(
        self,
        sha256: str,
        size: int,
        content_type: str,
        storage_ref: str,
        at: datetime,
        retain_until: datetime | None,
    ) -> int:
        photo_id = self.data.next_id()
        self.data.photos[photo_id] = (sha256, size, content_type, storage_ref)
        return photo_id


class FakeUnitOfWork(AbstractUnitOfWork):
    """Works on a copy-free shared FakeData; commit is counted, rollback is a no-op.

    Tests that need real rollback use the SQLAlchemy unit of work on SQLite instead.
    """

    def __init__(self, data: FakeData) -> None:
        self.data = data
        self.committed = 0
        self.references = FakeReferences(data)
        self.accounts = FakeAccounts(data)
        self.links = FakeLinks(data)
        self.meters = FakeMeters(data)
        self.readings = FakeReadings(data)
        self.billing = FakeBilling(data)
        self.tariffs = FakeTariffs(data)
        self.persons = FakePersons(data)
        self.requests = FakeRequests(data)
        self.outages = FakeOutages(data)
        self.dialogs = FakeDialogs(data)
        self.payment_orders = FakePaymentOrders(data)
        self.photos = FakePhotos(data)
        self.operator = FakeOperator(data)
        self.outbox = FakeOutbox(data)
        self.outage_store = FakeOutageStore(data)
        self.schedules = FakeScheduleStore(data)

    async def commit(self) -> None:
        self.committed += 1

    async def rollback(self) -> None:
        pass


class FakeUnitOfWorkFactory(AbstractUnitOfWorkFactory):
    def __init__(self, data: FakeData | None = None) -> None:
        self.data = data or FakeData()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.data)


class FakePaymentProvider(PaymentProvider):
    """Hands out local URLs and remembers the orders; can be told to fail."""

    name = "easypay"

    def __init__(self) -> None:
        self.orders: list[tuple[PaymentOrder, str]] = []
        self.failing = False

    async def payment_url(self, order: PaymentOrder, description: str) -> str:
        if self.failing:
            raise PaymentProviderError("provider down")
        self.orders.append((order, description))
        return f"https://pay.example/{order.order_id}"


class FakePhotoReader(MeterPhotoReader):
    """Answers with the recognition a test set, and remembers what it was asked."""

    def __init__(self) -> None:
        self.next = PhotoRecognition(problem=PhotoProblem.NO_DIGITS)
        self.calls: list[tuple[bytes, ReadingPrior | None]] = []

    async def read(self, image: bytes, prior: ReadingPrior | None = None) -> PhotoRecognition:
        self.calls.append((image, prior))
        return self.next

    def will_read(self, digits: str, confidence: float = 0.95) -> None:
        """The next photo reads as `digits`."""
        self.next = PhotoRecognition((ReadingCandidate(int(digits), digits, confidence),))


# --- the operator repository (imports, export, request queues) ----------------------------


class FakeOperator(_Repo, AbstractOperatorRepository):
    """Upserts into the FakeData lists by the same natural keys as storage; the stored
    values are compared so a repeated import counts as unchanged."""

    async def account_refs(self, numbers: Iterable[str]) -> Mapping[str, AccountRef]:
        wanted = set(numbers)
        refs: dict[str, AccountRef] = {}
        for account in sorted(self.data.accounts.values(), key=lambda a: -a.id):
            if account.number in wanted:
                refs[account.number] = AccountRef(
                    account.id, account.number, account.eic, account.tariff_plan
                )
        return refs

    async def eic_owners(self, eics: Iterable[str]) -> Mapping[str, str]:
        wanted = set(eics)
        return {a.eic: a.number for a in self.data.accounts.values() if a.eic in wanted}

    async def dso_ids(self) -> frozenset[int]:
        return frozenset(d.id for d in self.data.dsos)

    async def supplier_ids(self) -> frozenset[int]:
        return frozenset(s.id for s in self.data.suppliers)

    async def meter_refs(self, account_ids: Iterable[int]) -> Sequence[MeterRef]:
        wanted = set(account_ids)
        return [
            MeterRef(m.id, m.account_id, m.serial, m.digit_count, m.removed_on is None)
            for m in sorted(self.data.meters, key=lambda m: (m.installed_on, m.id))
            if m.account_id in wanted
        ]

    def _count(self, results: list[str], new_ids: list[int]) -> UpsertResult:
        return UpsertResult(
            inserted=results.count("new"),
            updated=results.count("changed"),
            unchanged=results.count("same"),
            inserted_ids=tuple(new_ids),
        )

    def _put(self, items: list, index: int | None, item: object) -> str:
        if index is None:
            items.append(item)
            return "new"
        if items[index] == item:
            return "same"
        items[index] = item
        return "changed"

    @staticmethod
    def _find(items: list, match: Callable[[Any], bool]) -> int | None:
        return next((i for i, item in enumerate(items) if match(item)), None)

    async def upsert_accounts(self, records: Sequence[AccountRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            old = next((a for a in self.data.accounts.values() if a.number == r.number), None)
            account = Account(
                id=old.id if old else self.data.next_id(),
                number=r.number,
                eic=r.eic,
                holder_name=r.holder_name,
                address=Address(r.settlement, r.street, r.building, r.apartment),
                dso_id=r.dso_id,
                supplier_id=r.supplier_id,
                tariff_plan=r.tariff_plan,
                outage_group=r.outage_group,
                contract_number=r.contract_number,
                contract_date=r.contract_date,
                opening_balance=r.opening_balance,
            )
            results.append("new" if old is None else "same" if old == account else "changed")
            if old is None:
                new_ids.append(account.id)
            self.data.accounts[account.id] = account
        return self._count(results, new_ids)

    async def upsert_meters(self, records: Sequence[MeterRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            key = (r.account_id, r.serial)
            index = self._find(self.data.meters, lambda m, key=key: (m.account_id, m.serial) == key)
            meter = Meter(
                id=self.data.meters[index].id if index is not None else self.data.next_id(),
                account_id=r.account_id,
                serial=r.serial,
                type_name=r.type_name,
                zones=r.zones,
                digit_count=r.digit_count,
                installed_on=r.installed_on,
                install_readings=dict(r.install_readings),
                removed_on=r.removed_on,
            )
            results.append(self._put(self.data.meters, index, meter))
            if index is None:
                new_ids.append(meter.id)
        return self._count(results, new_ids)

    async def upsert_bills(self, records: Sequence[BillRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            index = self._find(
                self.data.bills, lambda b, r=r: (b.account_id, b.period) == (r.account_id, r.period)
            )
            old = self.data.bills[index] if index is not None else None
            bill = Bill(
                id=old.id if old else self.data.next_id(),
                account_id=r.account_id,
                period=r.period,
                issued_on=r.issued_on,
                charged=r.charged,
                amount_due=r.amount_due,
                kwh=r.kwh,
                pdf_ref=r.pdf_ref if r.pdf_ref is not None else (old.pdf_ref if old else None),
            )
            results.append(self._put(self.data.bills, index, bill))
            if index is None:
                new_ids.append(bill.id)
        return self._count(results, new_ids)

    async def upsert_payments(self, records: Sequence[PaymentRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            key = (r.provider, r.provider_txn_id)
            index = self._find(
                self.data.payments, lambda p, key=key: (p.provider, p.provider_txn_id) == key
            )
            payment = Payment(
                id=self.data.payments[index].id if index is not None else self.data.next_id(),
                account_id=r.account_id,
                amount=r.amount,
                paid_at=r.paid_at,
                provider=r.provider,
                provider_txn_id=r.provider_txn_id,
            )
            results.append(self._put(self.data.payments, index, payment))
            if index is None:
                new_ids.append(payment.id)
        return self._count(results, new_ids)

    async def upsert_consumption(self, records: Sequence[ConsumptionRecord]) -> UpsertResult:
        results = []
        for r in records:
            key = (r.account_id, r.period, r.zone)
            index = self._find(
                self.data.consumption, lambda c, key=key: (c.account_id, c.period, c.zone) == key
            )
            item = Consumption(r.account_id, r.period, r.zone, r.kwh)
            results.append(self._put(self.data.consumption, index, item))
        return self._count(results, [])

    async def upsert_billing_readings(
        self, records: Sequence[BillingReadingRecord]
    ) -> UpsertResult:
        # FakeData keeps one BillingReading per period with its zones; a record is one zone.
        results = []
        for r in records:
            key = (r.account_id, r.period)
            index = self._find(
                self.data.billing_readings, lambda b, key=key: (b.account_id, b.period) == key
            )
            old = self.data.billing_readings[index] if index is not None else None
            values = {**(old.values if old else {}), r.zone: r.value}
            if (
                old is not None
                and old.values.get(r.zone) == r.value
                and (old.meter_id, old.taken_on, old.source) == (r.meter_id, r.taken_on, r.source)
            ):
                results.append("same")
                continue
            reading = BillingReading(r.account_id, r.meter_id, r.period, r.taken_on, values,
                                     r.source)  # fmt: skip
            self._put(self.data.billing_readings, index, reading)
            results.append("changed" if old is not None and r.zone in old.values else "new")
        return self._count(results, [])

    async def set_bill_pdf(self, account_number: str, period: str, pdf_ref: str) -> bool:
        ids = {a.id for a in self.data.accounts.values() if a.number == account_number}
        index = self._find(self.data.bills, lambda b: b.account_id in ids and b.period == period)
        if index is None:
            return False
        self.data.bills[index] = replace(self.data.bills[index], pdf_ref=pdf_ref)
        return True

    async def submitted_readings(
        self, since: datetime, until: datetime | None, after_id: int, limit: int
    ) -> Sequence[ReadingExport]:
        meters = {m.id: m for m in self.data.meters}
        found = []
        for reading in sorted(self.data.submitted.values(), key=lambda r: r.id or 0):
            if (reading.id or 0) <= after_id or reading.taken_at < since:
                continue
            if until is not None and reading.taken_at >= until:
                continue
            account = self.data.accounts[reading.account_id]
            found.append(
                ReadingExport(
                    id=reading.id or 0,
                    account_number=account.number,
                    eic=account.eic,
                    meter_serial=meters[reading.meter_id].serial,
                    taken_at=reading.taken_at,
                    values=dict(reading.values),
                    source=reading.source,
                    photo=reading.photo_id is not None,
                )
            )
        return found[:limit]

    async def call_center_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[CallCenterRequest]:
        items = sorted(self.data.call_center, key=lambda r: r.id)
        return [r for r in items if r.id > after_id and status in (None, r.status)][:limit]

    async def call_center_request(self, request_id: int) -> CallCenterRequest | None:
        return next((r for r in self.data.call_center if r.id == request_id), None)

    async def answer_call_center(
        self, request_id: int, answer: str | None, status: RequestStatus, at: datetime | None
    ) -> None:
        self.data.call_center = [
            replace(r, answer=answer, status=status, answered_at=at) if r.id == request_id else r
            for r in self.data.call_center
        ]

    async def free_service_orders(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[FreeServiceOrder]:
        items = sorted(self.data.free_services, key=lambda o: o.id)
        return [o for o in items if o.id > after_id and status in (None, o.status)][:limit]

    async def free_service_order(self, order_id: int) -> FreeServiceOrder | None:
        return next((o for o in self.data.free_services if o.id == order_id), None)

    async def answer_free_service(
        self, order_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        self.data.free_services = [
            replace(o, status=status, answer=answer, answered_at=at) if o.id == order_id else o
            for o in self.data.free_services
        ]

    async def support_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[SupportRequest]:
        items = sorted(self.data.support, key=lambda r: r.id)
        return [r for r in items if r.id > after_id and status in (None, r.status)][:limit]

    async def support_request(self, request_id: int) -> SupportRequest | None:
        return next((r for r in self.data.support if r.id == request_id), None)

    async def answer_support(
        self, request_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        self.data.support = [
            replace(r, answer=answer, status=status, answered_at=at) if r.id == request_id else r
            for r in self.data.support
        ]


# --- pushes: the outbox and the outage store (core.notifications, core.outages) ----------

from core.ports import AbstractOutageStore, AbstractOutboxRepository  # noqa: E402 - appended


@dataclass
class FakePush:
    """One queued push as the fake outbox keeps it."""

    event: str
    subject: str
    person_id: int
    channel: Channel
    topic: str
    payload: dict
    status: str = "pending"


def _fake_outbox_rows(data: FakeData) -> dict[tuple[str, int], FakePush]:
    # FakeData predates the outbox; its rows live beside the other fake tables.
    rows = data.__dict__.get("outbox_rows")
    if rows is None:
        rows = {}
        data.__dict__["outbox_rows"] = rows
    return rows


class FakeOutbox(_Repo, AbstractOutboxRepository):
    """The outbox port in memory, with the channel rules of core.delivery (no 24-hour
    knowledge: a fake person last wrote never, unless `data.last_inbound` says so)."""

    @property
    def rows(self) -> dict[tuple[str, int], FakePush]:
        return _fake_outbox_rows(self.data)

    def _route(self, person_id: int, topic: str, now: datetime, prefer: Channel | None):
        from core.delivery import Route, choose_route

        last = self.data.__dict__.get("last_inbound", {})
        routes = [
            Route(i.channel, i.id, last.get((i.channel, i.external_id)), i.reachable)
            for i in self.data.identities.values()
            if i.person_id == person_id
        ]
        person = self.data.persons.get(person_id)
        if person is not None and person.email:
            routes.append(Route(Channel.EMAIL, None))
        # The channels on in the installation the test plays (`data.push_channels`).
        on = self.data.__dict__.get("push_channels")
        prefs = self.data.prefs.get(person_id)
        if prefer is not None:
            preferred = [r for r in routes if r.channel == prefer]
            chosen = choose_route(preferred, prefs, topic, now, on=on)
            if chosen is not None:
                return chosen
        return choose_route(routes, prefs, topic, now, on=on)

    async def _add(
        self,
        person_id: int,
        event: str,
        subject: str,
        topic: str,
        payload: dict,
        now: datetime,
        prefer: Channel | None = None,
    ) -> bool:
        if (event, person_id) in self.rows:
            return False
        route = self._route(person_id, topic, now, prefer)
        if route is None:
            return False
        self.rows[(event, person_id)] = FakePush(
            event, subject, person_id, route.channel, topic, dict(payload)
        )
        return True

    async def enqueue_person(self, person_id, event, subject, topic, payload, now, prefer=None):
        return await self._add(person_id, event, subject, topic, payload, now, prefer)

    def _targeted(self, outage: Outage) -> set[int]:
        from core.outages import building_matches
        from storage.addresses import settlement_key, street_key

        def hits(account: Account) -> bool:
            for t in outage.targets:
                if t.outage_group and t.outage_group == account.outage_group:
                    return True
                if not t.street or street_key(t.street) != street_key(account.address.street):
                    continue
                if t.settlement and settlement_key(t.settlement) != settlement_key(
                    account.address.settlement
                ):
                    continue
                if not t.buildings or any(
                    building_matches(spec, account.address.building) for spec in t.buildings
                ):
                    return True
            return False

        hit = {a.id for a in self.data.accounts.values() if a.dso_id == outage.dso_id and hits(a)}
        return {person for (person, account) in self.data.links if account in hit}

    def _told(self, subject: str) -> set[int]:
        return {
            p.person_id
            for p in self.rows.values()
            if p.subject == subject and p.status in ("claimed", "sending", "sent", "uncertain")
        }

    async def enqueue_outage_targets(self, outage, event, topic, payload, now, exclude_told=False):
        subject = f"outage:{outage.id}"
        persons = self._targeted(outage) - (self._told(subject) if exclude_told else set())
        return sum([await self._add(p, event, subject, topic, payload, now) for p in persons])

    async def enqueue_told(
        self, subject, event, topic, payload, now, outage=None, still_targeted=None
    ):
        persons = self._told(subject)
        if outage is not None and still_targeted is not None:
            targeted = self._targeted(outage)
            persons = persons & targeted if still_targeted else persons - targeted
        return sum([await self._add(p, event, subject, "answers", payload, now) for p in persons])

    async def supersede_pending(self, subject: str, now: datetime) -> int:
        pending = [p for p in self.rows.values() if p.subject == subject and p.status == "pending"]
        for push in pending:
            push.status = "superseded"
        return len(pending)

    async def event_queued(self, subject: str, event: str) -> bool:
        return any(p.event == event for p in self.rows.values())

    async def enqueue_new_bills(self, periods, account_ids, now):
        queued = 0
        for bill in self.data.bills:
            if bill.period not in periods or (
                account_ids is not None and bill.account_id not in account_ids
            ):
                continue
            for person, account in self.data.links:
                if account == bill.account_id:
                    queued += await self._add(
                        person,
                        f"bill:{bill.period}:{account}",
                        f"bill:{bill.period}",
                        "new_bills",
                        {"kind": "bill.new", "period": bill.period},
                        now,
                    )
        return queued

    async def enqueue_reading_reminders(self, period, window_opens, payload, now):
        waiting = {
            person
            for person, account in self.data.links
            if any(m.account_id == account and m.removed_on is None for m in self.data.meters)
            and not any(
                r.account_id == account and r.taken_at >= window_opens
                for r in self.data.submitted.values()
            )
        }
        event = f"reading:{period}"
        return sum(
            [await self._add(p, event, event, "reading_reminders", payload, now) for p in waiting]
        )


class FakeOutageStore(_Repo, AbstractOutageStore):
    """Outages in `data.outages`, published and changed by core.outages."""

    async def add(self, outage: Outage, external_id: str | None = None) -> Outage:
        stored = replace(outage, id=self.data.next_id())
        self.data.outages.append(stored)
        if external_id:
            self.data.__dict__.setdefault("outage_external_ids", {})[
                (stored.dso_id, external_id)
            ] = stored.id
        return stored

    async def get(self, outage_id: int) -> Outage | None:
        return next((o for o in self.data.outages if o.id == outage_id), None)

    async def by_external_id(self, dso_id: int, external_id: str) -> Outage | None:
        known = self.data.__dict__.get("outage_external_ids", {}).get((dso_id, external_id))
        return None if known is None else await self.get(known)

    async def save(self, outage: Outage) -> None:
        self.data.outages = [outage if o.id == outage.id else o for o in self.data.outages]

    async def planned_starting(self, after: datetime, until: datetime) -> Sequence[Outage]:
        return sorted(
            (
                o
                for o in self.data.outages
                if o.kind.value == "planned"
                and not o.cancelled
                and o.restored_at is None
                and after < o.starts_at <= until
            ),
            key=lambda o: (o.starts_at, o.id),
        )


class FakeScheduleStore(_Repo, AbstractScheduleStore):
    """Schedule versions and settings beside FakeData; pushes through FakeOutbox's rules
    (the text in the person's language, as the SQL CASE picks it)."""

    @property
    def _versions(self) -> list[DaySchedule]:
        return self.data.__dict__.setdefault("schedule_versions", [])

    @property
    def _settings(self) -> dict[int, ScheduleSettings]:
        return self.data.__dict__.setdefault("schedule_settings", {})

    async def latest(self, group: str, day: date) -> DaySchedule | None:
        found = [s for s in self._versions if s.group == group and s.day == day]
        return max(found, key=lambda s: s.version) if found else None

    async def add(self, schedule: DaySchedule) -> DaySchedule:
        self._versions.append(schedule)
        return schedule

    async def confirm(self, schedule: DaySchedule, at: datetime) -> None:
        self._versions[:] = [
            replace(s, confirmed_at=at)
            if (s.group, s.day, s.version) == (schedule.group, schedule.day, schedule.version)
            else s
            for s in self._versions
        ]

    async def latest_for_days(
        self, days: Sequence[date], groups: Sequence[str] | None = None
    ) -> Sequence[DaySchedule]:
        keys = {(s.group, s.day) for s in self._versions if s.day in days}
        if groups is not None:
            keys = {key for key in keys if key[0] in groups}
        found = [await self.latest(group, day) for group, day in sorted(keys)]
        return [s for s in found if s is not None]

    async def settings(self, person_id: int) -> ScheduleSettings:
        return self._settings.get(person_id, ScheduleSettings())

    async def save_settings(self, person_id: int, settings: ScheduleSettings) -> None:
        self._settings[person_id] = settings

    def _members(self, group: str) -> set[int]:
        hit = {a.id for a in self.data.accounts.values() if a.outage_group == group}
        return {person for (person, account) in self.data.links if account in hit}

    async def _push(self, people: set[int], event, subject, texts, now) -> int:  # type: ignore[no-untyped-def]
        outbox = FakeOutbox(self.data)
        queued = 0
        for person_id in sorted(people):
            person = self.data.persons.get(person_id)
            language = ((person.locale if person else None) or "uk")[:2]
            body = texts.get(language) or texts.get("uk") or next(iter(texts.values()))
            queued += await outbox._add(
                person_id, event, subject, "outages_planned", {"kind": "text", "text": body}, now
            )
        return queued

    async def enqueue_group(self, group, event, subject, texts, now) -> int:  # type: ignore[no-untyped-def]
        return await self._push(self._members(group), event, subject, texts, now)

    async def enqueue_reminder(  # type: ignore[no-untyped-def]
        self, group, event, subject, texts, now, *, minutes_left, before_on, local_minute
    ) -> int:
        people = set()
        for person_id in self._members(group):
            settings = await self.settings(person_id)
            low, high = settings.quiet_from, settings.quiet_to
            quiet = (
                low is not None
                and high is not None
                and (low <= local_minute < high if low < high else not high <= local_minute < low)
            )
            if (
                settings.remind_minutes > 0
                and minutes_left <= settings.remind_minutes
                and not quiet
                and (settings.remind_on or not before_on)
            ):
                people.add(person_id)
        return await self._push(people, event, subject, texts, now)
