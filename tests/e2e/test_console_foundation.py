"""The foundation's acceptance conversations, through `kabinet chat` on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from tests.e2e.conftest import Console, last_billing_value, new_user

LINK_232 = ("/start", "Погоджуюсь", "Додати особовий рахунок", "2010000232", "62Z000000000232T")


def test_consent_link_reading_balance(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *LINK_232, "Внести покази")
    assert "згода на обробку персональних даних" in turns[0]
    assert "[1] Погоджуюсь" in turns[0]
    assert "згоду збережено" in turns[1]
    assert "Іваненко Іван Іванович" in turns[4]
    assert "вул. Кузьми Скрябіна, 39" in turns[4]
    previous = last_billing_value(turns[5])
    # A second process continues the same conversation: the state lives in the database.
    turns = console.chat(user, str(previous + 130), "Баланс")
    assert "Покази прийнято" in turns[0]
    assert "130 кВт·год" in turns[0] and "561,60 грн" in turns[0]
    balance = turns[1]
    assert "Стан рахунку 2010000232" in balance
    assert any(word in balance for word in ("Переплата", "Борг", "Заборгованості немає"))
    assert "Остання оплата:" in balance and "Останній рахунок за жовтень 2026" in balance


def test_two_zone_account(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user, "/start", "#1", "/link", "2010000777", "62Z000000000777O", "/readings"
    )
    assert "Введіть поточні покази денної зони" in turns[5]
    day, night = (
        int(value.replace(" ", ""))
        for value in re.search(r"\): день ([\d ]+), ніч ([\d ]+)\.", turns[5]).groups()
    )
    turns = console.chat(user, str(day + 100), str(night + 100))
    assert "Введіть поточні покази нічної зони" in turns[0]
    assert "• день: " in turns[1] and "спожито 100 кВт·год × 4,32 грн = 432,00 грн" in turns[1]
    assert "• ніч: " in turns[1] and "спожито 100 кВт·год × 2,16 грн = 216,00 грн" in turns[1]
    assert "Разом: 200 кВт·год, орієнтовна сума до сплати 648,00 грн." in turns[1]


def test_each_mistake_has_its_own_answer(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        "/start",
        "#1",
        "/link",
        "2010000232",
        "62Z000000000232X",  # wrong check character
        "/link",
        "2010099999",
        "62Z000000000232T",  # unknown account
        "/link",
        "2010000232",
        "62Z000000000777O",  # number and EIC of different accounts
    )
    assert "У EIC-коді помилка" in turns[4]
    assert "Не знайшли рахунку" in turns[7]
    assert turns[7] == turns[10]
    turns = console.chat(
        user,
        "/link",
        "2010099999",
        "62Z000000000232T",
        "/link",
        "2010099999",
        "62Z000000000232T",
        "/link",
        "2010099999",
        "62Z000000000232T",
        "/link",
    )
    assert "Забагато невдалих спроб" in turns[-1] and "хв" in turns[-1]
    turns = console.chat(user, "Мої рахунки")
    assert "ще немає доданих" in turns[0]


def test_reading_mistakes_store_nothing(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *LINK_232, "Внести покази", "12a4", "100", "меню", "Баланс")
    assert "ціле число" in turns[6]
    assert "не можуть бути меншими" in turns[7]
    assert "Головне меню" in turns[8]
    outside = console.chat(user, "Внести покази", now="2026-12-10T12:00:00+02:00")
    assert "з 30.12.2026 по 03.01.2027" in outside[0]


def test_restart_between_steps_continues_the_flow(console: Console) -> None:
    user = new_user()
    console.chat(user, "/start", "Погоджуюсь", "Додати особовий рахунок", "2010000232")
    turns = console.chat(user, "62Z000000000232T")
    assert "Рахунок додано" in turns[0]


def test_unknown_text_gets_hint_and_menu(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, "/start", "#1", "що там?", "/nonsense")
    assert "не зрозумів" in turns[2] and "[1] ➕ Додати особовий рахунок" in turns[2]
    assert "Такої команди немає" in turns[3]
