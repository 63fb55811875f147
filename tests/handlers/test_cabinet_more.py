"""Manual §6.6–§6.12, §7 and settings in chat, on fakes, with real charts and PDFs."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader

from bot.handlers.dialog import Dialog
from core.clock import FrozenClock
from core.model import (
    Channel,
    Outage,
    OutageKind,
    OutageTarget,
    Payment,
    PaymentNotice,
    RequestStatus,
)
from core.payments import settle
from tests.chat import Chat
from tests.fakes import FakePaymentProvider, FakeUnitOfWorkFactory
from tests.handlers.conftest import consented, linked
from tests.handlers.test_conversation import TOP


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.adapters  # renders with matplotlib / the PDF library
async def test_chart_is_a_real_png_with_two_years(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Графік споживання")
    image = chat.replies[0].image
    assert image is not None and image.mime_type == "image/png"
    picture = Image.open(io.BytesIO(image.content))
    assert picture.size == (1080, 1080)
    colours = picture.convert("RGB").getcolors(maxcolors=100000)
    assert colours is not None and len(colours) > 20  # not blank
    assert "11.2025–10.2026 — 1 800 кВт·год" in text


@pytest.mark.adapters  # renders with matplotlib / the PDF library
async def test_bill_pdf_has_account_period_and_amount(chat: Chat) -> None:
    await linked(chat)
    await chat.send("Архів рахунків")
    text = await chat.press("10.2026")
    assert "Рахунок за жовтень 2026" in text
    document = chat.replies[0].document
    assert document is not None and document.mime_type == "application/pdf"
    content = pdf_text(document.content)
    assert "2010000232" in content and "за жовтень 2026" in content and "648,00" in content
    # A one-zone meter: the table names no zone.
    assert "Покази й нарахування\n" in content and "Зона" not in content
    assert "Іваненко Іван Іванович" in content and "62Z000000000232T" in content


@pytest.mark.adapters  # renders with matplotlib / the PDF library
async def test_receipt_pdf_for_a_payment(chat: Chat) -> None:
    await linked(chat)
    await chat.send("Історія оплат")
    await chat.press("Квитанція 09.11.2026")
    document = chat.replies[0].document
    assert document is not None
    content = pdf_text(document.content)
    assert "648,00" in content and "tx-" in content and "2010000232" in content


async def test_someone_elses_receipt_is_refused(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    foreign = next(p for p in factory.data.payments if p.account_id != chat_account(factory))
    text = await chat.send(payload=f"rcpt:{foreign.id}")
    assert "не знайдено" in text and chat.replies[0].document is None


def chat_account(factory: FakeUnitOfWorkFactory) -> int:
    return next(iter(factory.data.links))[1]


async def test_call_center_request_and_answer(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    assert "ще немає звернень" in await chat.send("Звернення до кол-центру")
    await chat.press("Нове звернення")
    await chat.press("Незрозумілий рахунок")
    assert "разом до 10 000 символів" in chat.text
    assert "порожнє" in await chat.send("   ")
    assert "задовгий" in await chat.send("x" * 10_001)
    await chat.press("Написати заново")
    await chat.send("Чому рахунок такий великий?")
    text = await chat.press("Надіслати")
    assert "прийнято" in text
    [request] = factory.data.call_center
    assert request.request_type == "unclear_bill" and request.status == RequestStatus.NEW
    factory.data.call_center[0] = request.__class__(
        **{**request.__dict__, "status": RequestStatus.DONE, "answer": "Перераховано."}
    )
    text = await chat.send("Звернення до кол-центру")
    assert "Незрозумілий рахунок (консультація)" in text and "Виконано" in text
    assert "Чому рахунок такий великий?" in text and "Відповідь: Перераховано." in text


async def test_free_service_with_profile_phone(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    await chat.send("/phone")
    await chat.send(contact_phone="+380994455889")
    await chat.send("Безкоштовні послуги")
    await chat.press("Замовити послугу")
    await chat.press("Шум у електролічильнику")
    await chat.press("Так, 0994455889")
    assert "Шум у електролічильнику" in chat.text and "0994455889" in chat.text
    text = await chat.press("Замовити")
    assert "прийнято" in text
    [order] = factory.data.free_services
    assert order.phone == "0994455889" and order.service_type == "meter_noise"
    assert "Нове" in await chat.send("Безкоштовні послуги")


async def test_free_service_typed_phone_is_checked(chat: Chat) -> None:
    await linked(chat)
    await chat.send("Безкоштовні послуги")
    await chat.press("Замовити послугу")
    await chat.press("Перевірка пломб")
    assert "не схоже на номер" in await chat.send("12345")
    assert "0671234567" in await chat.send("+380 (67) 123-45-67")


async def test_support_request(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await consented(chat)
    await chat.send("Технічна підтримка")
    await chat.press("Іван")
    # A messenger has no login to ask for: the phone comes next.
    assert "логін" not in chat.text.lower() and "телефону для зв'язку" in chat.text
    assert "не схоже на номер" in await chat.send("nope")
    await chat.send("0994444444")
    await chat.press("Додавання особових рахунків")
    await chat.send("Не можу додати рахунок")
    text = await chat.press("Надіслати")
    assert "прийнято" in text
    [request] = factory.data.support
    assert (request.name, request.login, request.phone) == (
        "Іван",
        "console:u1",
        "+380994444444",
    )


async def test_outages_for_address_and_group(
    chat: Chat, factory: FakeUnitOfWorkFactory, clock: FrozenClock
) -> None:
    await linked(chat)
    text = await chat.send("Відключення")
    assert "не заплановано" in text and "ще не надходили" in text
    now = clock.now()
    factory.data.outages += [
        Outage(
            1,
            OutageKind.PLANNED,
            1,
            now + timedelta(days=1),
            now + timedelta(days=1, hours=7),
            "Ремонтні роботи на ТП",
            (
                OutageTarget(
                    settlement="Київ", street="вул. Кузьми Скрябіна", buildings=("39", "41")
                ),
            ),
            now - timedelta(hours=2),
            now - timedelta(hours=1),
        ),
        Outage(
            2,
            OutageKind.EMERGENCY,
            1,
            now - timedelta(hours=1),
            None,
            "Пошкодження лінії",
            (OutageTarget(outage_group="3.2"),),
            now,
            now,
        ),
        Outage(
            3,
            OutageKind.PLANNED,
            1,
            now + timedelta(days=2),
            now + timedelta(days=2, hours=1),
            "Інша вулиця",
            (OutageTarget(settlement="Київ", street="вул. Інша"),),
            now,
            now,
        ),
    ]
    text = await chat.send("Відключення")
    assert "Аварійні відключення:" in text and "Пошкодження лінії" in text
    assert "уточнюється" in text
    assert "Планові відключення:" in text and "Ремонтні роботи на ТП" in text
    assert "• 30.11.2026 з 10:00 до 17:00\n  Причина: Ремонтні роботи на ТП" in text
    assert "Інша вулиця" not in text
    assert "Дані оновлено 29.11.2026 о 10:00." in text


async def test_pay_less_than_due_gets_no_link(
    chat: Chat, factory: FakeUnitOfWorkFactory, payments: FakePaymentProvider
) -> None:
    await linked(chat)
    account_id = chat_account(factory)
    factory.data.payments = [
        p
        for p in factory.data.payments
        if p.account_id != account_id or p.paid_at < datetime(2026, 11, 1, tzinfo=UTC)
    ]
    text = await chat.send("Сплатити")
    assert "Заборгованість 648,00 грн: термін сплати минув 20.11.2026" in text
    text = await chat.send("100")
    assert "не меншою за суму до сплати — 648,00 грн" in text
    assert not payments.orders and not factory.data.orders
    await chat.send("700,50")
    [button] = [b for b in chat.buttons if b.url]
    assert button.url.startswith("https://pay.example/") and "700,50" in button.label
    [order] = factory.data.orders.values()
    assert order.amount == Decimal("700.50") and order.channel == Channel.CONSOLE


async def test_pay_due_button_and_settlement_once(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    account_id = chat_account(factory)
    factory.data.payments = [
        p
        for p in factory.data.payments
        if p.account_id != account_id or p.paid_at < datetime(2026, 11, 1, tzinfo=UTC)
    ]
    await chat.send("Сплатити")
    await chat.press("Сплатити 648,00 грн")
    [order] = factory.data.orders.values()
    notice = PaymentNotice(
        "easypay",
        order.order_id,
        "T-1",
        Decimal("648.00"),
        True,
        datetime(2026, 11, 29, 9, tzinfo=UTC),
    )
    uow = factory()
    assert await settle(uow, notice) is not None
    assert await settle(uow, notice) is None  # replayed
    assert sum(1 for p in factory.data.payments if p.provider_txn_id == "T-1") == 1
    assert "Заборгованості немає" in await chat.send("Баланс")


async def test_pay_provider_down_is_polite(chat: Chat, payments: FakePaymentProvider) -> None:
    await linked(chat)
    payments.failing = True
    await chat.send("Сплатити")
    text = await chat.send("1000")
    assert "не відповідає" in text


async def test_notifications_toggle_and_date(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await consented(chat)
    await chat.send("Налаштування")
    text = await chat.press("Сповіщення")
    assert "Востаннє змінено" not in text  # never changed: no line about it
    text = await chat.press("Аварійні відключення")
    assert "Збережено" in text and "Востаннє змінено: 29.11.2026" in text
    prefs = next(iter(factory.data.prefs.values()))
    assert prefs.outages_emergency is False and prefs.outages_planned is True
    await chat.press("Отримувати рахунок тільки в паперовому вигляді")
    assert next(iter(factory.data.prefs.values())).paper_bill_only is True


async def test_profile_name_phone_email(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await consented(chat)
    await chat.send("/profile")
    await chat.press("Змінити ім'я")
    await chat.send("Іван Іваненко")
    await chat.press("Вказати телефон")
    assert chat.buttons[0].request_phone
    assert "своїм власним" in await chat.send(contact_phone="+380501112233", contact_is_own=False)
    await chat.send("050 111 22 33")
    await chat.press("Змінити e-mail")
    assert "не схоже на e-mail" in await chat.send("ivan@")
    text = await chat.send("Ivan@Example.com")
    assert "Іван Іваненко" in text and "+380501112233" in text and "Ivan@example.com" in text


async def test_language_switch(chat: Chat) -> None:
    await consented(chat)
    await chat.send("/language")
    assert "Language changed" in await chat.press("English")
    assert "📟 Readings" in chat.labels()
    assert chat.standing()[0] == "📟 Readings"  # the standing keyboard speaks English too
    assert "Main menu" in await chat.send("menu")


async def test_second_messenger_joins_with_code(
    dialog: Dialog, factory: FakeUnitOfWorkFactory
) -> None:
    telegram = Chat(dialog, "tg-1", channel=Channel.TELEGRAM)
    await linked(telegram)
    text = await telegram.send("/join")
    code = next(word for word in text.split() if word.isdigit() and len(word) == 10)
    viber = Chat(dialog, "vb-1", channel=Channel.VIBER)
    await viber.send(f"/start {code}")
    text = await viber.press("Погоджуюсь")
    assert "підключено до вашого профілю" in text
    await viber.send("Мої рахунки")
    assert any("2010000232" in label for label in viber.labels())
    # single use
    other = Chat(dialog, "vb-2", channel=Channel.VIBER)
    await consented(other)
    assert "неправильний" in await other.send(f"/code {code}")


async def test_wrong_codes_are_limited(chat: Chat) -> None:
    await consented(chat)
    for _ in range(5):
        assert "неправильний" in await chat.send("/code 000000")
    assert "Забагато" in await chat.send("/code 000000")


async def test_delete_my_data(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    await chat.send("/settings")
    await chat.press("Видалити мої дані")
    text = await chat.press("Так, видалити")
    assert "видалено" in text
    assert not factory.data.links and not factory.data.identities
    assert all(not p.name for p in factory.data.persons.values())
    assert factory.data.bills  # billing data stays
    assert not factory.data.dialogs  # the erasing turn does not write its state back
    assert "згод" in await chat.send("/start")


async def test_main_menu_is_short_and_every_section_is_one_level_down(chat: Chat) -> None:
    await linked(chat)
    await chat.send("меню")
    assert chat.labels() == TOP
    below = {
        "📟 Покази": ["Історія показів", "Споживання", "Графік споживання", "Лічильник"],
        # "Сплатити" shows under the balance only when something is owed (it is on top too).
        "💰 Баланс": ["Історія оплат", "Архів рахунків", "Персональна інформація"],
        "💡 Графік відключень": ["Аварійні та планові", "Нагадування"],
        "👤 Мої рахунки": ["Додати особовий рахунок"],
        "✉️ Звернення": ["Звернення до кол-центру", "Безкоштовні послуги", "Технічна підтримка"],
        "⚙️ Налаштування": ["Профіль", "Сповіщення", "Мова / Language", "Видалити мої дані"],
    }
    for entry, sections in below.items():
        await chat.send("меню")
        await chat.press(entry)
        for section in sections:
            assert any(section in label for label in chat.labels()), (entry, chat.labels())


async def test_payment_row_is_not_float(factory: FakeUnitOfWorkFactory) -> None:
    assert all(isinstance(p.amount, Decimal) for p in factory.data.payments)
    assert isinstance(factory.data.payments[0], Payment)


async def test_deleting_my_data_keeps_the_code_limit(chat: Chat) -> None:
    """Issue 18: wrong codes count against the messenger identity, which erasure keeps."""
    await consented(chat)
    for _ in range(5):
        assert "неправильний" in await chat.send("/code 0000000000")
    await chat.send("/settings")
    await chat.press("Видалити мої дані")
    assert "видалено" in await chat.press("Так, видалити")
    await consented(chat)
    assert "Забагато" in await chat.send("/code 0000000000")


async def test_join_codes_are_long_and_may_be_typed_with_spaces(
    dialog: Dialog, factory: FakeUnitOfWorkFactory
) -> None:
    telegram = Chat(dialog, "tg-1", channel=Channel.TELEGRAM)
    await linked(telegram)
    text = await telegram.send("/join")
    code = next(word for word in text.split() if word.isdigit())
    assert len(code) == 10
    viber = Chat(dialog, "vb-1", channel=Channel.VIBER)
    await consented(viber)
    assert "підключено" in await viber.send(f"/code {code[:5]} {code[5:]}")
