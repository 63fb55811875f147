"""Enqueueing pushes: every push is an outbox row keyed by (event, person).

Services call these inside their own unit of work, so the push is stored with the change
it tells about (or not at all). Nothing here sends: delivery workers do, later.

A payload is channel- and language-neutral: `{"kind": ..., **params}`. It is rendered into
texts in the person's language at delivery time (see README "Notifications"): one payload
serves a set-based broadcast to 100,000 people, and a person who switches language before
delivery reads the push in the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.delivery import Topic
from core.model import Channel, FreeServiceOrder, PaymentOrder, RequestStatus, SupportRequest
from core.ports import AbstractUnitOfWork
from core.records import PushKind


async def notify_person(
    uow: AbstractUnitOfWork,
    person_id: int,
    topic: Topic | str,
    reply_payload: dict,
    dedup_key: str,
    now: datetime,
    prefer: Channel | None = None,
) -> bool:
    """Queue one push to one person; False when `dedup_key` was queued before or the
    person cannot or does not want to get it (opted out of the topic, no channel left).

    `dedup_key` names the event (e.g. "cc-answer:17"); the person is added to it, so the
    same event never reaches one person twice. `prefer` is tried first when it is allowed
    (a payment confirmation goes where they paid).
    """
    return await uow.outbox.enqueue_person(
        person_id,
        event=dedup_key,
        subject=dedup_key,
        topic=Topic(topic).value,
        payload=dict(reply_payload),
        now=now,
        prefer=prefer,
    )


async def notify_call_center_answer(
    uow: AbstractUnitOfWork, request_id: int, person_id: int, answer: str, now: datetime
) -> bool:
    """Queue the call centre's answer to request `request_id` (once per request)."""
    return await notify_person(
        uow,
        person_id,
        Topic.ANSWERS,
        {"kind": PushKind.CALL_CENTER_ANSWER, "request_id": request_id, "answer": answer},
        f"cc-answer:{request_id}",
        now,
    )


async def notify_free_service_answer(
    uow: AbstractUnitOfWork, order: FreeServiceOrder, answer: str, now: datetime
) -> bool:
    """Queue the operator's answer to a free-service order (once per order and status)."""
    return await notify_person(
        uow,
        order.person_id,
        Topic.ANSWERS,
        {
            "kind": PushKind.FREE_SERVICE_ANSWER,
            "order_id": order.id,
            "service_type": order.service_type,
            "status": RequestStatus(order.status).value,
            "answer": answer,
        },
        f"fs-answer:{order.id}:{RequestStatus(order.status).value}",
        now,
    )


async def notify_support_answer(
    uow: AbstractUnitOfWork, request: SupportRequest, answer: str, now: datetime
) -> bool:
    """Queue technical support's answer to request `request.id` (once per request)."""
    return await notify_person(
        uow,
        request.person_id,
        Topic.ANSWERS,
        {"kind": PushKind.SUPPORT_ANSWER, "request_id": request.id, "answer": answer},
        f"sup-answer:{request.id}",
        now,
    )


async def notify_payment(uow: AbstractUnitOfWork, order: PaymentOrder, now: datetime) -> bool:
    """Queue thanks and the receipt for a paid order, where the person paid from."""
    if order.person_id is None:  # they erased their data: the payment stays, nobody to tell
        return False
    return await notify_person(
        uow,
        order.person_id,
        Topic.PAYMENTS,
        {"kind": PushKind.PAYMENT_PAID, "order_id": order.order_id},
        f"paid:{order.order_id}",
        now,
        prefer=order.channel,
    )


async def notify_payment_held(
    uow: AbstractUnitOfWork, order: PaymentOrder, paid_at: datetime, now: datetime
) -> bool:
    """Queue "your payment is being checked" for an order whose payment notice conflicts
    with a recorded payment (once per order), where the person paid from."""
    if order.person_id is None:
        return False
    return await notify_person(
        uow,
        order.person_id,
        Topic.PAYMENTS,
        {
            "kind": PushKind.PAYMENT_HELD,
            "order_id": order.order_id,
            "paid_at": paid_at.isoformat(),
        },
        f"held:{order.order_id}",
        now,
        prefer=order.channel,
    )


async def notify_new_bills(
    uow: AbstractUnitOfWork,
    periods: Sequence[str],
    now: datetime,
    account_ids: Sequence[int] | None = None,
) -> int:
    """After bills are imported: a new-bill notice per (account, period) to each linked
    person who wants them; one set-based insert. Re-running it queues nothing new.

    `periods` are the YYYY-MM periods imported; `account_ids` narrows to the accounts the
    import touched (None: every account with a bill of those periods).
    """
    if not periods:
        return 0
    return await uow.outbox.enqueue_new_bills(periods, account_ids, now)


async def remind_readings(
    uow: AbstractUnitOfWork, window_opens: datetime, window_closes: datetime, now: datetime
) -> int:
    """The reading window opened: remind everyone with a linked account that has no
    reading yet since it opened. Once per window (period of the window's first day)."""
    period = window_opens.strftime("%Y-%m-%d")
    payload = {
        "kind": PushKind.READING_REMINDER,
        "opens": window_opens.isoformat(),
        "closes": window_closes.isoformat(),
    }
    event = f"reading:{period}"
    if await uow.outbox.event_queued(event, event):
        # The scheduler ticks all day; after the one set-based insert there is nothing new.
        return 0
    return await uow.outbox.enqueue_reading_reminders(period, window_opens, payload, now)
