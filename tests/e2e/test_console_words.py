"""Issue 14, point 12, as conversations through `kabinet chat` on SQLite and PostgreSQL:
counts with their plural forms in both languages, moments and spans as people say them,
readings without zone names on a one-zone meter and with clean ones on a two-zone meter,
the grid operator's reason labelled in English, and a help that names every menu entry.

The last test publishes an outage; the tests before it count the demo's own outages.
"""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import Console, last_billing_value, new_user

CONSENT = ("/start", "Погоджуюсь")
LINK_232 = ("Додати особовий рахунок", "2010000232", "62Z000000000232T")
LINK_777 = ("/link", "2010000777", "62Z000000000777O")
ADD_777 = ("Додати особовий рахунок", "2010000777", "62Z000000000777O")
ENGLISH = ("/language", "English")


def buttons(turn: str) -> list[str]:
    """The labels of a turn's buttons, as the console prints them ("[3] Label")."""
    return [re.sub(r"^\[\d+\] ", "", line) for line in turn.splitlines() if line.startswith("[")]


def grouped(value: int, separator: str = " ") -> str:
    """A number as the bot writes it: "19 700" (Ukrainian) or "19,700" (English)."""
    return f"{value:,}".replace(",", separator)


def two_zone_billing(turn: str) -> tuple[int, int]:
    """Day and night of the last billing reading, as a two-zone reading question shows them."""
    match = re.search(r"\): (?:день|day) ([\d ,]+), (?:ніч|night) ([\d ,]+)\.", turn)
    assert match, turn
    day, night = (int(re.sub(r"\D", "", value)) for value in match.groups())
    return day, night


def test_counts_in_ukrainian(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        *CONSENT,
        "Додати особовий рахунок",
        "2010000232",
        "62Z00000000023T",  # one character short
        "62Z000000000232T",
        "покази",
        "1234567",
        "меню",
        "/consumption",
        "/accounts",
        "графік",
        "Нагадування",
        "/join",
    )
    assert "він має містити рівно 16 символів, а введено 15 символів" in turns[4]
    assert "На лічильнику 6 цифр, а введено більше." in turns[7]
    assert re.search(r"Усього за 10 місяців: [\d ]+ кВт·год", turns[9]), turns[9]
    assert turns[10].startswith("У вас 1 особовий рахунок. Оберіть рахунок:")
    assert (
        "Крім графіка, за вашою адресою чи чергою є ще 2 планові відключення"
        " — деталі в «Аварійні та планові»."
    ) in turns[11]
    assert "Перед відключенням: за 30 хвилин" in turns[12]
    assert buttons(turns[12])[:4] == ["Вимкнено", "За 15 хвилин", "✓ За 30 хвилин", "За 60 хвилин"]
    assert "Код діє 15 хвилин і лише один раз." in turns[13]
    turns = console.chat(
        user,
        *LINK_777,
        "/accounts",
        "графік",
        "/callcenter",
        "Нове звернення",
        "#1",
        "Незрозумілий рахунок (консультація)",
        "Поясніть рахунок, будь ласка",
    )
    assert turns[3].startswith("У вас 2 особові рахунки. Оберіть рахунок:")
    # The emergency outage on просп. Перемоги and the two planned ones at 232's address.
    assert (
        "Крім графіка, за адресами й чергами ваших рахунків є ще 1 аварійне відключення"
        " та 2 планові відключення — деталі в «Аварійні та планові»."
    ) in turns[4]
    assert "Текст збережено (28 символів)." in turns[-1]
    assert "разом до 10 000 символів" in turns[-2]


def test_counts_in_english(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        *CONSENT,
        *ENGLISH,
        "Add an account",
        "2010000232",
        "62Z000000000232",
        "62Z000000000232T",
        "readings",
        "1234567",
        "menu",
        "/consumption",
        "/accounts",
        "schedule",
        "Reminders",
        "/join",
    )
    assert "it has exactly 16 characters, and 15 characters were entered" in turns[6]
    assert "The meter has 6 digits, but more were entered." in turns[9]
    assert re.search(r"Total for 10 months: [\d,]+ kWh", turns[11]), turns[11]
    assert turns[12].startswith("You have 1 account. Choose one:")
    assert (
        "Besides the schedule, your address or group also has 2 planned outages"
        ' — details under "Emergency and planned".'
    ) in turns[13]
    assert "Before power goes off: 30 minutes before" in turns[14]
    assert buttons(turns[14])[:4] == [
        "Off",
        "15 minutes before",
        "✓ 30 minutes before",
        "60 minutes before",
    ]
    assert "The code works once, for 15 minutes." in turns[15]
    turns = console.chat(user, *LINK_777, "/accounts")
    assert turns[3].startswith("You have 2 accounts. Choose one:")


def test_a_one_zone_reading_names_no_zone(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *CONSENT, *LINK_232, "покази")
    prompt = turns[5]
    previous = last_billing_value(prompt)
    assert f"Останні розрахункові покази (01.11.2026): {grouped(previous)}.\n" in prompt
    assert "Введіть поточні покази лічильника — ціле число кВт·год:" in prompt
    assert "Зона" not in prompt and "день" not in prompt and "наприклад" not in prompt
    value = previous + 51
    turns = console.chat(user, str(value), "Баланс", "/meter", "покази")
    assert (
        f"{grouped(value)} → спожито 51 кВт·год × 4,32 грн = 220,32 грн"
        " — орієнтовна сума до сплати."
    ) in turns[0]
    assert f"Покази за цей період передано 29.11.2026 о 10:00: {grouped(value)}." in turns[1]
    assert "Покази при встановленні: 4 920\n" in turns[2] and "Зонність: однозонний" in turns[2]
    assert "Розрядність: 6 цифр" in turns[2]
    # A moment, as people say it: the date, then "о" and the time.
    assert f"Ви вже передали покази 29.11.2026 о 10:00 (Чат-бот): {grouped(value)}." in turns[3]
    for turn in turns:
        assert "Зона 1" not in turn and "(день)" not in turn


def test_a_two_zone_reading_names_its_zones_cleanly(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *CONSENT, *ADD_777, "покази")
    prompt = turns[5]
    day, night = two_zone_billing(prompt)
    assert "Введіть поточні покази денної зони — ціле число кВт·год:" in prompt
    assert (
        "Можна й усі зони одним повідомленням, через «/», у такому порядку: день / ніч." in prompt
    )
    turns = console.chat(user, str(day + 100), str(night - 1), str(night + 50), "Баланс")
    assert "Введіть поточні покази нічної зони — ціле число кВт·год:" in turns[0]
    assert f"Покази нічної зони не можуть бути меншими за попередні — {grouped(night)}." in turns[1]
    accepted = turns[2]
    assert f"• день: {grouped(day + 100)} → спожито 100 кВт·год × 4,32 грн = 432,00 грн" in accepted
    assert f"• ніч: {grouped(night + 50)} → спожито 50 кВт·год × 2,16 грн = 108,00 грн" in accepted
    assert "Разом: 150 кВт·год, орієнтовна сума до сплати 540,00 грн." in accepted
    assert (
        f"передано 29.11.2026 о 10:00: день {grouped(day + 100)}, ніч {grouped(night + 50)}."
        in turns[3]
    )
    for turn in (prompt, *turns):
        assert "Зона" not in turn and "((" not in turn and "))" not in turn
    # The same in English.
    turns = console.chat(user, *ENGLISH, "readings", f"{day + 100} / {night + 50}")
    assert "Enter the current reading of the day zone — a whole number of kWh:" in turns[2]
    assert 'separated by "/", in this order: day / night.' in turns[2]
    assert (
        f"• day: {grouped(day + 100, ',')} → 100 kWh consumed × UAH 4.32 = UAH 432.00" in turns[3]
    )
    assert "Total: 150 kWh, estimated charge UAH 540.00." in turns[3]


def test_help_names_every_menu_entry(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *CONSENT, "довідка", *LINK_232, "довідка", *ENGLISH, "help")
    newcomer, linked, english = turns[2], turns[6], turns[9]
    # Every entry of the menu shown under the help is named in it, by its label.
    for turn in (newcomer, linked):
        entries = buttons(turn)
        assert len(entries) == 8
        for label in entries:
            assert f"«{label}»" in turn, label
        for below in ("«Історія показів»", "«Архів рахунків»", "«Сповіщення»", "«Картинка»"):
            assert below in turn
    assert "«➕ Додати особовий рахунок»" in newcomer and "«👤 Мої рахунки»" in linked
    for label in buttons(english):
        assert f'"{label}"' in english, label
    assert '"Notifications"' in english and '"Call centre"' in english
    # What the help names can be typed: a sub-entry's label leads there.
    turns = console.chat(user, "Notifications", "Мова / Language")
    assert turns[0].startswith("Notifications: where and what we send.")
    assert "[1] Українська" in turns[1]


def test_outage_times_and_the_operators_reason(console: Console) -> None:
    """The demo's planned outages as a list, then an emergency one across midnight as a
    push, in Ukrainian and in English (the reason stays as the grid operator wrote it)."""
    uk_user, en_user = new_user(), new_user()
    turns = console.chat(uk_user, *CONSENT, *ADD_777, "/outages")
    listed = turns[5]
    assert "Аварійні відключення:\n• 29.11.2026 з 08:00 до 12:00" in listed
    assert "Причина: Пошкодження кабельної лінії" in listed
    assert re.search(r"Дані оновлено \d\d\.\d\d\.2026 о \d\d:\d\d\.", listed), listed
    turns = console.chat(en_user, *CONSENT, *ENGLISH, "Add an account", *LINK_777[1:], "/outages")
    listed = turns[-1]
    assert "Emergency outages:\n• 29.11.2026 from 08:00 to 12:00" in listed
    assert "Reason (as given by the grid operator): Пошкодження кабельної лінії" in listed
    assert re.search(r"Data updated on \d\d\.\d\d\.2026 at \d\d:\d\d\.", listed), listed
    outage = {
        "kind": "emergency",
        "dso_id": 1,  # the demo's first grid operator, which serves Kyiv
        "external_id": f"words-{uk_user}",
        "starts_at": "2026-11-29T22:00:00+02:00",
        "ends_at": "2026-11-30T06:00:00+02:00",
        "reason": "Аварійний ремонт кабелю",
        "targets": [{"settlement": "Київ", "street": "просп. Перемоги", "buildings": ["12"]}],
    }
    (console.workdir / "outage.json").write_text(json.dumps(outage), encoding="utf-8")
    published = console.run("outage", "publish", "outage.json")
    assert published.returncode == 0, published.stderr
    # Queued while no chat was open: shown when the chat opens, as a messenger would.
    shown = console.opened(uk_user)
    assert "🚨 Аварійне відключення електроенергії" in shown
    assert "Коли: з 29.11.2026 22:00 до 30.11.2026 06:00" in shown
    assert "Причина: Аварійний ремонт кабелю" in shown
    shown = console.opened(en_user)
    assert "🚨 Emergency power outage" in shown
    assert "When: from 29.11.2026 22:00 to 30.11.2026 06:00" in shown
    assert "Reason (as given by the grid operator): Аварійний ремонт кабелю" in shown
