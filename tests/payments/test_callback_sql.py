"""The notification route on SQLite and PostgreSQL: concurrent and replayed deliveries of
one valid notification store one payment; forged, declined, unknown and mismatched ones
change no row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import Catalogues
from core.clock import FrozenClock
from core.model import Channel, OrderStatus, Payment, PaymentOrder
from core.payments import create_order
from documents.rendering import ThreadedDocumentRenderer
from payments.callback import ChannelNotifier, EasyPayCallbacks, register
from payments.easypay import NOTIFY_PATH, EasyPayProvider, sign
from payments.fake_easypay import FakeEasyPay
from storage.demo import seed_demo
from storage.orm import Base
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.payments.conftest import KYIV, NOW, RecordingPusher


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table: 'nothing changed' means every count and order status is the same."""
    async with engine.connect() as connection:
        result = {}
        for table in Base.metadata.sorted_tables:
            result[table.name] = await connection.scalar(select(func.count()).select_from(table))
        return result


@pytest.fixture
async def sql_order(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory, provider: EasyPayProvider
) -> PaymentOrder:
    await seed_demo(engine, NOW)
    async with uow_factory() as uow:
        account = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert account is not None
        identity = await uow.persons.create_person_with_identity(
            Channel.CONSOLE, "sql-payer", "Іван", "uk", NOW
        )
        order = await create_order(
            uow,
            provider,
            account,
            Decimal("321.00"),
            Decimal("0.00"),
            identity.person_id,
            Channel.CONSOLE,
            "sql-payer",
            "x",
            NOW,
        )
        await uow.commit()
    return order


@pytest.fixture
async def sql_client(
    provider: EasyPayProvider,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    catalogues: Catalogues,
    renderer: ThreadedDocumentRenderer,
    pusher: RecordingPusher,
) -> AsyncIterator[TestClient]:
    pusher.channel = Channel.CONSOLE
    web_app = web.Application()
    register(
        web_app,
        EasyPayCallbacks(
            provider,
            uow_factory,
            catalogues,
            FrozenClock(NOW),
            KYIV,
            renderer,
            ChannelNotifier([pusher]),
        ),
    )
    async with TestClient(TestServer(web_app)) as client:
        yield client


async def test_bad_change_no_row_then_one_payment_however_often_delivered(
    sql_client: TestClient,
    sql_order: PaymentOrder,
    fake: FakeEasyPay,
    engine: AsyncEngine,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    # One test per database: seeding the demo data is the slow part.
    before = await counts(engine)
    good = fake.notification_body(sql_order.order_id)
    mismatch = fake.notification_body(sql_order.order_id, amount=Decimal("1.00"))
    declined = fake.notification_body(sql_order.order_id, "Declined")
    unknown = good.replace(sql_order.order_id.encode(), b"kbffffffffffffffffffff")
    for body, signature, expected in [
        (good, sign("guess", good), (403, "forbidden")),
        (good.replace(b"321.00", b"3210.00"), fake.sign(good), (403, "forbidden")),
        (mismatch, fake.sign(mismatch), (200, "amount_mismatch")),
        (declined, fake.sign(declined), (200, "declined")),
        (unknown, fake.sign(unknown), (200, "unknown_order")),
    ]:
        response = await sql_client.post(NOTIFY_PATH, data=body, headers={"Sign": signature})
        assert (response.status, (await response.json())["status"]) == expected
    assert await counts(engine) == before
    async with uow_factory() as uow:
        order = await uow.payment_orders.get(sql_order.order_id)
        assert order is not None and order.status == OrderStatus.NEW
    assert not pusher.sent

    body = fake.notification_body(sql_order.order_id)
    txn = str(fake.orders[sql_order.order_id].transaction_id)
    headers = {"Sign": fake.sign(body)}
    responses = await asyncio.gather(
        *(sql_client.post(NOTIFY_PATH, data=body, headers=headers) for _ in range(4))
    )
    statuses = sorted([(r.status, (await r.json())["status"]) for r in responses])
    # One settles; the others wait for its lock and find the order paid. (SQLite may
    # instead say "busy" with a 500, which EasyPay retries: never a second payment.)
    assert all(s in ((200, "accepted"), (200, "duplicate"), (500, "error")) for s in statuses)
    assert sum(1 for s in statuses if s == (200, "accepted")) == 1
    replay = await sql_client.post(NOTIFY_PATH, data=body, headers=headers)
    assert (replay.status, (await replay.json())["status"]) == (200, "duplicate")
    after = await counts(engine)
    assert after["payments"] == before["payments"] + 1
    assert {k: v for k, v in after.items() if k != "payments"} == {
        k: v for k, v in before.items() if k != "payments"
    }
    async with uow_factory() as uow:
        order = await uow.payment_orders.get(sql_order.order_id)
        assert order is not None and order.status == OrderStatus.PAID
        assert order.provider_txn_id == txn
        paid = [p for p in await uow.billing.payments(order.account_id) if p.provider_txn_id == txn]
        assert [p.amount for p in paid] == [Decimal("321.00")]
    assert len(pusher.sent) == 1 and "321,00" in pusher.sent[0][1][0].text


async def test_a_reused_transaction_id_is_a_conflict_and_changes_no_row(
    sql_client: TestClient,
    sql_order: PaymentOrder,
    fake: FakeEasyPay,
    engine: AsyncEngine,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    provider: EasyPayProvider,
    pusher: RecordingPusher,
) -> None:
    first = fake.notification_body(sql_order.order_id, transaction_id=424242)
    response = await sql_client.post(NOTIFY_PATH, data=first, headers={"Sign": fake.sign(first)})
    assert (await response.json())["status"] == "accepted"
    async with uow_factory() as uow:
        account = await uow.accounts.get(sql_order.account_id)
        assert account is not None
        second = await create_order(
            uow,
            provider,
            account,
            Decimal("321.00"),
            Decimal("0.00"),
            sql_order.person_id,
            Channel.CONSOLE,
            "sql-payer",
            "x",
            NOW,
        )
        await uow.commit()
    before = await counts(engine)
    body = fake.notification_body(second.order_id, transaction_id=424242)
    response = await sql_client.post(NOTIFY_PATH, data=body, headers={"Sign": fake.sign(body)})
    assert (response.status, (await response.json())["status"]) == (200, "conflict")
    assert await counts(engine) == before
    async with uow_factory() as uow:
        still = await uow.payment_orders.get(second.order_id)
        assert still is not None and still.status == OrderStatus.NEW
    assert "Дякуємо!" in pusher.sent[0][1][0].text
    assert "зарахувати її автоматично не вдалося" in pusher.sent[1][1][0].text


async def test_a_payment_billing_imported_first_settles_the_order(
    sql_client: TestClient,
    sql_order: PaymentOrder,
    fake: FakeEasyPay,
    engine: AsyncEngine,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    pusher: RecordingPusher,
) -> None:
    """Issue 18: the billing import brought the EasyPay payment before EasyPay's notice;
    the notice settles the order from it and the person gets the thanks and the receipt."""
    async with uow_factory() as uow:
        imported = Payment(
            0, sql_order.account_id, sql_order.amount, NOW, sql_order.provider, "555001"
        )
        assert await uow.billing.add_payment(imported)
        await uow.commit()
    before = await counts(engine)
    body = fake.notification_body(sql_order.order_id, transaction_id=555001)
    response = await sql_client.post(NOTIFY_PATH, data=body, headers={"Sign": fake.sign(body)})
    assert (response.status, (await response.json())["status"]) == (200, "accepted")
    assert await counts(engine) == before  # no second payment
    async with uow_factory() as uow:
        order = await uow.payment_orders.get(sql_order.order_id)
        assert order is not None and order.status == OrderStatus.PAID
        assert order.provider_txn_id == "555001"
    [(_, replies)] = pusher.sent
    assert "Дякуємо!" in replies[0].text
    assert any(reply.document is not None for reply in replies)
