"""Issue 14, points 6–11, as conversations through `kabinet chat`, on SQLite and PostgreSQL:
the short menu, free words and numbers, steps that ask again, consent that resumes what was
asked for, the last used account, and what was already submitted."""

from __future__ import annotations

from tests.e2e.conftest import Console, last_billing_value, new_user

LINKED = ("/start", "Погоджуюсь", "Додати особовий рахунок", "2010000232", "62Z000000000232T")
SHORT_MENU = [
    "[1] 📟 Покази",
    "[2] 💰 Баланс",
    "[3] 💳 Сплатити",
    "[4] 💡 Графік відключень",
    "[5] 👤 Мої рахунки",
    "[6] ✉️ Звернення",
    "[7] ⚙️ Налаштування",
    "[8] ❓ Довідка",
]


def buttons(turn: str) -> list[str]:
    return [line for line in turn.splitlines() if line.startswith("[")]


def previous_reading(console: Console, user: str) -> int:
    """The last billing reading of 2010000232, as the reading question shows it."""
    (prompt, _) = console.chat(user, "покази", "меню")
    return last_billing_value(prompt)


def test_the_short_menu_and_two_actions_to_a_reading_and_the_balance(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *LINKED, "меню", "баланс", "Історія оплат")
    assert buttons(turns[5]) == SHORT_MENU
    balance = turns[6]
    assert "Стан рахунку 2010000232" in balance
    # Nothing is owed, so no "Сплатити"; the window is open and nothing was sent yet.
    assert buttons(balance) == [
        "[1] Внести покази",
        "[2] Історія оплат",
        "[3] Архів рахунків",
        "[4] Персональна інформація",
        "[5] Меню",
    ]
    assert "Оплати, рахунок 2010000232" in turns[7]
    previous = previous_reading(console, user)
    # Half-way through adding an account: a word and the value, two actions.
    turns = console.chat(user, "/link", "2010000999", "покази", str(previous + 130))
    assert "Покази для рахунку 2010000232" in turns[2]
    assert "Покази прийнято" in turns[3] and "130 кВт·год" in turns[3]
    # Half-way through paying: one word.
    turns = console.chat(user, "/pay", "баланс")
    assert "Стан рахунку 2010000232" in turns[1]


def test_free_words_and_a_bare_number(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *LINKED, "Скільки платити?", "коли світло", "ДОПОМОГА", "борг")
    assert "Стан рахунку 2010000232" in turns[5]
    assert "Графік відключень" in turns[6] and "Ваша черга: 3.2" in turns[6]
    assert "Що вміє бот" in turns[7] and "«✉️ Звернення»" in turns[7]
    assert "Стан рахунку 2010000232" in turns[8]
    value = previous_reading(console, user) + 130
    grouped = f"{value // 1000} {value % 1000:03d}"
    turns = console.chat(user, grouped, "#1")
    assert f"Передати покази {grouped} для рахунку 2010000232" in turns[0]
    assert buttons(turns[0])[:2] == ["[1] Так, передати", "[2] Ні"]
    assert "Покази прийнято" in turns[1] and "130 кВт·год" in turns[1]
    turns = console.chat(user, "1234567890", "18000", "ні")
    assert "не схоже на покази" in turns[0] and "6 цифр" in turns[0]
    assert "Ви вже передали покази" in turns[1] and "Передати покази 18 000" in turns[1]
    assert "нічого не передаю" in turns[2]


def test_a_bare_number_outside_the_window(console: Console) -> None:
    user = new_user()
    console.chat(user, *LINKED)
    turns = console.chat(user, "19800", "#1", now="2026-11-15T10:00:00+02:00")
    assert "з 29.11.2026 по 03.12.2026" in turns[0] and "[1] Розрахувати для 19 800" in turns[0]
    assert "Розрахунок (орієнтовно)" in turns[1] and "покази не збережено" in turns[1]


def test_never_thrown_out_of_a_step(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *LINKED, "покази", "1234567", "12a", "100")
    previous = last_billing_value(turns[5])
    assert "6 цифр" in turns[6] and "Введіть поточні покази" in turns[6]
    assert "ціле число" in turns[7]
    assert "не можуть бути меншими" in turns[8]
    # The issue's own example: after "1234567" the next value is taken.
    turns = console.chat(user, str(previous + 51))
    assert "Покази прийнято" in turns[0] and "51 кВт·год" in turns[0]
    turns = console.chat(user, "/link", "12ab", "2010000777", "62Z000000000232T", "#1")
    assert "від 6 до 13 цифр" in turns[1]
    assert "Не знайшли рахунку" in turns[3] and "Ввести номер заново" in turns[3]
    assert "номер особового рахунку" in turns[4].lower()
    turns = console.chat(user, "/language", "котики", "English")
    assert "оберіть один із варіантів кнопкою" in turns[1].lower()
    assert "[1] Українська" in turns[1] and "[2] English" in turns[1]
    assert "Language changed" in turns[2]


def test_consent_resumes_what_was_asked_for(console: Console) -> None:
    turns = console.chat(new_user(), "Додати особовий рахунок", "#1", "2010000232")
    assert "згода на обробку персональних даних" in turns[0]
    assert "згоду збережено" in turns[1] and "номер особового рахунку" in turns[1]
    assert "Головне меню" not in turns[1]
    assert "EIC" in turns[2]
    turns = console.chat(new_user(), "графік", "Погоджуюсь")
    assert "згоду збережено" in turns[1] and "Графік відключень" in turns[1]


def test_the_last_used_account_is_preselected_and_offered_first(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        *LINKED,
        "/link",
        "2010000777",
        "62Z000000000777O",
        "покази",
        "Інший рахунок: 2010000232",
    )
    assert "Покази для рахунку 2010000777" in turns[8]
    assert "Інший рахунок: 2010000232" in turns[8]
    assert "одним повідомленням" in turns[8]
    assert "Покази для рахунку 2010000232" in turns[9]
    previous = last_billing_value(turns[9])
    turns = console.chat(user, str(previous + 130), "покази", "меню", "Історія оплат")
    assert "Покази прийнято" in turns[0]
    assert "Покази для рахунку 2010000232" in turns[1]  # remembered, in a new process too
    choice = buttons(turns[3])
    assert "2010000232" in choice[0] and "2010000777" in choice[1]


def test_the_reading_question_shows_what_was_submitted(console: Console) -> None:
    user = new_user()
    previous = last_billing_value(console.chat(user, *LINKED, "покази")[5])
    turns = console.chat(user, str(previous + 130), "покази", str(previous + 120))
    value = f"{(previous + 130) // 1000} {(previous + 130) % 1000:03d}"
    assert f"Ви вже передали покази 29.11.2026 о 10:00 (Чат-бот): {value}." in turns[1]
    assert "введіть правильні до 03.12.2026" in turns[1]
    assert "замінено" in turns[2] and "120 кВт·год" in turns[2]
    later = console.chat(user, "покази", now="2026-12-10T10:00:00+02:00")
    assert "з 30.12.2026 по 03.01.2027" in later[0]
    assert "Ви вже передали покази 29.11.2026 о 10:00 (Чат-бот)" in later[0]
    assert "Виправити їх уже не можна" in later[0]
