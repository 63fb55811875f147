"""A real `kabinet serve` with LOG_FORMAT=json after a conversation through the fake Bot
API: every line of its log is a JSON object, the ids are there, and the log carries no
token, secret, phone number, EIC or full name."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from storage.database import make_engine
from storage.demo import seed_demo
from storage.migrate import migrate
from tests.channels.conftest import IN_WINDOW, TgUser
from tests.channels.fake_telegram import FakeTelegram, message_update

# A real `kabinet serve` process writes the log read here.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "webhook-secret_for-the-log-test"
ADMIN_TOKEN = "admin-token-for-the-log-test"
PHONE = "+380501234567"
NUMBER, EIC, FULL_NAME = "2010000232", "62Z000000000232T", "Іваненко Іван Іванович"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServedBot:
    """What tests.channels' TgUser needs: the fake Bot API and a way to post updates."""

    fake: FakeTelegram
    session: aiohttp.ClientSession
    url: str

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with self.session.post(self.url, json=update, headers=headers) as response:
            await response.read()
            return response.status


@pytest.fixture
async def demo_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kabinet.db'}"
    engine = make_engine(url)
    try:
        await migrate(engine)
        await seed_demo(engine, IN_WINDOW)
    finally:
        await engine.dispose()
    return url


async def _conversation(user: TgUser) -> None:
    assert "згода на обробку персональних даних" in await user.say("/start")
    await user.press("Погоджуюсь")
    await user.press("Додати особовий рахунок")
    await user.say(NUMBER)
    card = await user.say(EIC)
    assert FULL_NAME in card  # the bot shows it; the log must not
    await user.say("/phone")
    own = {"phone_number": PHONE, "first_name": "Іван", "user_id": user.user_id}
    await user.send(contact=own)
    assert "Стан рахунку" in await user.say("Баланс")
    again = message_update(user.user_id, text="Баланс")
    assert await user.post(again) and await user.post(again) == ""  # a redelivery: ignored
    assert await user.harness.post({"update_id": 1, "message": {}}, secret="wrong") == 401


async def _push_to_a_blocked_chat(session: aiohttp.ClientSession, port: int) -> None:
    """An emergency outage at the person's address, who blocked the bot meanwhile: the push
    is tried, Telegram answers 403, the person is marked unreachable (logged)."""
    outage = {
        "kind": "emergency",
        "dso_id": 1,
        "external_id": "log-test-1",
        "starts_at": IN_WINDOW.isoformat(),
        "ends_at": (IN_WINDOW + timedelta(hours=4)).isoformat(),
        "reason": "аварія",
        "targets": [{"settlement": "Київ", "street": "вул. Кузьми Скрябіна", "buildings": ["39"]}],
    }
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"http://127.0.0.1:{port}/api/v1/outages"
    async with session.post(url, json=outage, headers=headers) as response:
        assert response.status == 201, await response.text()


async def test_the_json_log_of_a_conversation_is_clean(demo_url: str, tmp_path: Path) -> None:
    fake = FakeTelegram()
    api_base = await fake.start()
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
    }
    env.update(
        DATABASE_URL=demo_url,
        KABINET_PORT=str(port),
        KABINET_NOW=IN_WINDOW.isoformat(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE=api_base,
        ADMIN_TOKEN=ADMIN_TOKEN,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",  # everything a process may write, not only what INFO shows
        PHOTOS_DIR=str(tmp_path / "photos"),
        BILLS_DIR=str(tmp_path / "bills"),
        OCR_WORKERS="0",
        PYTHONPATH=str(ROOT),
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
        try:
            assert process.stdout is not None
            banner = await asyncio.wait_for(process.stdout.readline(), 60)
            assert "channels on: telegram" in banner.decode()
            async with aiohttp.ClientSession() as session:
                bot = ServedBot(fake, session, f"http://127.0.0.1:{port}/webhook/telegram")
                user = TgUser(bot, 7_300_001)  # type: ignore[arg-type]
                await _conversation(user)
                fake.forbid(user.user_id)
                await _push_to_a_blocked_chat(session, port)
                for _ in range(200):  # the delivery worker tries it within a second or two
                    if '"push_id"' in log_path.read_text():
                        break
                    await asyncio.sleep(0.1)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
            await fake.close()
    assert process.returncode == 0

    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines, "the server logged nothing"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
    turns = [line for line in lines if "update_id" in line]
    assert turns and all("request_id" in line for line in turns), text
    pushes = [line for line in lines if "push_id" in line]
    assert any("unreachable" in str(line["message"]) for line in pushes), text
    for forbidden in (TOKEN, TOKEN.split(":")[1], SECRET, ADMIN_TOKEN, EIC, FULL_NAME, "Іваненко"):
        assert forbidden not in text, forbidden
    assert "501234567" not in re.sub(r"[\s()-]", "", text)  # the phone, however written
