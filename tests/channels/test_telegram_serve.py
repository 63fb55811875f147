"""`kabinet serve` as operators run it: a real process, Telegram on by its settings alone."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.channels.conftest import SECRET
from tests.channels.fake_telegram import TOKEN, FakeTelegram, message_update

# Starts `kabinet serve`: the e2e tier.
pytestmark = pytest.mark.e2e


ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_kabinet_serve_answers_telegram_updates(sqlite_demo_url: str) -> None:
    fake = FakeTelegram()
    api_base = await fake.start()
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
    }
    env.update(
        DATABASE_URL=sqlite_demo_url,
        KABINET_PORT=str(port),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE=api_base,
        PYTHONPATH=str(ROOT),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--no-scheduler",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 60)
        assert "channels on: telegram" in banner.decode()
        url = f"http://127.0.0.1:{port}/webhook/telegram"
        async with aiohttp.ClientSession() as session:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            update = message_update(7_200_001, text="/start")
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status == 200
            async with session.post(url, json=update, headers={}) as response:
                assert response.status == 401
        (sent,) = fake.calls_of("sendMessage", 7_200_001)
        assert "згода на обробку персональних даних" in sent.text
        assert len(fake.calls_of("setMyCommands")) == 3
        assert fake.calls_of("setWebhook") == []  # no PUBLIC_BASE_URL
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
        await fake.close()
    assert process.returncode == 0
