"""The EasyPay adapter against the fake EasyPay server, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from decimal import Decimal

import aiohttp
import pytest
from pydantic import SecretStr

from core.model import Channel, PaymentOrder
from core.payments import AmountBelowDue, PaymentProviderError, create_order
from payments.easypay import (
    EasyPayProvider,
    MalformedNotification,
    dumps,
    parse_notification,
    sign,
    signature_valid,
)
from payments.fake_easypay import FakeEasyPay
from tests.fakes import FakeUnitOfWorkFactory
from tests.payments.conftest import KYIV, NOW, USER


def test_sign_is_base64_of_sha256_of_secret_then_body() -> None:
    body = b'{"order":{"amount":1}}'
    expected = base64.b64encode(hashlib.sha256(b"test" + body).digest()).decode()
    assert sign("test", body) == expected
    assert signature_valid("test", body, expected)
    assert signature_valid("test", body, f" {expected}\n")  # header whitespace is no forgery
    assert not signature_valid("test", body + b" ", expected)
    assert not signature_valid("other", body, expected)
    assert not signature_valid("test", body, None)
    assert not signature_valid("test", body, "Підпис")


def test_amounts_are_json_numbers_never_floats() -> None:
    body = dumps({"amount": Decimal("561.60"), "description": "Оплата, о/р 1", "n": [Decimal("1")]})
    assert body == '{"amount":561.60,"description":"Оплата, о/р 1","n":[1]}'.encode()
    assert json.loads(body, parse_float=Decimal)["amount"] == Decimal("561.60")


def test_notification_fields_and_kyiv_time() -> None:
    body = (
        b'{"OperationType":"Payment","TransactionStatus":"Accepted","MerchantOrderId":"kb1",'
        b'"DateTime":"2026-11-29T10:05:00","Amount":700.5,"TransactionId":1859083939,'
        b'"ServiceKey":"MERCHANT-TEST","AdditionalItems":{"Card.Pan":"5167****8169"}}'
    )
    notification = parse_notification(body, KYIV)
    assert notification.amount == Decimal("700.50") and notification.transaction_id == "1859083939"
    assert notification.at is not None and notification.at.utcoffset().total_seconds() == 7200
    notice = notification.to_notice(NOW)
    assert notice.accepted and notice.provider == "easypay" and notice.order_id == "kb1"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"TransactionId":1,"Amount":1}',
        b'{"MerchantOrderId":"kb1","Amount":1}',
        b'{"MerchantOrderId":"kb1","TransactionId":1}',
        b'{"MerchantOrderId":"kb1","TransactionId":1,"Amount":"lots"}',
        b'{"MerchantOrderId":"kb1","TransactionId":1,"Amount":-1}',
        b'{"MerchantOrderId":"kb1","TransactionId":1,"Amount":1,"DateTime":"yesterday"}',
    ],
)
def test_unreadable_notifications(body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        parse_notification(body, KYIV)


async def test_order_gets_the_fakes_payment_page(
    provider: EasyPayProvider, fake: FakeEasyPay, order: PaymentOrder
) -> None:
    assert order.payment_url == f"{fake.base_url}/pay/{order.order_id}"
    stored = fake.orders[order.order_id]
    assert stored.amount == Decimal("700.50")
    assert stored.description == "Оплата за електроенергію, о/р 2010000232"
    assert stored.notify_url == provider.notify_url


async def test_wrong_secret_is_refused_by_the_provider(
    fake: FakeEasyPay, factory: FakeUnitOfWorkFactory
) -> None:
    adapter = EasyPayProvider(
        api_base=fake.base_url,
        partner_key=fake.partner_key,
        service_key=fake.service_key,
        secret_key=SecretStr("not-the-secret"),
        notify_url="http://127.0.0.1:9/payments/easypay",
    )
    try:
        with pytest.raises(PaymentProviderError):
            await adapter.payment_url(_order(), "x")
    finally:
        await adapter.close()
    assert not fake.orders


async def test_provider_outage_and_unreachable_are_provider_errors(
    provider: EasyPayProvider, fake: FakeEasyPay
) -> None:
    fake.refuse_orders = True
    with pytest.raises(PaymentProviderError):
        await provider.payment_url(_order(), "x")
    unreachable = EasyPayProvider(
        api_base="http://127.0.0.1:9",
        partner_key="p",
        service_key="s",
        secret_key=SecretStr("k"),
        notify_url="http://127.0.0.1:9/n",
        timeout_seconds=2,
    )
    try:
        with pytest.raises(PaymentProviderError):
            await unreachable.payment_url(_order(), "x")
    finally:
        await unreachable.close()


async def test_less_than_due_never_reaches_the_provider(
    provider: EasyPayProvider, fake: FakeEasyPay, factory: FakeUnitOfWorkFactory
) -> None:
    account = next(iter(factory.data.accounts.values()))
    with pytest.raises(AmountBelowDue):
        await create_order(
            factory(),
            provider,
            account,
            Decimal("647.99"),
            Decimal("648.00"),
            1,
            Channel.CONSOLE,
            USER,
            "x",
            NOW,
        )
    assert not fake.orders and not factory.data.orders


async def test_fake_checks_sign_and_page_ids(fake: FakeEasyPay) -> None:
    body = b'{"order":{"serviceKey":"MERCHANT-TEST","orderId":"kb1","amount":1,"additionalItems":{"Merchant.UrlNotify":"http://127.0.0.1:9/"}}}'
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.base_url}/api/system/createApp", headers={"PartnerKey": fake.partner_key}
        ) as response:
            app = await response.json()
        headers = {"PartnerKey": fake.partner_key, "AppId": app["appId"], "PageId": app["pageId"]}
        async with session.post(
            f"{fake.base_url}/api/merchant/createOrder",
            data=body,
            headers={**headers, "Sign": fake.sign(body + b" ")},
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["errorCode"] == "SIGN_INVALID"
        async with session.post(
            f"{fake.base_url}/api/merchant/createOrder",
            data=body,
            headers={**headers, "Sign": fake.sign(body)},
        ) as response:
            assert response.status == 200
        async with session.post(  # a page id serves one order
            f"{fake.base_url}/api/merchant/createOrder",
            data=body,
            headers={**headers, "Sign": fake.sign(body)},
        ) as response:
            assert (await response.json())["error"]["errorCode"] == "PAGE_ID_INVALID"


async def test_secret_never_in_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-only-here"
    fake = FakeEasyPay(secret_key=secret)
    await fake.start()
    adapter = EasyPayProvider(
        api_base=fake.base_url,
        partner_key=fake.partner_key,
        service_key=fake.service_key,
        secret_key=SecretStr(secret),
        notify_url="http://127.0.0.1:9/payments/easypay",
    )
    caplog.set_level(logging.DEBUG)
    try:
        fake.refuse_orders = True
        with pytest.raises(PaymentProviderError):
            await adapter.payment_url(_order(), "x")
        fake.refuse_orders = False
        await adapter.payment_url(_order("kb2"), "x")
        assert secret not in repr(vars(adapter))
        assert all(secret not in record.getMessage() for record in caplog.records)
    finally:
        await adapter.close()
        await fake.close()


def _order(order_id: str = "kb1") -> PaymentOrder:
    return PaymentOrder(
        order_id, 1, Decimal("10.00"), NOW, 1, Channel.CONSOLE, USER, provider="easypay"
    )
