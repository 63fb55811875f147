"""Paying by bank transfer and the schedule picture, on the fakes: the QR code offered
next to card payments, configured payee details when the supplier has none, what is said
without any, and no empty picture when nothing is published."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.handlers import WORDS, build_router
from bot.handlers.context import DialogRules, Services
from bot.handlers.dialog import Dialog
from bot.i18n import Catalogues
from core.clock import FrozenClock
from core.model import Supplier
from core.payment_qr import BankTransferRules
from documents.rendering import ThreadedDocumentRenderer
from tests.chat import Chat
from tests.fakes import FakePaymentProvider, FakeUnitOfWorkFactory
from tests.handlers.conftest import linked
from tests.payment_qr import scan_png

IBAN = "UA213223130000026007233566001"


def unpaid(factory: FakeUnitOfWorkFactory) -> None:
    """The October payment never came: 648,00 грн is late since 20.11.2026."""
    factory.data.payments = [
        p for p in factory.data.payments if p.paid_at < datetime(2026, 11, 1, tzinfo=UTC)
    ]


async def test_the_qr_code_is_offered_next_to_card_payment(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    factory.data.suppliers[0] = replace(factory.data.suppliers[0], iban=IBAN, edrpou="32910079")
    unpaid(factory)
    await linked(chat)
    text = await chat.send("Сплатити")
    assert "Заборгованість 648,00 грн: термін сплати минув 20.11.2026." in text
    assert "Реквізити та QR-код" in chat.labels()
    text = await chat.press("Реквізити та QR-код")
    assert "Оплата карткою" not in text  # paying in the bot is on
    assert f"IBAN: {IBAN}" in text and "Сума: 648,00 грн" in text
    [reply] = [r for r in chat.replies if r.image is not None]
    lines = scan_png(reply.image.content)
    assert lines[5:9] == ["ТОВ «Демо Енергозбут»", IBAN, "UAH648.00", "32910079"]
    assert lines[11] == "Оплата за електроенергію, о/р 2010000232, період 10.2026"
    assert "Сплатити карткою" in chat.labels()
    assert "сплатити 648,00 грн" in await chat.press("Сплатити карткою")
    assert "Сплатити 648,00 грн" in chat.labels()


def dialog_with(factory: FakeUnitOfWorkFactory, rules: DialogRules, renderer) -> Dialog:  # type: ignore[no-untyped-def]
    clock = FrozenClock(datetime.fromisoformat("2026-11-29T10:00:00+02:00"))
    services = Services(documents=renderer, payments=None)
    return Dialog(factory, clock, Catalogues(), build_router(), rules, WORDS, services)


async def test_configured_payee_when_the_supplier_has_no_details(
    factory: FakeUnitOfWorkFactory, renderer: ThreadedDocumentRenderer
) -> None:
    bank = BankTransferRules(
        "ТОВ «Налаштований отримувач»", IBAN, "32910079", "Електроенергія {account}"
    )
    chat = Chat(dialog_with(factory, DialogRules(bank=bank), renderer))
    await linked(chat)
    text = await chat.send("/transfer")
    assert "Оплата карткою в боті зараз недоступна" in text
    assert "Отримувач: ТОВ «Налаштований отримувач»" in text
    assert "Призначення платежу: Електроенергія 2010000232" in text


async def test_without_any_details_the_person_is_told_where_to_get_them(
    factory: FakeUnitOfWorkFactory, renderer: ThreadedDocumentRenderer
) -> None:
    factory.data.suppliers[0] = Supplier(1, "ТОВ «Без реквізитів»")
    chat = Chat(dialog_with(factory, DialogRules(), renderer))
    await linked(chat)
    text = await chat.send("Сплатити")
    assert "Реквізитів для переказу за цим рахунком у боті немає" in text
    assert all(r.image is None for r in chat.replies)


async def test_no_picture_when_nothing_is_published(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Графік відключень")
    assert "графік ще не опубліковано" in text and "Картинка" not in chat.labels()
    # An old "Картинка" button pressed later: said in words, no empty picture.
    text = await chat.send("Картинка", payload="schpng")
    assert "ще не опубліковано, тож картинки поки немає" in text
    assert all(r.image is None for r in chat.replies)


async def test_the_pay_button_is_offered_only_when_something_is_owed(
    chat: Chat, factory: FakeUnitOfWorkFactory, payments: FakePaymentProvider
) -> None:
    await linked(chat)
    await chat.send("Баланс")
    assert not [label for label in chat.labels() if label.startswith("Сплатити")]
    unpaid(factory)
    text = await chat.send("Баланс")
    assert "Заборгованість 648,00 грн" in text and "Сплатити 648,00 грн" in chat.labels()
