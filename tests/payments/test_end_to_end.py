"""End to end on SQLite and PostgreSQL: the pay flow makes an order at the fake EasyPay,
the console opens the payment page, the fake's signed notification settles the order
through the real route, and the console prints the thanks with the receipt PDF."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.compose import build_app, payment_callbacks
from app.settings import load_settings
from bot.channels.console import ConsoleChannel
from core.model import OrderStatus
from payments.easypay import NOTIFY_PATH, sign
from payments.local import LocalEasyPay
from storage.demo import seed_demo
from tests.payments.conftest import NOW, pdf_text

ROOT = Path(__file__).resolve().parents[2]
LINK = (
    "/start",
    "Погоджуюсь",
    "Додати особовий рахунок",
    "2010000232",
    "62Z000000000232T",
    "Сплатити",
    "500",
)


async def test_pay_in_console_settles_once_and_prints_the_receipt(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await seed_demo(engine, NOW)
    settings = load_settings(database_url=database_url, kabinet_now=NOW, bills_dir=str(tmp_path))
    stdout = io.StringIO()
    async with LocalEasyPay() as local:
        app = await build_app(settings, payments=local.provider)
        try:
            console = ConsoleChannel(
                app.handle,
                "e2e-pay",
                stdin=io.StringIO("\n".join([*LINK, "#1", "Баланс"]) + "\n"),
                stdout=stdout,
                out_dir=tmp_path / "out",
            )
            await local.serve_callbacks(payment_callbacks(app, [console]))
            await console.run()
            turns = re.split(r"(?m)^> ", stdout.getvalue())
            link_turn, open_turn, balance_turn = turns[-4], turns[-3], turns[-2]
            assert "Сума 500,00 грн для рахунку 2010000232" in link_turn
            [order_id] = local.fake.orders
            assert f"[1] Сплатити 500,00 грн -> {local.fake.base_url}/pay/{order_id}" in link_turn
            assert "Дякуємо! Оплату 500,00 грн за рахунком 2010000232" in open_turn
            assert "отримано 29.11.2026 о 10:00." in open_turn
            assert "merchant answered 200" in open_turn
            [pdf] = (tmp_path / "out").glob("*kvytantsiia-2010000232-2026-11-29.pdf")
            assert "500,00" in pdf_text(pdf.read_bytes())
            assert "Переплата 500,00 грн" in balance_turn
            assert "Остання оплата: 500,00 грн від 29.11.2026" in balance_turn

            async def recorded() -> list:
                async with app.uow_factory() as uow:
                    order = await uow.payment_orders.get(order_id)
                    assert order is not None and order.status == OrderStatus.PAID
                    payments = await uow.billing.payments(order.account_id)
                    return [p for p in payments if p.provider_txn_id == order.provider_txn_id]

            [payment] = await recorded()
            assert payment.amount == Decimal("500.00") and payment.provider == "easypay"

            # Replayed and forged notifications reach the real route and change nothing.
            [sent] = local.fake.notifications
            assert await local.fake.post(sent.url, sent.body, sent.sign) == 200
            forged = sent.body.replace(b'"Amount":500.00', b'"Amount":5000.00')
            assert await local.fake.post(sent.url, forged, sign("guess", forged)) == 403
            assert len(await recorded()) == 1
            assert stdout.getvalue().count("Дякуємо!") == 1
        finally:
            await app.close()


async def test_callback_route_answers_in_the_served_app(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """`kabinet serve`'s web app has the route when EasyPay is configured."""
    from aiohttp.test_utils import TestClient, TestServer

    from app.server import build_web_app

    settings = load_settings(
        database_url=database_url,
        easypay_partner_key="p",
        easypay_service_key="s",
        easypay_secret_key="k",
        public_base_url="https://kabinet.example",
    )
    app = await build_app(settings)
    try:
        assert app.payments is not None
        assert app.payments.notify_url == "https://kabinet.example/payments/easypay"  # type: ignore[attr-defined]
        async with TestClient(TestServer(build_web_app(app, []))) as client:
            response = await client.post(NOTIFY_PATH, data=b"{}", headers={"Sign": "forged"})
            assert response.status == 403
            body = (
                b'{"OperationType":"Payment","TransactionStatus":"Accepted",'
                b'"MerchantOrderId":"kb1","Amount":1,"TransactionId":7}'
            )
            response = await client.post(NOTIFY_PATH, data=body, headers={"Sign": sign("k", body)})
            assert response.status == 200 and (await response.json())["status"] == "unknown_order"
    finally:
        await app.close()


@pytest.mark.e2e  # runs `kabinet demo`
def test_kabinet_demo_pays_in_the_console(tmp_path: Path) -> None:
    """The real `kabinet demo` process: link, open, thanks and receipt, balance."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KABINET_", "DATABASE_", "EASYPAY_", "TELEGRAM_", "PUBLIC_"))
    }
    env.update(KABINET_NOW="2026-11-29T10:00:00+02:00", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input="\n".join([*LINK, "#1", "Баланс"]) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    turns = re.split(r"(?m)^> ", result.stdout)
    assert len(turns) == len(LINK) + 2 + 2  # one prompt before input, one after each line
    assert "Дякуємо! Оплату 500,00 грн" in turns[-3] and "[document: " in turns[-3]
    assert "Переплата 500,00 грн" in turns[-2]
    assert list((tmp_path / "kabinet-out").glob("*.pdf"))
