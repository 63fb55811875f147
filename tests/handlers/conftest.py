"""Flows against the fake unit of work: fast, no database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.handlers import WORDS, build_router
from bot.handlers.context import DialogRules, Services
from bot.handlers.dialog import Dialog
from bot.i18n import Catalogues
from core.clock import FrozenClock
from core.model import Dso, Supplier, TariffPlan
from documents.rendering import ThreadedDocumentRenderer
from storage.photo_files import DirectoryPhotoStore
from tests.builders import add_account, add_tariffs
from tests.chat import Chat
from tests.fakes import FakePaymentProvider, FakePhotoReader, FakeUnitOfWorkFactory

IN_WINDOW = datetime.fromisoformat("2026-11-29T10:00:00+02:00")


@pytest.fixture(scope="session")
def catalogues() -> Catalogues:
    return Catalogues()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(IN_WINDOW)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    factory = FakeUnitOfWorkFactory()
    add_tariffs(factory.data)
    factory.data.dsos.append(Dso(1, "АТ «Демо-Обленерго»", 1))
    factory.data.suppliers.append(Supplier(1, "ТОВ «Демо Енергозбут»"))
    add_account(factory.data)
    add_account(
        factory.data,
        number="2010000777",
        eic="62Z000000000777O",
        plan=TariffPlan.TWO_ZONE,
        last_values=None,
        monthly=None,
    )
    return factory


@pytest.fixture
def payments() -> FakePaymentProvider:
    return FakePaymentProvider()


@pytest.fixture
def renderer() -> Iterator[ThreadedDocumentRenderer]:
    renderer = ThreadedDocumentRenderer()
    yield renderer
    renderer.close()


@pytest.fixture
def photos() -> FakePhotoReader:
    return FakePhotoReader()


@pytest.fixture
def photo_store(tmp_path: Path) -> DirectoryPhotoStore:
    return DirectoryPhotoStore(tmp_path / "photos")


@pytest.fixture
def dialog(
    factory: FakeUnitOfWorkFactory,
    clock: FrozenClock,
    catalogues: Catalogues,
    payments: FakePaymentProvider,
    renderer: ThreadedDocumentRenderer,
    photos: FakePhotoReader,
    photo_store: DirectoryPhotoStore,
) -> Dialog:
    services = Services(
        documents=renderer, payments=payments, photos=photos, photo_store=photo_store
    )
    return Dialog(factory, clock, catalogues, build_router(), DialogRules(), WORDS, services)


@pytest.fixture
def chat(dialog: Dialog) -> Chat:
    return Chat(dialog)


async def consented(chat: Chat) -> Chat:
    """Bring a chat past /start and consent."""
    await chat.send("/start")
    await chat.press("Погоджуюсь")
    return chat


async def linked(chat: Chat, number: str = "2010000232", eic: str = "62Z000000000232T") -> Chat:
    """Consent and link an account."""
    await consented(chat)
    await chat.send("Додати особовий рахунок")
    await chat.send(number)
    await chat.send(eic)
    assert "Рахунок додано" in chat.text
    return chat
