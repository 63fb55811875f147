"""Every section of the manual through `kabinet chat`, on SQLite and PostgreSQL.

Assertions are on content: numbers, dates, statuses, and the files the bot wrote.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from pypdf import PdfReader

from tests.e2e.conftest import Console, last_billing_value, new_user

LINKED = ("/start", "Погоджуюсь", "Додати особовий рахунок", "2010000232", "62Z000000000232T")


def written_file(console: Console, turn: str, kind: str) -> bytes:
    match = re.search(rf"\[{kind}: ([^\]]+)\]", turn)
    assert match, turn
    return (console.workdir / match.group(1)).read_bytes()


def test_registration_profile(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        "/start",
        "#1",
        "/profile",
        "Змінити ім'я",
        "Іван Петренко",
        "Вказати телефон",
        "/contact +380501234567",
        "Змінити e-mail",
        "not-an-email",
        "ivan@example.com",
    )
    assert "📱 Поділитися номером" in turns[5]
    assert "Телефон: +380501234567" in turns[6]
    assert "не схоже на e-mail" in turns[8]
    assert "Ім'я: Іван Петренко" in turns[9] and "E-mail: ivan@example.com" in turns[9]


def test_second_messenger_with_one_time_code(console: Console) -> None:
    first, second = new_user(), new_user()
    turns = console.chat(first, *LINKED, "/join")
    code = re.search(r"одноразовий код: (\d{10})", turns[5]).group(1)
    turns = console.chat(second, f"/start {code}", "Погоджуюсь", "Мої рахунки")
    assert "підключено до вашого профілю" in turns[1]
    assert "2010000232" in turns[2]
    again = console.chat(new_user(), "/start", "#1", f"/code {code}")
    assert "неправильний, уже використаний" in again[2]


def test_personal_information(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Персональна інформація")
    info = turns[5]
    assert "EIC код: 62Z000000000232T" in info and "Іваненко Іван Іванович" in info
    assert "Тариф: однозонний" in info and "4,32 грн за кВт·год з ПДВ" in info
    assert "Договір № " in info and "Постачальник: " in info
    assert "Оператор системи розподілу: " in info
    assert "Останній рахунок за жовтень 2026" in info and "Остання оплата: " in info


def test_notification_settings(console: Console) -> None:
    turns = console.chat(
        new_user(),
        "/start",
        "#1",
        "/notifications",
        "⬜ Отримувати рахунок тільки в паперовому вигляді",
    )
    assert "Востаннє змінено" not in turns[2]  # never changed: no line about it
    assert "Збережено" in turns[3] and "Востаннє змінено: 29.11.2026" in turns[3]
    assert "✅ Отримувати рахунок тільки в паперовому вигляді" in turns[3]


def test_payment_history_and_receipt(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Історія оплат", "#1")
    assert "2026 рік" in turns[5] and "Усього сплачено за рік:" in turns[5]
    text = (
        PdfReader(io.BytesIO(written_file(console, turns[6], "document"))).pages[0].extract_text()
    )
    assert "2010000232" in text and "EasyPay" in text


def test_readings_history_and_calculation(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Історія показів", "Розрахувати")
    assert "Введені покази для розрахунку:" in turns[5] and "Розрахункові покази:" in turns[5]
    assert re.search(r"\n10\.2026 — [\d ]+ \(", turns[5]), turns[5]  # one zone: no zone name
    last = last_billing_value(turns[6])
    turns = console.chat(new_user(), *LINKED, "Розрахувати", str(last + 100))
    assert "100 кВт·год" in turns[6] and "432,00 грн" in turns[6] and "не збережено" in turns[6]


def test_consumption_by_year(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Споживання")
    assert "2026 рік" in turns[5] and "10.2026: " in turns[5]
    assert "Усього за 10 місяців:" in turns[5]
    assert "[1] • 2026" in turns[5] and "2025" in turns[5]


def test_meter(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Лічильник")
    assert "Тип: ЛЕО" in turns[5] and "Дата встановлення: 01.11.2019" in turns[5]
    assert "Покази при встановленні: 4 920\n" in turns[5] and "Розрядність: 6 цифр" in turns[5]


def test_chart_png(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Графік споживання")
    picture = Image.open(io.BytesIO(written_file(console, turns[5], "image")))
    assert picture.size == (1080, 1080)
    assert len(picture.convert("RGB").getcolors(maxcolors=1_000_000)) > 20


def test_bill_pdf(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Архів рахунків", "#1")
    assert "Рахунок за жовтень 2026" in turns[6] and "сплачено" in turns[6]
    text = (
        PdfReader(io.BytesIO(written_file(console, turns[6], "document"))).pages[0].extract_text()
    )
    assert "2010000232" in text and "жовтень 2026" in text and "До сплати" in text


def test_call_center(console: Console) -> None:
    turns = console.chat(
        new_user(),
        *LINKED,
        "Звернення до кол-центру",
        "Нове звернення",
        "Незрозумілий рахунок (консультація)",
        "Поясніть рахунок",
        "Надіслати",
        "Мої звернення",
    )
    assert "прийнято" in turns[9]
    assert "Незрозумілий рахунок (консультація)" in turns[10] and "Статус: Нове" in turns[10]
    assert "Поясніть рахунок" in turns[10] and "Відповіді ще немає" in turns[10]


def test_free_services(console: Console) -> None:
    turns = console.chat(
        new_user(),
        *LINKED,
        "Безкоштовні послуги",
        "Замовити послугу",
        "Шум у електролічильнику",
        "099 445 58 89",
        "Замовити",
        "Мої замовлення",
    )
    assert "«Шум у електролічильнику», телефон 0994455889" in turns[8]
    assert "прийнято" in turns[9]
    assert "— Шум у електролічильнику\nРахунок: 2010000232\nТелефон: 0994455889" in turns[10]
    assert "Статус: Нове\nВідповіді ще немає." in turns[10]


def test_outages(console: Console) -> None:
    turns = console.chat(new_user(), *LINKED, "Відключення")
    assert "Відключення, рахунок 2010000232" in turns[5]
    assert "Черга відключень: 3.2" in turns[5]
    assert "Дані оновлено" in turns[5] or "ще не надходили" in turns[5]


def test_support(console: Console) -> None:
    turns = console.chat(
        new_user(),
        "/start",
        "#1",
        "Технічна підтримка",
        "Іван Іваненко",
        "0994444444",
        "Додавання особових рахунків",
        "Не бачу свій рахунок",
        "Надіслати",
    )
    assert "Спитаємо, як до вас звертатися, телефон для зв'язку" in turns[2]
    # No login in a messenger: after the name comes the phone.
    assert "телефону для зв'язку" in turns[3] and "логін" not in turns[3].lower()
    assert "технічної підтримки № " in turns[7]


def test_language_and_delete(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        *LINKED,
        "/language",
        "English",
        "Balance",
        "/settings",
        "Delete my data",
        "Yes, delete",
        "/start",
    )
    assert "Language changed" in turns[6]
    assert "Balance of account 2010000232" in turns[7]
    assert "personal data is deleted" in turns[10]
    assert "згоду на обробку" in turns[11] or "згода на обробку" in turns[11]


def test_menu_and_pages(console: Console) -> None:
    turns = console.chat(
        new_user(), *LINKED, "меню", "💰 Баланс", "Історія оплат", "Далі ▶", "◀ Назад"
    )
    # The short menu, numbered as the console shows it.
    assert turns[5].splitlines()[1:] == [
        "[1] 📟 Покази",
        "[2] 💰 Баланс",
        "[3] 💳 Сплатити",
        "[4] 💡 Графік відключень",
        "[5] 👤 Мої рахунки",
        "[6] ✉️ Звернення",
        "[7] ⚙️ Налаштування",
        "[8] ❓ Довідка",
    ]
    # One level down: the balance's own next steps (nothing is owed: no "Сплатити").
    for label in ("Внести покази", "Історія оплат", "Архів рахунків", "Персональна інформація"):
        assert f"] {label}" in turns[6]
    assert "Сторінка 1 з 2" in turns[7] and "Сторінка 2 з 2" in turns[8]
    assert "Сторінка 1 з 2" in turns[9]
