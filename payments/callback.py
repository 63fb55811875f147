"""`POST /payments/easypay`: EasyPay's notification settles an order once, then we tell the
consumer in the messenger where they asked to pay.

Order of work, each step guarding the next:
1. The raw body's `Sign` is checked in constant time before anything reads the body: a
   forged or altered notification gets 403 and changes nothing.
2. The body is read; unreadable → 400 (EasyPay cannot fix it by retrying, but it is logged).
3. Only payments for our service that EasyPay accepted are settled; a notice must name an
   order we created, for the amount we ordered. Everything else is answered 200 (it is
   authentic, retrying cannot change it) and leaves the database as it was.
4. `core.payments.settle` records the payment in one unit of work; a replayed
   notification finds the order paid and is answered 200 without a second payment. A
   notification that contradicts a recorded payment (its transaction id already paid
   another order, or the order was paid by another transaction) is a conflict: nothing is
   recorded, it is logged as an error and counted (`kabinet_payment_conflicts_total`), and
   the person hears that the payment is being checked.
5. After the commit, the person gets thanks and the receipt PDF through the notifier; a
   delivery problem is logged and never turns a recorded payment into an error answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from bot.channels.base import DeliveryResult, DeliveryStatus, Push
from bot.handlers.receipts import held_replies, paid_replies
from bot.i18n import Catalogues
from bot.messages import Reply
from core.balances import BillingRules
from core.clock import Clock
from core.documents import DocumentRenderer
from core.model import Channel, PaymentNotice, PaymentOrder
from core.notifications import notify_payment, notify_payment_held
from core.payments import PaymentConflict, settle
from core.ports import AbstractUnitOfWorkFactory, StoreUnavailable
from core.privacy import mask
from payments.easypay import (
    ACCEPTED,
    DECLINED,
    MAX_NOTIFICATION_BYTES,
    NOTIFY_PATH,
    EasyPayProvider,
    MalformedNotification,
    parse_notification,
)

if TYPE_CHECKING:
    from observability.metrics import Metrics

log = logging.getLogger(__name__)

Notify = Callable[[Channel, str, list[Reply]], Awaitable[bool]]
"""Tell (channel, user id) something outside a conversation turn; True when delivered."""


class Pusher(Protocol):
    """What the notifier needs of a channel: its name and `send` (ChannelAdapter has both)."""

    channel: Channel

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Send a push to a user outside a conversation turn."""
        ...


class ChannelNotifier:
    """Sends pushes through the channel adapters that are on (channel → adapter.send)."""

    def __init__(self, pushers: Iterable[Pusher], timeout_seconds: float = 20.0) -> None:
        self._pushers = {pusher.channel: pusher for pusher in pushers}
        self._timeout = timeout_seconds

    def add(self, pusher: Pusher) -> None:
        """Use another channel (the console joins when a chat opens)."""
        self._pushers[pusher.channel] = pusher

    async def __call__(self, channel: Channel, user_id: str, replies: list[Reply]) -> bool:
        """Deliver replies to a user of a channel; False when it is off or delivery failed."""
        pusher = self._pushers.get(channel)
        if pusher is None:
            log.warning("push: channel %s is off; %s not told", channel.value, mask(user_id))
            return False
        try:
            async with asyncio.timeout(self._timeout):
                # No topic, as before the envelope: a tagged channel (Messenger) sends it
                # inside its window only.
                result = await pusher.send(user_id, Push(replies))
        except TimeoutError:
            log.warning("push: %s to %s timed out", channel.value, mask(user_id))
            return False
        if result.status != DeliveryStatus.SENT:
            log.warning(
                "push: %s to %s: %s %s",
                channel.value,
                mask(user_id),
                result.status.value,
                result.detail,
            )
            return False
        return True


@dataclass(frozen=True)
class Outcome:
    """How a notification was answered: the HTTP status and a word for logs and tests."""

    status: int
    result: str


@dataclass
class EasyPayCallbacks:
    """Handles EasyPay's notifications; built by the composition root."""

    provider: EasyPayProvider
    uow_factory: AbstractUnitOfWorkFactory
    catalogues: Catalogues
    clock: Clock
    zone: tzinfo
    renderer: DocumentRenderer | None = None
    notify: Notify | None = None
    billing: BillingRules | None = None
    # With delivery workers running (`kabinet serve`), the confirmation is queued in the
    # outbox in the payment's own transaction instead of sent here; `queued` wakes them.
    queued: Callable[[], None] | None = None
    metrics: Metrics | None = None

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler of `POST /payments/easypay`."""
        if request.content_length is not None and request.content_length > MAX_NOTIFICATION_BYTES:
            return web.json_response({"status": "too_large"}, status=413)
        # Read in chunks with a cap: a chunked body has no Content-Length to check first.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > MAX_NOTIFICATION_BYTES:
                return web.json_response({"status": "too_large"}, status=413)
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            outcome = await self.process(body, request.headers.get("Sign"))
        except StoreUnavailable:  # nothing was kept; EasyPay retries on a 5xx
            log.warning("easypay: notification not processed: the database is unreachable")
            outcome = Outcome(503, "unavailable")
        except Exception:  # a bug: EasyPay retries on a 5xx, the traceback is for us
            log.exception("easypay: notification not processed")
            outcome = Outcome(500, "error")
        return web.json_response({"status": outcome.result}, status=outcome.status)

    async def process(self, body: bytes, signature: str | None) -> Outcome:
        """Verify, settle once, tell the consumer; what to answer EasyPay."""
        # Nothing reads the body before its signature is known to be EasyPay's.
        if not self.provider.verify(body, signature):
            log.warning("easypay: notification with a bad signature refused")
            return Outcome(403, "forbidden")
        try:
            notification = parse_notification(body, self.zone)
        except MalformedNotification as error:
            log.error("easypay: signed notification unreadable: %s", error)
            return Outcome(400, "malformed")
        order_id = notification.order_id
        if not notification.is_payment:
            log.info("easypay: %s for %s ignored", notification.operation or "?", order_id)
            return Outcome(200, "ignored")
        if notification.service_key not in (None, self.provider.service_key):
            log.warning("easypay: notification for another service key ignored (%s)", order_id)
            return Outcome(200, "ignored")
        if notification.status == DECLINED:
            # The order stays open: EasyPay's page lets the consumer try another card, and
            # the accepted attempt that may follow must still settle it.
            log.info("easypay: order %s declined (%s)", order_id, notification.error_code or "-")
            return Outcome(200, "declined")
        if notification.status != ACCEPTED:
            log.info("easypay: order %s status %r ignored", order_id, notification.status)
            return Outcome(200, "ignored")
        notice = notification.to_notice(self.clock.now())
        settled = await self._settle(notice)
        if isinstance(settled, Outcome):
            return settled
        if isinstance(settled, PaymentConflict):
            await self._conflict(settled, notice.paid_at)
            return Outcome(200, "conflict")
        log.info(
            "easypay: order %s paid %s, transaction %s",
            order_id,
            settled.amount,
            notice.provider_txn_id,
        )
        if self.queued is not None:
            self.queued()
        else:
            await self._tell(settled)
        return Outcome(200, "accepted")

    async def _settle(self, notice: PaymentNotice) -> PaymentOrder | PaymentConflict | Outcome:
        """Settle in one transaction: the paid order, a conflict (nothing stored), or the
        answer for a notice that changes nothing."""
        order_id = notice.order_id
        async with self.uow_factory() as uow:
            order = await uow.payment_orders.get(order_id)
            if order is None:
                log.warning("easypay: notification for unknown order %s ignored", order_id)
                return Outcome(200, "unknown_order")
            if order.amount != notice.amount:
                # EasyPay is asked for exactly the order's amount; a notice for another sum
                # is not a confirmation of this order. An operator reconciles it by hand.
                log.error(
                    "easypay: order %s paid %s but ordered %s: not recorded, reconcile",
                    order_id,
                    notice.amount,
                    order.amount,
                )
                return Outcome(200, "amount_mismatch")
            try:
                paid = await settle(uow, notice)
            except PaymentConflict as conflict:
                return conflict  # leaving the block rolls back: nothing is stored
            if paid is None:
                log.info("easypay: order %s already settled; duplicate ignored", order_id)
                return Outcome(200, "duplicate")
            if self.queued is not None:
                await notify_payment(uow, paid, self.clock.now())
            await uow.commit()
        return paid

    async def _conflict(self, conflict: PaymentConflict, paid_at: datetime) -> None:
        """Log and count a conflict, and tell the person their payment is being checked.

        EasyPay is answered 200: the notification is authentic and retrying cannot change
        it; the money is reconciled by hand from the log.
        """
        order = conflict.order
        log.error(
            "easypay: order %s (account id %s, %s) NOT settled: %s, transaction %s; reconcile",
            order.order_id,
            order.account_id,
            order.amount,
            conflict.reason,
            conflict.provider_txn_id,
        )
        if self.metrics is not None:
            self.metrics.payment_conflicts.labels(order.provider, conflict.reason).inc()
        try:
            if self.queued is not None:
                async with self.uow_factory() as uow:
                    await notify_payment_held(uow, order, paid_at, self.clock.now())
                    await uow.commit()
                self.queued()
            elif self.notify is not None:
                await self._tell_held(order, paid_at)
        except Exception:  # the conflict is logged; telling about it must not hide that
            log.exception("easypay: telling about held order %s failed", order.order_id)

    async def _tell_held(self, order: PaymentOrder, paid_at: datetime) -> None:
        assert self.notify is not None
        async with self.uow_factory() as uow:
            identity = await uow.persons.identity(order.channel, order.user_id)
            if identity is None or not identity.reachable:
                return
            person = await uow.persons.get(identity.person_id)
            t = self.catalogues.translator((person.locale if person else None) or "")
            replies = await held_replies(uow, t, self.zone, order, paid_at)
        if replies:
            await self.notify(order.channel, order.user_id, replies)

    async def _tell(self, order: PaymentOrder) -> None:
        """Thanks and the receipt to the person, where they asked to pay; never raises."""
        if self.notify is None:
            return
        try:
            async with self.uow_factory() as uow:
                identity = await uow.persons.identity(order.channel, order.user_id)
                if identity is None or not identity.reachable:
                    # They left (erased their data) or blocked the bot: nobody to tell.
                    log.info("easypay: order %s paid; its person is not reachable", order.order_id)
                    return
                person = await uow.persons.get(identity.person_id)
                t = self.catalogues.translator((person.locale if person else None) or "")
                replies = await paid_replies(uow, t, self.zone, self.renderer, order, self.billing)
            if replies:
                await self.notify(order.channel, order.user_id, replies)
        except Exception:  # the payment is recorded; telling about it must not undo that
            log.exception("easypay: telling the consumer about order %s failed", order.order_id)


def register(web_app: web.Application, callbacks: EasyPayCallbacks) -> None:
    """Add `POST /payments/easypay` to the HTTP application."""
    web_app.router.add_post(NOTIFY_PATH, callbacks.handle)
