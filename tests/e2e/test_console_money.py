"""Money through `kabinet chat`, on SQLite and PostgreSQL, as a person would talk:
paying by bank transfer when paying in the bot is off (details and the NBU QR code,
scanned back), what a balance means (overpaid, settled, due by a date, overdue), several
accounts on one balance screen, the readings of this period, the bill PDF (read back and
its QR code scanned), and the schedule picture and reminder settings.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator

import pytest
from PIL import Image
from pypdf import PdfReader

from tests.conftest import drop_postgres_database, new_postgres_database
from tests.e2e.conftest import Console, last_billing_value, new_user
from tests.e2e.test_console_cabinet import written_file
from tests.payment_qr import scan_pdf, scan_png

CONSENT = ("/start", "Погоджуюсь")
LINK_232 = ("Додати особовий рахунок", "2010000232", "62Z000000000232T")
LINK_777 = ("Додати особовий рахунок", "2010000777", "62Z000000000777O")
IBAN = "UA213223130000026007233566001"  # the demo supplier ТОВ «Демо Енергозбут»
BILL_DAY = "2026-12-06T09:00:00+02:00"  # November's bills were issued yesterday
AFTER_DUE = "2026-12-21T09:00:00+02:00"  # the day after they were due


def test_paying_in_the_bot_off_shows_bank_details_and_the_qr_code(console: Console) -> None:
    turns = console.chat(new_user(), *CONSENT, *LINK_232, "Сплатити")
    answer = turns[5]
    assert "Оплата карткою в боті зараз недоступна" in answer
    assert "Отримувач: ТОВ «Демо Енергозбут»" in answer
    assert f"IBAN: {IBAN}" in answer and "ЄДРПОУ: 32910079" in answer
    purpose = "Оплата за електроенергію, о/р 2010000232, період 10.2026"
    assert f"Призначення платежу: {purpose}" in answer
    # Nothing is owed: the code leaves the amount to the person.
    assert "Заборгованості немає, до сплати нічого." in answer and "суму впишіть вручну" in answer
    lines = scan_png(written_file(console, answer, "image"))
    assert lines[:9] == [
        "BCD",
        "002",
        "2",
        "UCT",
        "",
        "ТОВ «Демо Енергозбут»",
        IBAN,
        "",
        "32910079",
    ]
    assert lines[11] == purpose


def test_an_english_speaker_gets_the_purpose_in_ukrainian(console: Console) -> None:
    user = new_user()
    lines = [*CONSENT[:1], "I agree", "/link", *LINK_232[1:], "/pay"]
    result = console.run(
        "chat", "--user", user, "--locale", "en", stdin="".join(f"{x}\n" for x in lines)
    )
    assert result.returncode == 0, result.stderr
    answer = result.stdout.split("> ")[-2]
    assert "Paying by card in the bot is not available" in answer and f"IBAN: {IBAN}" in answer
    assert "Payment purpose: Оплата за електроенергію, о/р 2010000232, період 10.2026" in answer
    qr = scan_png(written_file(console, answer, "image"))
    assert qr[11] == "Оплата за електроенергію, о/р 2010000232, період 10.2026"


def test_an_advance_payment_reads_as_an_overpayment(console: Console) -> None:
    user = new_user()
    before = console.chat(user, *CONSENT, *LINK_777, "Баланс")[5]
    overpaid = re.search(r"Переплата ([\d ]+,\d\d) грн", before).group(1)
    topped_up = 250.50 - float(overpaid.replace(" ", "").replace(",", "."))
    rows = [
        {
            "account_number": "2010000777",
            "amount": f"{topped_up:.2f}",
            "paid_at": "2026-11-29T09:30:00+02:00",
            "provider": "bank",
            "provider_txn_id": f"advance-{uuid.uuid4().hex[:8]}",
        }
    ]
    (console.workdir / "advance.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")
    imported = console.run("import", "payments", "advance.json")
    assert imported.returncode == 0, imported.stderr
    balance, info, pay = console.chat(user, "Баланс", "Персональна інформація", "Сплатити")
    for answer in (balance, info, pay):
        assert "Переплата 250,50 грн" in answer
        assert "До сплати 0,00" not in answer and "Заборгованості немає" not in answer
    assert "Останній рахунок за жовтень 2026 — 1 008,72 грн, сплачено." in balance
    assert "Остання оплата: 209,22 грн від 29.11.2026" in balance
    assert "Сплатити" not in balance.split("[1]")[-1]  # nothing to pay, no pay button


def test_the_balance_shows_the_readings_of_this_period(console: Console) -> None:
    user = new_user()
    turns = console.chat(user, *CONSENT, *LINK_232, "Баланс", "Внести покази")
    assert "Покази за цей період ще не передано — їх приймають до 03.12.2026." in turns[5]
    assert "[1] Внести покази" in turns[5]
    value = last_billing_value(turns[6]) + 120
    turns = console.chat(user, str(value), "Баланс")
    assert "Покази прийнято" in turns[0]
    shown = f"{value // 1000} {value % 1000:03d}"
    assert f"Покази за цей період передано 29.11.2026 о 10:00: {shown}." in turns[1]
    assert "Внести покази" not in turns[1].split("\n[")[-1]


def test_several_accounts_on_one_balance_screen(console: Console) -> None:
    turns = console.chat(new_user(), *CONSENT, *LINK_232, *LINK_777, "скільки платити", "#2")
    screen = turns[8]
    assert screen.startswith("Баланс за вашими 2 рахунками:")
    first, second = screen.split("\n\n")[1:3]
    assert first.startswith("2010000232 — вул. Кузьми Скрябіна, 39")
    assert "Заборгованості немає, до сплати нічого." in first
    assert second.startswith("2010000777 — просп. Перемоги, 12") and "Переплата " in second
    # Readings of this period, per account (another test of this module may have sent 232's).
    assert "Покази за цей період" in first
    assert "Покази за цей період ще не передано — їх приймають до 03.12.2026." in second
    assert "За жодним рахунком нічого сплачувати не потрібно." in screen
    assert "[1] Детально: 2010000232" in screen and "[2] Детально: 2010000777" in screen
    assert "Сплатити" not in screen
    assert turns[9].startswith("Стан рахунку 2010000777 — просп. Перемоги, 12:")


def test_the_bill_pdf_says_what_was_carried_over_and_scans(console: Console) -> None:
    turns = console.chat(
        new_user(), *CONSENT, *LINK_777, "Архів рахунків", "10.2026 — 1 008,72 грн"
    )
    answer = turns[6]
    assert "Рахунок за жовтень 2026 — у файлі. Його сплачено." in answer
    assert "Сплатити" not in answer  # a paid bill has no pay button
    pdf = written_file(console, answer, "document")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in (
        "Рахунок за електроенергію за жовтень 2026",
        "Сальдо на початок періоду",
        "Покази й нарахування за зонами",
        "День ",
        "Ніч ",
        "4,32 грн",
        "2,16 грн",
        "Нараховано",
        "1 008,72 грн",
        "Сплатити до",
        "20.11.2026",
        "Оплата за QR-кодом",
        "Сума в коді: 1 008,72 грн.",
    ):
        assert expected in text, expected
    # Each zone's amount is its kWh at its price.
    day = re.search(r"День [\d ]+ [\d ]+ (\d+) 4,32 грн ([\d ]+,\d\d) грн", text)
    assert day, text
    kwh, amount = int(day.group(1)), day.group(2)
    assert f"{kwh * 4.32:,.2f}".replace(",", " ").replace(".", ",") == amount
    lines = scan_pdf(pdf)
    assert lines[6] == IBAN and lines[7] == "UAH1008.72"
    assert lines[11] == "Оплата за електроенергію, о/р 2010000777, період 10.2026"


def test_schedule_picture_only_of_what_is_published(console: Console) -> None:
    user = new_user()
    before = console.chat(user, *CONSENT, *LINK_232, "Графік відключень")[5]
    assert "графік ще не опубліковано" in before and "Картинка" not in before
    schedule = {
        "schedules": [
            {
                "groups": ["3.2"],
                "day": "2026-11-29",
                "intervals": [
                    {"from": "08:00", "to": "12:30", "state": "off"},
                    {"from": "16:00", "to": "18:00", "state": "maybe"},
                ],
                "published_at": "2026-11-29T06:00:00+02:00",
            }
        ]
    }
    (console.workdir / "schedule.json").write_text(json.dumps(schedule), encoding="utf-8")
    published = console.run("schedule", "publish", "schedule.json")
    assert published.returncode == 0, published.stderr
    screen, picture = console.chat(user, "Графік відключень", "Картинка")
    assert "[1] Картинка" in screen
    assert "Ще не опубліковано (на картинці немає): 3.2 · 30.11." in picture
    image = Image.open(io.BytesIO(written_file(console, picture, "image"))).convert("RGB")
    # One bar (today) is drawn: the figure is 1.4 + 0.5 inches high at 110 dpi.
    assert image.height == round((1.4 + 0.5) * 110)
    colours = {colour for _, colour in image.getcolors(maxcolors=1_000_000)}
    # Off, possible, on, and the red "now" line.
    assert {(0x26, 0x32, 0x38), (0xFF, 0xB3, 0x00), (0xA5, 0xD6, 0xA7), (0xD3, 0x2F, 0x2F)} <= (
        colours
    )


def test_reminder_settings_tick_what_is_on(console: Console) -> None:
    turns = console.chat(
        new_user(),
        *CONSENT,
        *LINK_232,
        "Графік відключень",
        "Нагадування",
        "За 15 хвилин",
        "23:00–08:00",
    )
    assert "[3] ✓ За 30 хвилин" in turns[6] and "✓ Без тихих годин" in turns[6]
    assert "✓ За 15 хвилин" in turns[7] and "✓ За 30 хвилин" not in turns[7]
    assert "✓ 23:00–08:00" in turns[8] and "✓ Без тихих годин" not in turns[8]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def december(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """The demo seeded on the day November's bills were issued, nobody has paid yet."""
    workdir = tmp_path_factory.mktemp("december")
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'kabinet.db'}"
    else:
        name = f"kabinet_dec_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        url = new_postgres_database(name)
    console = Console(url, workdir, now=BILL_DAY)
    seeded = console.run("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    yield console
    if name is not None:
        drop_postgres_database(name)


def test_on_the_day_a_bill_is_issued_it_is_due_by_its_date_not_a_debt(december: Console) -> None:
    user = new_user()
    turns = december.chat(user, *CONSENT, *LINK_232, "Баланс", "Архів рахунків", "#1")
    balance = turns[5]
    due = re.search(r"До сплати ([\d ]+,\d\d) грн до 20\.12\.2026\.", balance)
    assert due, balance
    assert "аборгован" not in balance and "Переплата" not in balance
    assert "Останній рахунок за листопад 2026 — " in balance and "сплатити до 20.12.2026" in balance
    assert f"[1] Сплатити {due.group(1)} грн" in balance
    bill = turns[7]
    owed = due.group(1)
    assert f"Рахунок за листопад 2026 — у файлі. До сплати {owed} грн до 20.12.2026." in bill
    assert "[1] Сплатити" in bill
    transfer = december.chat(user, "Сплатити")[0]
    assert f"Сума: {due.group(1)} грн" in transfer
    amount = due.group(1).replace(" ", "").replace(",", ".")
    assert scan_png(written_file(december, transfer, "image"))[7] == f"UAH{amount}"


def test_after_the_due_date_it_is_a_debt(december: Console) -> None:
    user = new_user()
    december.chat(user, *CONSENT, *LINK_232)
    balance = december.chat(user, "Баланс", now=AFTER_DUE)[0]
    assert re.search(r"Заборгованість [\d ]+,\d\d грн: термін сплати минув 20\.12\.2026\.", balance)
    assert "Заборгованості немає" not in balance


def test_several_accounts_each_with_its_pay_button(december: Console) -> None:
    turns = december.chat(new_user(), *CONSENT, *LINK_232, *LINK_777, "скільки платити", "#2")
    screen = turns[8]
    amounts = re.findall(r"До сплати ([\d ]+,\d\d) грн до 20\.12\.2026\.", screen)
    assert len(amounts) == 2, screen
    assert f"[1] Сплатити {amounts[0]} грн · 2010000232" in screen
    assert f"[2] Сплатити {amounts[1]} грн · 2010000777" in screen
    total = sum(float(a.replace(" ", "").replace(",", ".")) for a in amounts)
    shown = f"{total:,.2f}".replace(",", " ").replace(".", ",")
    assert f"Разом до сплати: {shown} грн." in screen
    # The second button pays the second account: its bank transfer.
    assert "Оплата переказом за рахунком 2010000777" in turns[9]
