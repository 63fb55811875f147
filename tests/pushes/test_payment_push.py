"""A payment confirmation goes through the outbox when delivery workers run: queued in the
payment's own transaction (once, however often EasyPay notifies), delivered with the
receipt PDF in the person's language, where they paid from."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.clock import FrozenClock
from core.model import Channel, PaymentOrder
from documents.rendering import ThreadedDocumentRenderer
from payments.callback import EasyPayCallbacks, register
from payments.easypay import NOTIFY_PATH, EasyPayProvider
from payments.fake_easypay import FakeEasyPay
from scheduler.delivery import DeliveryWorkers
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.payments.conftest import (  # noqa: F401 - fixtures
    KYIV,
    NOW,
    catalogues,
    fake,
    provider,
    renderer,
)
from tests.payments.test_callback_sql import sql_order  # noqa: F401 - a fixture
from tests.pushes.conftest import outbox_rows
from tests.pushes.recording import RecordingChannel


@pytest.fixture
async def queued_client(
    provider: EasyPayProvider,  # noqa: F811
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    catalogues: Catalogues,  # noqa: F811
    renderer: ThreadedDocumentRenderer,  # noqa: F811
) -> AsyncIterator[tuple[TestClient, list[int]]]:
    woken: list[int] = []
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
            notify=None,
            queued=lambda: woken.append(1),
        ),
    )
    async with TestClient(TestServer(web_app)) as client:
        yield client, woken


async def test_confirmation_through_the_outbox_once_with_receipt(
    queued_client: tuple[TestClient, list[int]],
    sql_order: PaymentOrder,  # noqa: F811
    fake: FakeEasyPay,  # noqa: F811
    engine: AsyncEngine,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    catalogues: Catalogues,  # noqa: F811
    renderer: ThreadedDocumentRenderer,  # noqa: F811
) -> None:
    client, woken = queued_client
    body = fake.notification_body(sql_order.order_id)
    for _ in range(2):
        response = await client.post(NOTIFY_PATH, data=body, headers={"Sign": fake.sign(body)})
        assert response.status == 200
    [row] = await outbox_rows(engine)
    assert row["payload"] == {"kind": "payment.paid", "order_id": sql_order.order_id}
    assert row["channel"] == "console" and woken == [1]
    console = RecordingChannel(Channel.CONSOLE)
    await DeliveryWorkers(
        OutboxQueue(engine, "pay-test"),
        {Channel.CONSOLE: console},
        PushRenderer(uow_factory, catalogues, KYIV, renderer),
        uow_factory,
    ).run_once(Channel.CONSOLE)
    [(user, replies, _)] = console.sent
    assert user == "sql-payer"
    assert "321,00 грн" in replies[0].text
    assert replies[0].document is not None
    assert replies[0].document.content.startswith(b"%PDF")
