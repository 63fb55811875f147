"""Nothing silently lost, as a person would meet it in `kabinet demo` / `kabinet chat`, on
SQLite and PostgreSQL: payments across restarts, notification settings, answers to every
kind of request, long texts, and pushes shown in the console.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import IO

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
    return console.opened(user)


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


class Operator:
    """A real `kabinet serve` (operator API on, no messenger) on the test database."""

    def __init__(self, console: Console) -> None:
        self.port = free_port()
        self.token = "e2e-operator-token"
        env = console.env(ADMIN_TOKEN=self.token, KABINET_PORT=str(self.port), OCR_WORKERS="0")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--no-scheduler"],
            cwd=console.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "serving on" in line, line

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def newest(self, queue: str, person_text: str) -> dict:
        """The newest item of a queue whose text (or phone) the test wrote."""
        items = self.call("GET", f"/{queue}?limit=1000")["items"]
        return next(i for i in reversed(items) if person_text in json.dumps(i, ensure_ascii=False))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_answers_to_every_kind_of_request_are_kept_shown_and_pushed(console: Console) -> None:
    user = new_user()
    marker = user[-6:]
    turns = console.chat(
        user,
        *LINKED,
        "/callcenter",
        "Нове звернення",
        "Незрозумілий рахунок (консультація)",
        f"Чому рахунок такий великий? {marker}",
        "Надіслати",
        "/phone",
        "/contact +380994455889",
        "/services",
        "Замовити послугу",
        "Шум у електролічильнику",
        "Так, 0994455889",
        "Замовити",
        "/support",
        "Іван Іваненко",
        "Так, +380994455889",
        "Помилка в роботі бота",
        f"Не відкривається графік {marker}",
        "Надіслати",
    )
    assert "прийнято" in turns[9] and "прийнято" in turns[16] and "прийнято" in turns[-1]
    operator = Operator(console)
    try:
        cc = operator.newest("call-center-requests", marker)
        answered = operator.call(
            "POST", f"/call-center-requests/{cc['id']}/answer", {"answer": "Перераховано."}
        )
        assert answered["pushed"] is True
        order = next(
            o
            for o in reversed(operator.call("GET", "/free-service-orders?limit=1000")["items"])
            if o["person_id"] == cc["person_id"]
        )
        step = {"status": "in_progress", "answer": "Майстер прийде 2 грудня з 9:00 до 13:00"}
        operator.call("POST", f"/free-service-orders/{order['id']}/answer", step)
        support = operator.newest("support-requests", marker)
        operator.call("POST", f"/support-requests/{support['id']}/answer", {"answer": "Виправили."})
    finally:
        operator.close()
    # The answers were pushed: the chat shows them when it opens, as a messenger would.
    shown = opened(console, user)
    assert f"📞 Відповідь кол-центру на ваше звернення № {cc['id']}:\nПерераховано." in shown
    assert f"🛠 Замовлення № {order['id']} «Шум у електролічильнику»: В роботі." in shown
    assert f"💬 Відповідь технічної підтримки на ваше звернення № {support['id']}:" in shown
    # And they stay in the lists.
    lists = console.chat(user, "/callcenter", "/services", "/support")
    assert (
        "Статус: Виконано" in lists[0]
        and "Відповідь (29.11.2026 о 10:00): Перераховано." in lists[0]
    )
    assert "Статус: В роботі" in lists[1] and "Майстер прийде 2 грудня з 9:00 до 13:00" in lists[1]
    assert "Ваші звернення до технічної підтримки:" in lists[2]
    assert "Відповідь (29.11.2026 о 10:00): Виправили." in lists[2]


def test_a_push_shows_at_once_while_the_prompt_waits(console: Console) -> None:
    user = new_user()
    marker = user[-6:]
    console.chat(
        user,
        *LINKED,
        "/callcenter",
        "Нове звернення",
        "Перерахунок",
        f"Прошу перерахувати {marker}",
        "Надіслати",
    )
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--user", user],
        cwd=console.workdir,
        env=console.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = Reader(chat.stdout)
    try:
        assert out.until("> ") == ""  # nothing pending: the prompt waits for a line
        operator = Operator(console)
        try:
            request = operator.newest("call-center-requests", marker)
            operator.call(
                "POST", f"/call-center-requests/{request['id']}/answer", {"answer": "Зроблено."}
            )
        finally:
            operator.close()
        # Printed on its own line while waiting, then the prompt again (DESIGN.md §3).
        shown = out.until("> ")
        assert shown.startswith("\n📞 Відповідь кол-центру на ваше звернення № "), shown
        assert "Зроблено." in shown and shown.endswith("[1] Мої звернення\n[2] Меню\n")
        assert chat.stdin is not None
        chat.stdin.write("#1\n")
        chat.stdin.flush()
        assert "Відповідь (29.11.2026 о 10:00): Зроблено." in out.until("> ")
    finally:
        chat.kill()
        chat.wait()


class Reader:
    """Reads a process's output in a thread, so a test can wait for a text with a timeout."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.queue: queue.Queue[str] = queue.Queue()
        self.buffer = ""
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        while chunk := stream.read(1):
            self.queue.put(chunk)

    def until(self, end: str, timeout: float = 30.0) -> str:
        """Everything up to and without `end` (the prompt)."""
        deadline = time.monotonic() + timeout
        while end not in self.buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {end!r} in {self.buffer!r}"
            try:
                self.buffer += self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
        text, _, self.buffer = self.buffer.partition(end)
        return text


def test_the_call_centre_asks_which_account_the_last_used_first(console: Console) -> None:
    turns = console.chat(
        new_user(),
        *LINKED,
        "/add",
        "2010000777",
        "62Z000000000777O",
        "/callcenter",
        "Нове звернення",
        "2010000232 — вул. Кузьми Скрябіна, 39",
        "Незрозумілий рахунок (консультація)",
        "Поясніть рахунок за жовтень",
        "Надіслати",
        "Мої звернення",
        "Нове звернення",
    )
    ask = turns[9]
    assert "Щодо якого рахунку звернення?" in ask
    # The account linked last is the last used: offered first.
    assert ask.index("[1] 2010000777 — просп. Перемоги, 12") < ask.index("[2] 2010000232")
    assert "Звернення щодо рахунку 2010000232 — вул. Кузьми Скрябіна, 39." in turns[10]
    assert "прийнято" in turns[13]
    assert "Рахунок: 2010000232" in turns[14] and "Поясніть рахунок за жовтень" in turns[14]
    assert "[1] 2010000232 — вул. Кузьми Скрябіна, 39" in turns[15]


def test_long_texts_and_names_are_taken_or_kept(console: Console) -> None:
    question = "Прошу пояснити нарахування за жовтень і листопад. " * 100  # 5,000 characters
    name = "Олександра-Вікторія Ковальчук-Старицька " * 3 + "Іванівна"  # 128 characters
    turns = console.chat(
        new_user(),
        *LINKED,
        "/callcenter",
        "Нове звернення",
        "Незрозумілий рахунок (консультація)",
        question,
        "Надіслати",
        "/profile",
        "Змінити ім'я",
        name + " " + "Петрівна" * 3,
        "/support",
        "Надто довге ім'я " * 20,
        "Іван",
        "0501234567",
        "Інше",
        "а" * 10_500,
        "Надіслати перші 10 000 символів",
        "/support",
    )
    assert "Текст збережено (4 999 символів)" in turns[8]
    assert "прийнято" in turns[9]
    assert f"Ім'я: {name} ПетрівнаПетрівнаПетрівна" in turns[12]
    assert "Ім'я задовге: 339 символів, а можна до 300 символів" in turns[14]
    too_long = turns[18]
    assert "Текст задовгий: 10 500 символів, а можна до 10 000 символів" in too_long
    assert "[1] Надіслати перші 10 000 символів" in too_long and "Написати заново" in too_long
    assert "технічної підтримки № " in turns[19]
    assert "Текст: " + "а" * 299 + "…" in turns[20]
