"""The tables every fake repository reads and writes, and the base the repositories share."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from core.model import (
    Account,
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
    SubmittedReading,
    Supplier,
    SupportRequest,
    TariffRate,
)
from core.records import DaySchedule, ScheduleSettings


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


@dataclass
class FakeData:
    """Everything the fakes store; shared by all units of work of one factory.

    Besides the tables, two knobs a test sets to play an installation: `last_inbound`
    (when a person last wrote in a channel, by (channel, external id); never, if absent)
    and `push_channels` (the channels that are on; None: every channel)."""

    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    regions: list[Region] = field(default_factory=list)
    dsos: list[Dso] = field(default_factory=list)
    suppliers: list[Supplier] = field(default_factory=list)
    accounts: dict[int, Account] = field(default_factory=dict)
    links: dict[tuple[int, int], datetime] = field(default_factory=dict)
    failures: list[tuple[str, datetime, str]] = field(default_factory=list)
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
    # (dso id, the DSO's own id of the outage) -> outage id
    outage_external_ids: dict[tuple[int, str], int] = field(default_factory=dict)
    dialogs: dict[tuple[Channel, str], DialogState] = field(default_factory=dict)
    seen: set[tuple[Channel, str]] = field(default_factory=set)
    # The outbox, by (event, person id) as its unique key in storage.
    outbox_rows: dict[tuple[str, int], FakePush] = field(default_factory=dict)
    last_inbound: dict[tuple[Channel, str], datetime] = field(default_factory=dict)
    push_channels: frozenset[Channel] | None = None
    schedule_versions: list[DaySchedule] = field(default_factory=list)
    schedule_settings: dict[int, ScheduleSettings] = field(default_factory=dict)

    def next_id(self) -> int:
        """A fresh id, unique across every table of this data."""
        return next(self.ids)


class FakeRepo:
    """A fake repository: a view on the shared FakeData."""

    def __init__(self, data: FakeData) -> None:
        self.data = data
