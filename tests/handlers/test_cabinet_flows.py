"""Manual §6.1–§6.5 in chat: information, meter, consumption, payments, readings history."""

from __future__ import annotations

from datetime import datetime

from core.clock import FrozenClock
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import linked


async def test_personal_information(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Персональна інформація")
    assert "EIC код: 62Z000000000232T" in text
    assert "Споживач: Іваненко Іван Іванович" in text
    assert "Черга відключень: 3.2" in text
    assert "Остання оплата: 648,00 грн від 09.11.2026" in text
    assert "Останні розрахункові покази (01.11.2026): 8 350\n" in text
    assert "Споживання за жовтень 2026: 150 кВт·год" in text
    assert "Тариф: однозонний" in text and "4,32 грн за кВт·год з ПДВ (діє з 01.06.2024)" in text
    assert "Постачальник: ТОВ «Демо Енергозбут»" in text
    assert "Оператор системи розподілу: АТ «Демо-Обленерго»" in text


async def test_meter(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Лічильник")
    assert "Серійний номер: 0123456" in text and "Тип: ЛЕО" in text
    assert "Дата встановлення: 01.11.2019" in text
    assert "Покази при встановленні: 1 000\n" in text
    assert "Зонність: однозонний" in text and "Розрядність: 6 цифр" in text
    assert "Розрядність: 6 цифр" in text


async def test_consumption_by_year(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Споживання")
    assert "2026 рік" in text and "10.2026: 150 кВт·год" in text
    assert "Усього за 10 місяців: 1 500 кВт·год" in text  # 01..10.2026
    text = await chat.press("2025")
    assert "2025 рік" in text and "11.2025: 150 кВт·год" in text
    assert "Усього за 2 місяці: 300 кВт·год" in text
    assert chat.replies[0].replaces_previous


async def test_payments_by_year_and_pages(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Історія оплат")
    assert "2026 рік" in text
    assert "09.11.2026 — 648,00 грн" in text
    assert "Сторінка 1 з 2" in text
    text = await chat.press("Далі")
    assert "Сторінка 2 з 2" in text and "09.02.2026 — 648,00 грн" in text
    assert "Усього сплачено за рік: 7 128,00 грн" in text
    text = await chat.press("2025")
    assert "09.12.2025 — 648,00 грн" in text


async def test_readings_history_and_sources(chat: Chat) -> None:
    await linked(chat)
    await chat.send("/readings")
    await chat.send("8480")
    text = await chat.send("Історія показів")
    assert "29.11.2026 — 8 480 (Чат-бот)" in text
    assert "10.2026 — 8 350 (Особистий кабінет)" in text


async def test_calculate_stores_nothing_and_works_outside_the_window(
    chat: Chat, clock: FrozenClock, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    clock.set(datetime.fromisoformat("2026-12-15T10:00:00+02:00"))
    text = await chat.send("Внести покази")
    assert "з 30.12.2026 по 03.01.2027" in text
    await chat.press("Розрахувати")
    text = await chat.send("8450")
    assert "100 кВт·год" in text and "432,00 грн" in text and "не збережено" in text
    assert not factory.data.submitted
