"""Ports: what core needs from the outside world, as abstract classes.

Storage implements the repositories and the unit of work with SQLAlchemy; tests implement
them with in-memory fakes. Every method is async because the real ones do I/O.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from core.model import (
    Account,
    BalanceFacts,
    Bill,
    BillingReading,
    CallCenterRequest,
    Caller,
    Channel,
    ChannelIdentity,
    ChatMemory,
    Consent,
    Consumption,
    DialogState,
    Dso,
    FreeServiceOrder,
    MediaFile,
    Meter,
    NotificationPrefs,
    Outage,
    Payment,
    PaymentOrder,
    Person,
    Readings,
    Region,
    RequestStatus,
    SubmittedReading,
    Supplier,
    SupportRequest,
    TariffPlan,
    TariffRate,
    TurnSnapshot,
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


class AbstractReferenceRepository(abc.ABC):
    """Regions, DSOs and suppliers."""

    @abc.abstractmethod
    async def regions(self) -> Sequence[Region]: ...

    @abc.abstractmethod
    async def dsos(self) -> Sequence[Dso]: ...

    @abc.abstractmethod
    async def dso(self, dso_id: int) -> Dso | None: ...

    @abc.abstractmethod
    async def supplier(self, supplier_id: int) -> Supplier | None: ...


class AbstractAccountRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, account_id: int) -> Account | None: ...

    @abc.abstractmethod
    async def find(self, number: str, eic: str) -> Account | None:
        """The account whose number AND EIC both match (EIC compared upper-case)."""


class AbstractLinkRepository(abc.ABC):
    """Which persons see which accounts, and the failed tries to link one."""

    @abc.abstractmethod
    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        """Linked accounts in the order they were linked."""

    @abc.abstractmethod
    async def is_linked(self, person_id: int, account_id: int) -> bool: ...

    @abc.abstractmethod
    async def link(self, person_id: int, account_id: int, at: datetime) -> None: ...

    @abc.abstractmethod
    async def unlink(self, person_id: int, account_id: int) -> None: ...

    @abc.abstractmethod
    async def record_failed_attempt(
        self, keys: Sequence[str], at: datetime, kind: str = "account"
    ) -> None:
        """Count a failed try of `kind` ("account" number+EIC, "code" one-time code) under
        each of `keys` (core.privacy.attempt_key: an identity, an account number)."""

    @abc.abstractmethod
    async def failed_attempts_since(
        self, key: str, since: datetime, kind: str = "account"
    ) -> Sequence[datetime]:
        """Times of failed tries of `kind` counted under `key` since `since`, oldest first."""


class AbstractMeterRepository(abc.ABC):
    @abc.abstractmethod
    async def in_service(self, account_id: int) -> Meter | None:
        """The meter not yet removed, if any."""


class AbstractReadingRepository(abc.ABC):
    """Submitted readings and billing readings."""

    @abc.abstractmethod
    async def submitted(
        self, account_id: int, since: datetime | None = None, until: datetime | None = None
    ) -> Sequence[SubmittedReading]:
        """Submitted readings with since <= taken_at < until, newest first."""

    @abc.abstractmethod
    async def add_submitted(self, reading: SubmittedReading) -> SubmittedReading:
        """Store and return it with its id."""

    @abc.abstractmethod
    async def remove_submitted(self, reading_id: int) -> None: ...

    @abc.abstractmethod
    async def latest_billing(self, account_id: int) -> BillingReading | None: ...

    @abc.abstractmethod
    async def billing(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[BillingReading]:
        """Billing readings of periods >= since_period, newest first."""

    @abc.abstractmethod
    async def consumption(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[Consumption]:
        """Consumption rows of periods >= since_period, newest period first."""


class AbstractBillingRepository(abc.ABC):
    """Bills, payments and the balance they add up to."""

    @abc.abstractmethod
    async def bills(
        self, account_id: int, since_period: str | None = None, limit: int | None = None
    ) -> Sequence[Bill]:
        """Newest first, at most `limit`."""

    @abc.abstractmethod
    async def bill(self, account_id: int, period: str) -> Bill | None: ...

    @abc.abstractmethod
    async def payments(
        self, account_id: int, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Payment]:
        """Newest first, at most `limit`."""

    @abc.abstractmethod
    async def totals(self, account_id: int) -> tuple[Decimal, Decimal]:
        """(sum of charges of all bills, sum of all payments)."""

    @abc.abstractmethod
    async def add_payment(self, payment: Payment) -> bool:
        """Store a payment; False when its provider transaction id is already stored."""

    @abc.abstractmethod
    async def payment_by_transaction(self, provider: str, provider_txn_id: str) -> Payment | None:
        """The stored payment with this provider's transaction id (imported or settled)."""


class AbstractTariffRepository(abc.ABC):
    @abc.abstractmethod
    async def rates_in_force(self, plan: TariffPlan, on: date) -> Sequence[TariffRate]:
        """One rate per zone of the plan, the one whose validity covers `on`."""


class AbstractPersonRepository(abc.ABC):
    """Persons, their channel identities, consents and notification preferences."""

    @abc.abstractmethod
    async def identity(self, channel: Channel, external_id: str) -> ChannelIdentity | None: ...

    @abc.abstractmethod
    async def create_person_with_identity(
        self,
        channel: Channel,
        external_id: str,
        display_name: str,
        locale: str | None,
        at: datetime,
    ) -> ChannelIdentity:
        """A new person with this identity as its first."""

    @abc.abstractmethod
    async def get(self, person_id: int) -> Person | None: ...

    @abc.abstractmethod
    async def update(self, person: Person) -> None:
        """Store name, phone, e-mail and locale."""

    @abc.abstractmethod
    async def identities(self, person_id: int) -> Sequence[ChannelIdentity]: ...

    @abc.abstractmethod
    async def set_reachable(self, identity_id: int, reachable: bool) -> None: ...

    @abc.abstractmethod
    async def add_consent(self, consent: Consent) -> None: ...

    @abc.abstractmethod
    async def latest_consent(self, person_id: int) -> Consent | None: ...

    @abc.abstractmethod
    async def move_identity(self, identity_id: int, person_id: int) -> None:
        """Attach an identity to another person (joining messengers into one profile)."""

    @abc.abstractmethod
    async def erase(self, person_id: int, at: datetime) -> None:
        """Erase a person's personal data: name, phone, e-mail, identities, links, consents'
        link to them stays only as a dated record, preferences, dialog states, link codes;
        requests they wrote keep their text for the call centre but lose name/phone/login.
        Billing data of accounts is not touched."""

    @abc.abstractmethod
    async def add_link_code(self, person_id: int, code_hash: str, expires_at: datetime) -> None:
        """Store a one-time code (its hash) that joins another messenger to this person."""

    @abc.abstractmethod
    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        """The person of an unexpired, unused code, marking it used; None otherwise."""

    @abc.abstractmethod
    async def prefs(self, person_id: int) -> NotificationPrefs | None: ...

    @abc.abstractmethod
    async def save_prefs(self, prefs: NotificationPrefs) -> None: ...


class AbstractRequestRepository(abc.ABC):
    """Call-centre requests, free-service orders and support requests."""

    @abc.abstractmethod
    async def add_call_center(self, request: CallCenterRequest) -> CallCenterRequest: ...

    @abc.abstractmethod
    async def call_center_of(self, person_id: int) -> Sequence[CallCenterRequest]: ...

    @abc.abstractmethod
    async def add_free_service(self, order: FreeServiceOrder) -> FreeServiceOrder: ...

    @abc.abstractmethod
    async def free_services_of(self, person_id: int) -> Sequence[FreeServiceOrder]: ...

    @abc.abstractmethod
    async def add_support(self, request: SupportRequest) -> SupportRequest: ...

    @abc.abstractmethod
    async def support_of(self, person_id: int) -> Sequence[SupportRequest]:
        """The person's support requests, newest first."""


class AbstractOutageRepository(abc.ABC):
    @abc.abstractmethod
    async def affecting(self, account: Account, since: datetime) -> Sequence[Outage]:
        """Outages not ended before `since` that target the account's group or address."""

    @abc.abstractmethod
    async def last_update(self, dso_id: int) -> datetime | None: ...


class AbstractDialogRepository(abc.ABC):
    """Conversation state and de-duplication of inbound updates."""

    @abc.abstractmethod
    async def load_for_update(self, channel: Channel, user_id: str) -> DialogState:
        """The state (empty when none), locked for the rest of the transaction."""

    @abc.abstractmethod
    async def save(self, state: DialogState, at: datetime) -> None: ...

    @abc.abstractmethod
    async def first_time_seen(self, channel: Channel, key: str, at: datetime) -> bool:
        """Remember an inbound update key; False when it was already processed."""


class AbstractChatMemories(abc.ABC):
    """Channel adapters' memories of chats, kept where every replica reads them (the
    dialog state), with the time the person last wrote."""

    @abc.abstractmethod
    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        """The chat's memory (empty when none) and when they last wrote (None: unknown)."""

    @abc.abstractmethod
    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        """Replace the chat's memory with `data`."""

    async def recall_many(self, channel: Channel, user_ids: Sequence[str]) -> dict[str, ChatMemory]:
        """The memories of several chats (a batch of pushes); a store that can read them in
        one go overrides this."""
        return {user_id: await self.recall(channel, user_id) for user_id in user_ids}


class AbstractMediaFiles(abc.ABC):
    """Files behind signed media URLs, readable by every replica until they expire."""

    @abc.abstractmethod
    async def put(
        self, key: str, file: MediaFile, created_at: datetime, expires_at: datetime
    ) -> None:
        """Keep `file` under `key`; the oldest files go when the store's caps are exceeded."""

    @abc.abstractmethod
    async def get(self, key: str, now: datetime) -> MediaFile | None:
        """The file under `key`, unless it expired before `now` or is gone."""


class AbstractPaymentOrderRepository(abc.ABC):
    """Orders sent to the payment provider, settled by its notification."""

    @abc.abstractmethod
    async def add(self, order: PaymentOrder) -> None: ...

    @abc.abstractmethod
    async def get(self, order_id: str) -> PaymentOrder | None:
        """The order, locked for the rest of the transaction (two notices settle once)."""

    @abc.abstractmethod
    async def update(self, order: PaymentOrder) -> None:
        """Store status, amount, transaction id and paid_at."""

    @abc.abstractmethod
    async def paid_by(self, provider: str, provider_txn_id: str) -> PaymentOrder | None:
        """The order this provider's transaction settled, if any."""


class AbstractPhotoRepository(abc.ABC):
    """Meter photos kept as evidence of confirmed photo readings."""

    @abc.abstractmethod
    async def add(
        self,
        sha256: str,
        size: int,
        content_type: str,
        storage_ref: str,
        at: datetime,
        retain_until: datetime | None,
    ) -> int:
        """Store the photo's record; its id."""


class AbstractOutboxRepository(abc.ABC):
    """The durable outbox of pushes: one row per (event, person), enqueued set-based.

    Each enqueue picks the person's channel by the same rules (`core.delivery`): their
    settings and topics, then the cheapest channel that can deliver now, then e-mail. An
    existing (event, person) row is left as it is, so enqueueing twice sends once.
    """

    @abc.abstractmethod
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
        """One push to one person; False when already queued or no channel may carry it."""

    @abc.abstractmethod
    async def enqueue_outage_targets(
        self,
        outage: Outage,
        event: str,
        topic: str,
        payload: dict,
        now: datetime,
        exclude_told: bool = False,
    ) -> int:
        """One INSERT ... SELECT: a push to every person linked to an account the outage
        targets (by group or address); `exclude_told` skips persons already told about it.
        The number of rows queued."""

    @abc.abstractmethod
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
        """A push to every person already told about `subject` (sent or being sent).

        With `outage` and `still_targeted`, only those the outage's targets still (True)
        or no longer (False) hit. The number of rows queued."""

    @abc.abstractmethod
    async def supersede_pending(self, subject: str, now: datetime) -> int:
        """Withdraw the pushes of `subject` not yet handed to a platform; how many."""

    @abc.abstractmethod
    async def event_queued(self, subject: str, event: str) -> bool:
        """Whether any push of this event (of `subject`) exists: a job's stage was done."""

    @abc.abstractmethod
    async def queued_per_channel(self, subject: str) -> dict[tuple[Channel, str], int]:
        """Pushes of `subject` queued or sent (not withdrawn), per (channel, topic): what a
        broadcast will cost."""

    @abc.abstractmethod
    async def enqueue_new_bills(
        self, periods: Sequence[str], account_ids: Sequence[int] | None, now: datetime
    ) -> int:
        """A new-bill notice to each person linked to an account with a bill of one of
        `periods` (only `account_ids` when given). The number queued."""

    @abc.abstractmethod
    async def enqueue_reading_reminders(
        self, period: str, window_opens: datetime, payload: dict, now: datetime
    ) -> int:
        """A reminder to each person with a linked account (with a meter) that has no
        reading submitted since `window_opens`. The number queued."""


class AbstractOutageStore(abc.ABC):
    """Outages as the operator publishes and changes them."""

    @abc.abstractmethod
    async def add(self, outage: Outage, external_id: str | None = None) -> Outage | None:
        """Store a new outage with its targets; returned with its id.

        None, storing nothing, when the DSO already has an outage under `external_id`
        (a concurrent publisher of the same outage committed first).
        """

    @abc.abstractmethod
    async def get(self, outage_id: int) -> Outage | None:
        """The outage, locked for the rest of the transaction (two changes apply in turn)."""

    @abc.abstractmethod
    async def by_external_id(self, dso_id: int, external_id: str) -> Outage | None:
        """The outage the grid operator's system knows under `external_id`, locked."""

    @abc.abstractmethod
    async def save(self, outage: Outage) -> None:
        """Store times, reason, flags and (replacing them) the targets."""

    @abc.abstractmethod
    async def planned_starting(self, after: datetime, until: datetime) -> Sequence[Outage]:
        """Planned outages, not cancelled nor restored, starting in (after, until]."""


class StoreUnavailable(Exception):
    """The store cannot be reached now (down, restarting, refusing connections, its pool
    exhausted): nothing of the unit of work was kept, and the same work may succeed later.

    A unit of work raises it instead of its driver's error, so callers can answer "try
    again" (an HTTP 503, a platform's redelivery) without knowing the database."""


class AbstractUnitOfWork(abc.ABC):
    """One transaction over all repositories: `async with uow: ...; await uow.commit()`.

    Leaving the block without commit rolls back, so a failed flow writes nothing. The two
    questions of a chat turn that span repositories, `begin_turn` and `balance_facts`, are
    asked of the unit of work itself, so that a store can answer each in one statement.
    """

    references: AbstractReferenceRepository
    accounts: AbstractAccountRepository
    links: AbstractLinkRepository
    meters: AbstractMeterRepository
    readings: AbstractReadingRepository
    billing: AbstractBillingRepository
    tariffs: AbstractTariffRepository
    persons: AbstractPersonRepository
    requests: AbstractRequestRepository
    outages: AbstractOutageRepository
    dialogs: AbstractDialogRepository
    payment_orders: AbstractPaymentOrderRepository
    photos: AbstractPhotoRepository
    operator: AbstractOperatorRepository
    outbox: AbstractOutboxRepository
    outage_store: AbstractOutageStore
    schedules: AbstractScheduleStore

    async def __aenter__(self) -> AbstractUnitOfWork:
        return self

    async def begin_turn(
        self, channel: Channel, user_id: str, update_key: str | None, at: datetime
    ) -> TurnSnapshot | None:
        """Start a chat turn: remember the update, lock the conversation, read who wrote.

        None when the update was processed before (then nothing else happens). Every turn
        starts with this; the SQL store answers it in one statement on PostgreSQL, and
        this composition of the repositories' answers is what that statement must equal.
        """
        if update_key is not None and not await self.dialogs.first_time_seen(
            channel, update_key, at
        ):
            return None
        state = await self.dialogs.load_for_update(channel, user_id)
        identity = await self.persons.identity(channel, user_id)
        if identity is None:
            return TurnSnapshot(state, None)
        person = await self.persons.get(identity.person_id)
        if person is None:  # an identity always has a person; a broken row is a bug
            raise RuntimeError("identity without a person")
        consent = await self.persons.latest_consent(person.id)
        accounts = await self.links.accounts_of(person.id)
        caller = Caller(identity, person, consent.version if consent else None)
        return TurnSnapshot(state, caller, tuple(accounts))

    async def balance_facts(
        self, account_id: int, window: tuple[datetime, datetime] | None = None
    ) -> BalanceFacts:
        """What the account's balance is made of; with a window [since, until), the readings
        submitted in it come along.

        The balance is on the hottest path of the bot: the SQL store answers it in one
        statement, and this composition is what that statement must equal.
        """
        charged, paid = await self.billing.totals(account_id)
        bills = await self.billing.bills(account_id, limit=1)
        payments = await self.billing.payments(account_id, limit=1)
        reading = await self.readings.latest_billing(account_id)
        used: Readings = {}
        if reading is not None:
            rows = await self.readings.consumption(account_id, since_period=reading.period)
            used = {row.zone: row.kwh for row in rows if row.period == reading.period}
        submitted: Sequence[SubmittedReading] = ()
        if window is not None:
            submitted = await self.readings.submitted(account_id, since=window[0], until=window[1])
        return BalanceFacts(
            charged=charged,
            paid=paid,
            last_bill=bills[0] if bills else None,
            last_payment=payments[0] if payments else None,
            last_billing_reading=reading,
            last_period_consumption=used,
            submitted=tuple(submitted),
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...


class AbstractUnitOfWorkFactory(abc.ABC):
    """Makes a fresh unit of work per use; built once in the composition root."""

    @abc.abstractmethod
    def __call__(self) -> AbstractUnitOfWork: ...


# --- the operator API: imports from billing, exports to it, the call-centre queue ---------


class AbstractOperatorRepository(abc.ABC):
    """What the operator API needs of storage: look-ups by natural key, set-based upserts
    of imported rows, the export of submitted readings, and the queues of call-centre
    requests and free-service orders."""

    @abc.abstractmethod
    async def account_refs(self, numbers: Iterable[str]) -> Mapping[str, AccountRef]:
        """Stored accounts by number (the lowest id when a number repeats)."""

    @abc.abstractmethod
    async def eic_owners(self, eics: Iterable[str]) -> Mapping[str, str]:
        """EIC → the number of the stored account that has it."""

    @abc.abstractmethod
    async def dso_ids(self) -> frozenset[int]: ...

    @abc.abstractmethod
    async def supplier_ids(self) -> frozenset[int]: ...

    @abc.abstractmethod
    async def meter_refs(self, account_ids: Iterable[int]) -> Sequence[MeterRef]:
        """Every meter of these accounts, oldest installation first."""

    @abc.abstractmethod
    async def upsert_accounts(self, records: Sequence[AccountRecord]) -> UpsertResult: ...

    @abc.abstractmethod
    async def upsert_meters(self, records: Sequence[MeterRecord]) -> UpsertResult: ...

    @abc.abstractmethod
    async def upsert_bills(self, records: Sequence[BillRecord]) -> UpsertResult:
        """By (account, period); a record without a PDF keeps the stored PDF reference."""

    @abc.abstractmethod
    async def upsert_payments(self, records: Sequence[PaymentRecord]) -> UpsertResult: ...

    @abc.abstractmethod
    async def upsert_consumption(self, records: Sequence[ConsumptionRecord]) -> UpsertResult: ...

    @abc.abstractmethod
    async def upsert_billing_readings(
        self, records: Sequence[BillingReadingRecord]
    ) -> UpsertResult: ...

    @abc.abstractmethod
    async def set_bill_pdf(self, account_number: str, period: str, pdf_ref: str) -> bool:
        """Point a stored bill at its PDF; False when there is no such bill."""

    @abc.abstractmethod
    async def submitted_readings(
        self, since: datetime, until: datetime | None, after_id: int, limit: int
    ) -> Sequence[ReadingExport]:
        """Submitted readings with since <= taken_at < until and id > after_id, by id."""

    @abc.abstractmethod
    async def call_center_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[CallCenterRequest]:
        """Requests (of one status, or all) with id > after_id, oldest first."""

    @abc.abstractmethod
    async def call_center_request(self, request_id: int) -> CallCenterRequest | None:
        """The request, locked for the rest of the transaction (two operators answer once)."""

    @abc.abstractmethod
    async def answer_call_center(
        self, request_id: int, answer: str | None, status: RequestStatus, at: datetime | None
    ) -> None: ...

    @abc.abstractmethod
    async def free_service_orders(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[FreeServiceOrder]:
        """Orders (of one status, or all) with id > after_id, oldest first."""

    @abc.abstractmethod
    async def free_service_order(self, order_id: int) -> FreeServiceOrder | None:
        """The order, locked for the rest of the transaction."""

    @abc.abstractmethod
    async def answer_free_service(
        self, order_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        """Move the order to `status` and keep `answer` as the operator's latest word."""

    @abc.abstractmethod
    async def support_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[SupportRequest]:
        """Support requests (of one status, or all) with id > after_id, oldest first."""

    @abc.abstractmethod
    async def support_request(self, request_id: int) -> SupportRequest | None:
        """The request, locked for the rest of the transaction (answered once)."""

    @abc.abstractmethod
    async def answer_support(
        self, request_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None: ...


class AbstractScheduleStore(abc.ABC):
    """Outage schedules by group and day (versions), people's schedule settings, and the
    set-based enqueueing of schedule pushes (core.schedules)."""

    @abc.abstractmethod
    async def latest(self, group: str, day: date) -> DaySchedule | None:
        """The newest version of a group's day, or None when never published."""

    @abc.abstractmethod
    async def add(self, schedule: DaySchedule) -> DaySchedule:
        """Store a new version (its `version` is set by the caller)."""

    @abc.abstractmethod
    async def confirm(self, schedule: DaySchedule, at: datetime) -> None:
        """The source published the same slots again at `at` (freshness only)."""

    @abc.abstractmethod
    async def latest_for_days(
        self, days: Sequence[date], groups: Sequence[str] | None = None
    ) -> Sequence[DaySchedule]:
        """Newest versions of the given days, of the given groups (None: every group)."""

    @abc.abstractmethod
    async def settings(self, person_id: int) -> ScheduleSettings:
        """A person's schedule settings (defaults when never set)."""

    @abc.abstractmethod
    async def save_settings(self, person_id: int, settings: ScheduleSettings) -> None: ...

    @abc.abstractmethod
    async def enqueue_group(
        self, group: str, event: str, subject: str, texts: Mapping[str, str], now: datetime
    ) -> int:
        """One push per person linked to an account of the group; one INSERT ... SELECT."""

    @abc.abstractmethod
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
        """A reminder to the group's people whose lead covers `minutes_left` and who are
        not in quiet hours at `local_minute`; one INSERT ... SELECT."""
