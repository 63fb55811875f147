"""`POST /payments/easypay` through aiohttp's test client, on fakes: forged, replayed,
declined, unknown and mismatched notifications change nothing; a valid one settles once
and the person gets thanks with the receipt."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import replace
from decimal import Decimal

from aiohttp.test_utils import TestClient

from core.model import OrderStatus, PaymentOrder
from observability.metrics import Metrics
from payments.easypay import DECLINED, NOTIFY_PATH, EasyPayProvider, sign
from payments.fake_easypay import FakeEasyPay, FakeOrder
from tests.fakes import FakeUnitOfWorkFactory
from tests.payments.conftest import USER, RecordingPusher, another_order, conflicts, pdf_text


async def post(client: TestClient, body: bytes, signature: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Sign"] = signature
    response = await client.post(NOTIFY_PATH, data=body, headers=headers)
    return response.status, (await response.json())["status"]


def snapshot(factory: FakeUnitOfWorkFactory) -> tuple[list, dict]:
    return copy.deepcopy(factory.data.payments), copy.deepcopy(factory.data.orders)


def stored(factory: FakeUnitOfWorkFactory, order: PaymentOrder) -> list:
    """Payments of the order's account other than the builder's history ("tx-…")."""
    return [
        p
        for p in factory.data.payments
        if p.account_id == order.account_id and not p.provider_txn_id.startswith("tx-")
    ]


async def test_valid_notification_settles_once_and_tells_the_person(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    body = fake.notification_body(order.order_id)
    txn = str(fake.orders[order.order_id].transaction_id)
    assert await post(client, body, fake.sign(body)) == (200, "accepted")
    [payment] = stored(factory, order)
    assert payment.amount == Decimal("700.50") and payment.provider_txn_id == txn
    assert factory.data.orders[order.order_id].status == OrderStatus.PAID
    [(user_id, [reply])] = pusher.sent
    assert user_id == USER
    assert "Дякуємо! Оплату 700,50 грн за рахунком 2010000232" in reply.text
    assert "отримано 29.11.2026 о 10:00." in reply.text
    assert reply.document is not None and reply.document.mime_type == "application/pdf"
    text = pdf_text(reply.document.content)
    assert "2010000232" in text and "700,50" in text and txn in text

    # The same notification again (EasyPay retries; an attacker replays): answered OK,
    # stored once, nobody told twice.
    assert await post(client, body, fake.sign(body)) == (200, "duplicate")
    assert len(stored(factory, order)) == 1 and len(pusher.sent) == 1


async def test_a_transaction_id_that_paid_another_order_is_a_conflict(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    provider: EasyPayProvider,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
    metrics: Metrics,
) -> None:
    first = fake.notification_body(order.order_id, transaction_id=1001)
    assert await post(client, first, fake.sign(first)) == (200, "accepted")
    second_order = await another_order(factory, provider)
    before = snapshot(factory)
    # A provider (or a fake restarted with the same counter) reuses transaction 1001 for
    # the second order: not a duplicate to shrug off, a conflict to reconcile.
    second = fake.notification_body(second_order.order_id, transaction_id=1001)
    assert await post(client, second, fake.sign(second)) == (200, "conflict")
    assert snapshot(factory) == before  # nothing stored, the order stays open
    assert factory.data.orders[second_order.order_id].status == OrderStatus.NEW
    assert conflicts(metrics, "transaction_reused") == 1
    # The person hears that the money is not lost.
    thanks, held = pusher.sent
    assert "Дякуємо!" in thanks[1][0].text
    assert held[0] == USER
    assert "29.11.2026 о 10:00 платіжна система повідомила про оплату 700,50 грн" in held[1][0].text
    assert "платити ще раз не потрібно" in held[1][0].text


async def test_an_order_paid_again_by_another_transaction_is_a_conflict(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    metrics: Metrics,
) -> None:
    paid = fake.notification_body(order.order_id, transaction_id=2001)
    assert await post(client, paid, fake.sign(paid)) == (200, "accepted")
    assert await post(client, paid, fake.sign(paid)) == (200, "duplicate")
    assert conflicts(metrics, "order_paid_by_other") == 0
    before = snapshot(factory)
    again = fake.notification_body(order.order_id, transaction_id=2002)
    assert await post(client, again, fake.sign(again)) == (200, "conflict")
    assert snapshot(factory) == before
    assert conflicts(metrics, "order_paid_by_other") == 1


def test_fakes_never_repeat_transaction_ids() -> None:
    # Every process (a restarted demo) starts its own fake; their ids must not meet.
    first, second = FakeEasyPay(), FakeEasyPay()
    ids = set()
    for fake in (first, second):
        for n in range(50):
            fake.orders[f"kb{n}"] = FakeOrder(f"kb{n}", Decimal(1), "", "http://127.0.0.1:9/")
            fake.notification_body(f"kb{n}")
            ids.add(fake.orders[f"kb{n}"].transaction_id)
    assert len(ids) == 100


async def test_concurrent_duplicates_are_stored_once(
    client: TestClient, fake: FakeEasyPay, order: PaymentOrder, factory: FakeUnitOfWorkFactory
) -> None:
    body = fake.notification_body(order.order_id)
    answers = await asyncio.gather(*(post(client, body, fake.sign(body)) for _ in range(5)))
    assert sorted(answers) == [(200, "accepted")] + [(200, "duplicate")] * 4
    assert len(stored(factory, order)) == 1


async def test_forged_notifications_change_nothing(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    before = snapshot(factory)
    body = fake.notification_body(order.order_id)
    tampered = body.replace(b'"Amount":700.50', b'"Amount":7.50')
    assert tampered != body
    for forged_body, signature in [
        (body, None),  # no Sign header
        (body, ""),
        (body, sign("guessed-secret", body)),
        (tampered, fake.sign(body)),  # a real signature of another body
        (b"not json at all", "AAAA"),
    ]:
        assert await post(client, forged_body, signature) == (403, "forbidden")
    assert snapshot(factory) == before and not pusher.sent


async def test_declined_changes_nothing_and_a_later_acceptance_still_settles(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    before = snapshot(factory)
    declined = fake.notification_body(order.order_id, DECLINED, transaction_id=1)
    assert await post(client, declined, fake.sign(declined)) == (200, "declined")
    assert snapshot(factory) == before and not pusher.sent
    # EasyPay's page lets the consumer try another card for the same order.
    accepted = fake.notification_body(order.order_id, transaction_id=2)
    assert await post(client, accepted, fake.sign(accepted)) == (200, "accepted")
    assert [p.provider_txn_id for p in stored(factory, order)] == ["2"]


async def test_unknown_order_changes_nothing(
    client: TestClient, fake: FakeEasyPay, order: PaymentOrder, factory: FakeUnitOfWorkFactory
) -> None:
    before = snapshot(factory)
    body = fake.notification_body(order.order_id).replace(
        order.order_id.encode(), b"kb00000000000000000000"
    )
    assert await post(client, body, fake.sign(body)) == (200, "unknown_order")
    assert snapshot(factory) == before


async def test_amount_mismatch_changes_nothing(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    before = snapshot(factory)
    for amount in (Decimal("1.00"), Decimal("700.49"), Decimal("700.51")):
        body = fake.notification_body(order.order_id, amount=amount)
        assert await post(client, body, fake.sign(body)) == (200, "amount_mismatch")
    assert snapshot(factory) == before and not pusher.sent


async def test_refunds_and_other_services_are_ignored(
    client: TestClient, fake: FakeEasyPay, order: PaymentOrder, factory: FakeUnitOfWorkFactory
) -> None:
    before = snapshot(factory)
    payload = json.loads(fake.notification_body(order.order_id))
    for change in (
        {"OperationType": "Refund"},
        {"ServiceKey": "OTHER"},
        {"TransactionStatus": "Pending"},
    ):
        body = json.dumps({**payload, **change}).encode()
        assert await post(client, body, fake.sign(body)) == (200, "ignored")
    assert snapshot(factory) == before


async def test_signed_but_unreadable_is_a_bad_request(
    client: TestClient, fake: FakeEasyPay, order: PaymentOrder, factory: FakeUnitOfWorkFactory
) -> None:
    before = snapshot(factory)
    for body in (b"{", b'{"MerchantOrderId": 5}', b'{"MerchantOrderId":"kb1","TransactionId":1}'):
        assert await post(client, body, fake.sign(body)) == (400, "malformed")
    assert snapshot(factory) == before


async def test_too_large_body_is_refused_unread(client: TestClient, fake: FakeEasyPay) -> None:
    body = b"{" + b" " * 70_000 + b"}"
    response = await client.post(NOTIFY_PATH, data=body, headers={"Sign": fake.sign(body)})
    assert response.status == 413


async def test_a_person_who_left_is_not_told_but_the_payment_is_kept(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    factory.data.identities.clear()  # they erased their data after paying
    body = fake.notification_body(order.order_id)
    assert await post(client, body, fake.sign(body)) == (200, "accepted")
    assert len(stored(factory, order)) == 1 and not pusher.sent


async def test_a_failing_channel_does_not_undo_the_payment(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    async def broken(user_id: str, replies: list) -> None:
        raise RuntimeError("channel down")

    pusher.send = broken  # type: ignore[method-assign]
    body = fake.notification_body(order.order_id)
    assert await post(client, body, fake.sign(body)) == (200, "accepted")
    assert len(stored(factory, order)) == 1


async def test_english_speaker_is_thanked_in_english(
    client: TestClient,
    fake: FakeEasyPay,
    order: PaymentOrder,
    factory: FakeUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    person = factory.data.persons[order.person_id]
    factory.data.persons[person.id] = replace(person, locale="en")
    body = fake.notification_body(order.order_id)
    await post(client, body, fake.sign(body))
    [(_, [reply])] = pusher.sent
    assert reply.text.startswith("Thank you! Your payment of UAH 700.50")


async def test_a_body_sent_in_many_chunks_is_read_whole(
    client: TestClient, fake: FakeEasyPay, order: PaymentOrder, factory: FakeUnitOfWorkFactory
) -> None:
    body = fake.notification_body(order.order_id)

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 16):
            yield body[start : start + 16]

    response = await client.post(NOTIFY_PATH, data=chunks(), headers={"Sign": fake.sign(body)})
    assert response.status == 200 and (await response.json())["status"] == "accepted"
    assert len(stored(factory, order)) == 1
