"""What a flow works with while it handles one input: the event, the person, the state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.i18n import Translator
from bot.messages import Button, Incoming, Reply
from core.accounts import LinkPolicy
from core.balances import BillingRules
from core.clock import Clock
from core.documents import DocumentRenderer, StoredDocuments
from core.evidence import PhotoStore
from core.model import Account, Channel, ChannelIdentity, DialogState, Person
from core.payment_qr import BankTransferRules
from core.payments import PaymentProvider
from core.photo_reading import MeterPhotoReader, PhotoRecognition
from core.ports import AbstractUnitOfWork
from core.readings import ReadingRules
from core.requests import RequestRules
from core.schedules import ScheduleRules

# Data keys that outlive a single flow: the last used account (offered first wherever an
# account is chosen) and what to resume once consent is given; the rest is flow-local.
KEPT_KEYS = ("acc", "resume")


@dataclass(frozen=True)
class DialogRules:
    """Domain rules the flows apply, as configured."""

    readings: ReadingRules = field(default_factory=ReadingRules)
    linking: LinkPolicy = field(default_factory=LinkPolicy)
    requests: RequestRules = field(default_factory=RequestRules)
    billing: BillingRules = field(default_factory=BillingRules)
    bank: BankTransferRules = field(default_factory=BankTransferRules)
    schedules: ScheduleRules = field(default_factory=ScheduleRules)
    consent_version: str = "2024-01"
    # Channels that are on in the installation: the only ones offered for pushes.
    push_channels: frozenset[Channel] = frozenset(Channel)
    page_size: int = 6
    photo_confidence: float = 0.8
    photo_retention_days: int = 365


@dataclass(frozen=True)
class Services:
    """Adapters flows call through core ports; built in the composition root."""

    documents: DocumentRenderer | None = None
    stored_documents: StoredDocuments | None = None
    payments: PaymentProvider | None = None
    photos: MeterPhotoReader | None = None
    photo_store: PhotoStore | None = None


@dataclass
class Context:
    """One input being handled: read it, talk to core through `uow`, collect replies."""

    event: Incoming
    uow: AbstractUnitOfWork
    t: Translator
    identity: ChannelIdentity
    person: Person
    state: DialogState
    clock: Clock
    rules: DialogRules
    accounts: tuple[Account, ...] = ()
    """The person's linked accounts, oldest link first: read with the state when the turn
    began (`TurnSnapshot`), read again by `reload_accounts` after a flow changes them."""
    services: Services = field(default_factory=Services)
    recognition: PhotoRecognition | None = None
    consented: bool | None = None
    replies: list[Reply] = field(default_factory=list)
    follow: str | None = None
    """A payload the dialog routes next in the same turn (what was asked for before consent,
    or a question asked again after an answer it could not take)."""
    erased: bool = False
    """The person erased their data in this turn: no dialog state is written back."""

    async def reload_accounts(self) -> None:
        """Read the linked accounts again: the flow linked or unlinked one."""
        self.accounts = tuple(await self.uow.links.accounts_of(self.person.id))

    @property
    def now(self) -> datetime:
        """The current moment from the configured clock."""
        return self.clock.now()

    @property
    def step(self) -> str:
        """The flow step the conversation is in ("" when idle)."""
        return self.state.state

    @property
    def data(self) -> dict:
        """The state's data, mutable; saved with the state."""
        return self.state.data

    def goto(self, step: str, **data: object) -> None:
        """Enter a flow step with fresh flow data (kept keys survive)."""
        kept = {key: self.state.data[key] for key in KEPT_KEYS if key in self.state.data}
        self.state = DialogState(self.state.channel, self.state.user_id, step, {**kept, **data})

    def reset(self) -> None:
        """Leave any flow."""
        self.goto("")

    def expect_button(self, again: str) -> None:
        """The question being asked is answered with its buttons; `again` asks it anew.

        Text typed instead then gets the reason and the same question again, rather than
        "not understood" and the menu (the "ask" step in bot.handlers.start).
        """
        self.goto("ask", again=again)

    def say(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        **extra: Any,
    ) -> Reply:
        """Queue a reply to the person and return it (for attachments or tweaks)."""
        reply = Reply(text=text, buttons=buttons or [], **extra)
        self.replies.append(reply)
        return reply

    def minutes(self, span: timedelta) -> int:
        """A wait rounded up to whole minutes, at least one."""
        return max(1, -(-int(span.total_seconds()) // 60))
