"""Nothing silently lost, as a person would meet it in `kabinet demo` / `kabinet chat`, on
SQLite and PostgreSQL: payments across restarts, notification settings, answers to every
kind of request, long texts, and pushes shown in the console.
"""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import Console, new_user

LINKED = ("/start", "Погоджуюсь", "/add", "2010000232", "62Z000000000232T")

PAID = re.compile(r"Дякуємо! Оплату ([\d ]+,\d\d) грн за рахунком 2010000232")
RECEIPT = re.compile(r"\[document: (kabinet-out/(\d{3})-kvytantsiia-2010000232-[\d-]+\.pdf)\]")


def test_demo_restarted_between_two_payments_thanks_for_both(console: Console) -> None:
    first = console.demo(
        "/start", "Погоджуюсь", "/add", "2010000232", "62Z000000000232T", "/pay", "500", "#1"
    )
    assert PAID.findall(first[-1]) == ["500,00"], first[-1]
    # The process ends; a new one (its own fake EasyPay) takes the next payment.
    second = console.demo("/pay", "300", "#1")
    assert PAID.findall(second[-1]) == ["300,00"], second[-1]
    assert "не вдалося" not in second[-1]
    receipts = [RECEIPT.search(first[-1]), RECEIPT.search(second[-1])]
    assert all(receipts), (first[-1], second[-1])
    # Files of the second run are numbered on from the first's: none is overwritten.
    paths = [match.group(1) for match in receipts if match]
    assert len(set(paths)) == 2 and all((console.workdir / path).exists() for path in paths)
    history = console.demo("/payments")[0]
    assert "500,00" in history and "300,00" in history, history


def publish_schedule(console: Console, day: str, slots: str) -> None:
    """`kabinet schedule publish` for group 3.2 (the group of account 2010000232)."""
    path = console.workdir / f"schedule-{day}.json"
    path.write_text(json.dumps({"schedules": [{"groups": ["3.2"], "day": day, "slots": slots}]}))
    result = console.run("schedule", "publish", str(path))
    assert result.returncode == 0, result.stderr


def opened(console: Console, user: str) -> str:
    """What a chat shows when it opens, before the person types anything."""
    result = console.run("chat", "--user", user, stdin="/quit\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.split("> ")[0]


def test_notification_switches_in_the_console_keep_pushes_coming(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user,
        *LINKED,
        "/notifications",
        "✅ Нові рахунки",
        "✅ Консоль — цей чат",
        "Ні, залишити",
    )
    settings, saved, ask, kept = turns[5:]
    assert "Куди надсилаємо: Консоль." in settings and "✅ Консоль — цей чат" in settings
    assert "Збережено." in saved and "⬜ Нові рахунки" in saved
    assert "✅ Консоль — цей чат" in saved
    # Turning the last channel off asks first and names what would stop arriving.
    assert "Вимкнути всі канали? Тоді не надходитимуть:" in ask
    assert "• Планові відключення й графіки" in ask and "• Нові рахунки" not in ask
    assert "Підтвердження оплат і відповіді на ваші звернення надходитимуть" in ask
    assert "✅ Консоль — цей чат" in kept
    # A schedule published by an operator reaches the person after the switch was pressed.
    publish_schedule(console, "2026-11-30", "-" * 8 + "+" * 40)
    shown = opened(console, user)
    assert "Графік на завтра, 30.11.2026, для черги 3.2" in shown, shown


def test_every_channel_off_after_confirming_silences_alerts_only(console: Console) -> None:
    user = new_user()
    turns = console.chat(
        user, *LINKED, "/notifications", "✅ Консоль — цей чат", "Так, вимкнути всі"
    )
    assert "Усі канали вимкнено" in turns[-1] and "⬜ Консоль — цей чат" in turns[-1]
    publish_schedule(console, "2026-12-01", "+" * 16 + "-" * 8 + "+" * 24)
    assert "Графік" not in opened(console, user)
