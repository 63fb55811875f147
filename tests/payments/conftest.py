"""Payments over real HTTP: the EasyPay adapter against the local fake EasyPay server, and
the notification route through aiohttp's test client, on fakes and on SQLite/PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from pypdf import PdfReader

from bot.channels.base import DeliveryResult, DeliveryStatus, Push
from bot.i18n import Catalogues
from bot.messages import Reply
from core.clock import FrozenClock
from core.model import Account, Channel, Dso, PaymentOrder, Supplier
from core.payments import create_order
from documents.rendering import ThreadedDocumentRenderer
from observability.metrics import Metrics
from payments.callback import ChannelNotifier, EasyPayCallbacks, register
from payments.easypay import EasyPayProvider
from payments.fake_easypay import FakeEasyPay
from tests.builders import add_account, add_tariffs
from tests.fakes import FakeUnitOfWorkFactory

NOW = datetime.fromisoformat("2026-11-29T10:00:00+02:00")
KYIV = ZoneInfo("Europe/Kyiv")
USER = "u1"


def pdf_text(content: bytes) -> str:
    """All text of a PDF."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@dataclass
class RecordingPusher:
    """A channel that records pushes instead of sending them."""

    channel: Channel = Channel.CONSOLE
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        self.sent.append((user_id, push.replies))
        return DeliveryResult(DeliveryStatus.SENT)


@pytest.fixture(scope="session")
def catalogues() -> Catalogues:
    return Catalogues()


@pytest.fixture
async def fake() -> AsyncIterator[FakeEasyPay]:
    """The fake EasyPay listening on a free local port."""
    server = FakeEasyPay(clock=lambda: NOW)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def provider(fake: FakeEasyPay) -> AsyncIterator[EasyPayProvider]:
    """The real adapter, pointed at the fake."""
    adapter = EasyPayProvider(
        api_base=fake.base_url,
        partner_key=fake.partner_key,
        service_key=fake.service_key,
        secret_key=SecretStr(fake.secret_key),
        notify_url="http://127.0.0.1:9/payments/easypay",
    )
    yield adapter
    await adapter.close()


@pytest.fixture
def renderer() -> ThreadedDocumentRenderer:
    renderer = ThreadedDocumentRenderer()
    yield renderer  # type: ignore[misc]
    renderer.close()


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    """One account (2010000232, 648,00 due) and a console person who pays for it."""
    factory = FakeUnitOfWorkFactory()
    add_tariffs(factory.data)
    factory.data.dsos.append(Dso(1, "АТ «Демо-Обленерго»", 1))
    factory.data.suppliers.append(
        Supplier(1, "ТОВ «Демо Енергозбут»", "UA213223130000026007233566001", "12345678")
    )
    add_account(factory.data)
    return factory


@pytest.fixture
async def order(factory: FakeUnitOfWorkFactory, provider: EasyPayProvider) -> PaymentOrder:
    """An order for 700,50 made through the adapter, as the pay flow makes it."""
    uow = factory()
    identity = await uow.persons.create_person_with_identity(
        Channel.CONSOLE, USER, "Іван", "uk", NOW
    )
    account: Account = next(iter(factory.data.accounts.values()))
    return await create_order(
        uow,
        provider,
        account,
        Decimal("700.50"),
        Decimal("648.00"),
        identity.person_id,
        Channel.CONSOLE,
        USER,
        "Оплата за електроенергію, о/р 2010000232",
        NOW,
    )


@pytest.fixture
def pusher() -> RecordingPusher:
    return RecordingPusher()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def conflicts(metrics: Metrics, reason: str) -> float:
    """How many conflicts of this reason the callback counted."""
    value = metrics.registry.get_sample_value(
        "kabinet_payment_conflicts_total", {"provider": "easypay", "reason": reason}
    )
    return value or 0.0


async def another_order(
    factory: FakeUnitOfWorkFactory, provider: EasyPayProvider, amount: str = "700.50"
) -> PaymentOrder:
    """A second order of the same person and account, as a second "Сплатити" makes it."""
    uow = factory()
    identity = await uow.persons.identity(Channel.CONSOLE, USER)
    assert identity is not None
    account: Account = next(iter(factory.data.accounts.values()))
    return await create_order(
        uow,
        provider,
        account,
        Decimal(amount),
        Decimal("0.00"),
        identity.person_id,
        Channel.CONSOLE,
        USER,
        "Оплата за електроенергію, о/р 2010000232",
        NOW,
    )


@pytest.fixture
async def client(
    provider: EasyPayProvider,
    factory: FakeUnitOfWorkFactory,
    catalogues: Catalogues,
    renderer: ThreadedDocumentRenderer,
    pusher: RecordingPusher,
    metrics: Metrics,
) -> AsyncIterator[TestClient]:
    """The notification route on fakes, through aiohttp's test client."""
    web_app = web.Application()
    register(
        web_app,
        EasyPayCallbacks(
            provider=provider,
            uow_factory=factory,
            catalogues=catalogues,
            clock=FrozenClock(NOW),
            zone=KYIV,
            renderer=renderer,
            notify=ChannelNotifier([pusher]),
            metrics=metrics,
        ),
    )
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client
