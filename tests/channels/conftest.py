"""Telegram harness: the real aiogram bot, a local fake Bot API, the real web app, a demo DB.

A demo database (migrated and seeded once per module) backs the app; every test talks as
its own Telegram user, so tests do not see each other's conversations.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.compose import App, build_app, telegram_channel
from app.server import build_web_app
from app.settings import Settings, load_settings
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.messages import Incoming, Reply
from core.clock import FrozenClock
from storage.database import make_engine
from storage.demo import seed_demo
from storage.migrate import migrate
from tests.channels.fake_telegram import (
    TOKEN,
    FakeTelegram,
    callback_update,
    message_update,
)
from tests.conftest import drop_postgres_database, new_postgres_database

if TYPE_CHECKING:
    from tests.channels.fake_graph import MessengerHarness
    from tests.channels.fake_viber import ViberHarness

SECRET = "test-secret_123"
IN_WINDOW = datetime.fromisoformat("2026-11-29T10:00:00+02:00")
OUTSIDE_WINDOW = datetime.fromisoformat("2026-11-15T10:00:00+02:00")
_users = itertools.count(7_000_001)


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        await seed_demo(engine, IN_WINDOW)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def sqlite_demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database with the demo data."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('tg') / 'kabinet.db'}"
    asyncio.run(_seed(url))
    return url


@pytest.fixture(scope="module")
def postgres_demo_url() -> Iterator[str]:
    """A fresh PostgreSQL database with the demo data (skipped without a server)."""
    name = f"kabinet_tg_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = new_postgres_database(name)
    try:
        asyncio.run(_seed(url))
        yield url
    finally:
        drop_postgres_database(name)


def telegram_settings(database_url: str, api_base: str, **extra: Any) -> Settings:
    """Settings with Telegram on, pointed at the fake server."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "telegram_bot_token": TOKEN,
        "telegram_webhook_secret": SECRET,
        "telegram_api_base": api_base,
        "telegram_mode": "webhook",
        "public_base_url": "https://kabinet.example",
        "kabinet_now": None,
    }
    values.update(extra)
    return load_settings(**values)


@dataclass
class Harness:
    """The running bot: post updates to its webhook, look at what it called."""

    fake: FakeTelegram
    client: TestClient
    app: App
    channel: TelegramChannel
    events: list[Incoming] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        """POST an update to /webhook/telegram; the HTTP status."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = await self.client.post(WEBHOOK_PATH, json=update, headers=headers)
        await response.read()
        return response.status

    def user(self, language: str = "uk") -> TgUser:
        """A new person talking to the bot."""
        return TgUser(self, next(_users), language)


@dataclass
class TgUser:
    """One Telegram user: says things, presses buttons, sees the bot's messages."""

    harness: Harness
    user_id: int
    language: str = "uk"
    last: list[Any] = field(default_factory=list)  # the bot's message calls of the last turn
    buttons: list[dict[str, Any]] = field(default_factory=list)
    last_message_id: int = 0

    @property
    def text(self) -> str:
        return "\n".join(call.text for call in self.last)

    async def post(self, update: dict[str, Any]) -> str:
        """Post an update and collect the bot's messages to this chat."""
        fake = self.harness.fake
        before = len(fake.calls)
        status = await self.harness.post(update)
        assert status == 200
        methods = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}
        self.last = [
            call
            for call in fake.calls[before:]
            if call.method in methods and call.chat_id == self.user_id
        ]
        for call in self.last:
            if call.buttons:
                self.buttons = call.buttons
                self.last_message_id = call.message_id or 0
        return self.text

    async def say(self, text: str, **content: Any) -> str:
        """Send a text message (or other content)."""
        return await self.post(
            message_update(self.user_id, text=text, language=self.language, **content)
        )

    async def send(self, **content: Any) -> str:
        """Send a message without text (photo=..., contact=..., sticker=...)."""
        return await self.post(message_update(self.user_id, language=self.language, **content))

    async def press(self, label: str) -> str:
        """Press the inline button whose label contains `label`."""
        for button in self.buttons:
            if label in button["text"] and "callback_data" in button:
                return await self.post(
                    callback_update(
                        self.user_id,
                        button["callback_data"],
                        message_id=self.message_id_of(button),
                        keyboard=self.buttons,
                        language=self.language,
                    )
                )
        raise AssertionError(f"no button {label!r} in {[b['text'] for b in self.buttons]}")

    def message_id_of(self, button: dict[str, Any]) -> int:
        """The message id the fake server gave the message that carried `button`."""
        for call in reversed(self.harness.fake.calls):
            if call.chat_id == self.user_id and button in call.buttons:
                return call.message_id or 1
        return 1

    def labels(self) -> list[str]:
        return [button["text"] for button in self.buttons]

    def standing(self) -> list[str]:
        """The keys of the persistent reply keyboard in view in this chat (none if another
        reply keyboard replaced it or it was removed)."""
        for call in reversed(self.harness.fake.calls):
            markup = call.params.get("reply_markup") if call.chat_id == self.user_id else None
            if not markup or "inline_keyboard" in markup:
                continue
            if markup.get("is_persistent") and "keyboard" in markup:
                return [key["text"] for row in markup["keyboard"] for key in row]
            return []
        return []

    async def tap(self, label: str) -> str:
        """Press a key of the persistent reply keyboard: Telegram sends its label as text."""
        key = next((key for key in self.standing() if label in key), None)
        assert key is not None, (label, self.standing())
        return await self.say(key)


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[HarnessFactory]:
    """Start a bot on a database: `await make_harness(url, now=..., mode=..., handle=...)`."""
    started: list[tuple[Harness, FakeTelegram]] = []

    async def make(
        database_url: str,
        *,
        now: datetime = IN_WINDOW,
        wrap: Callable[[Callable[[Incoming], Awaitable[list[Reply]]]], Any] | None = None,
        typing_after: float = 1.0,
        **settings: Any,
    ) -> Harness:
        fake = FakeTelegram()
        base = await fake.start()
        app = await build_app(
            telegram_settings(database_url, base, **settings), clock=FrozenClock(now)
        )
        events: list[Incoming] = []
        sleeps: list[float] = []

        async def recording(event: Incoming) -> list[Reply]:
            events.append(event)
            return await app.handle(event)

        async def no_wait(seconds: float) -> None:
            sleeps.append(seconds)

        channel = telegram_channel(
            app.settings,
            handle=wrap(recording) if wrap else recording,
            mark_unreachable=app.mark_unreachable,
            catalogues=app.catalogues,
            metrics=app.metrics,
            memories=app.memories,
            sleep=no_wait,  # waits are recorded, not slept: the suite stays fast
            typing_after=typing_after,
        )
        client = TestClient(TestServer(build_web_app(app, [channel])))
        await client.start_server()
        harness = Harness(fake, client, app, channel, events, sleeps)
        started.append((harness, fake))
        return harness

    yield make
    for harness, fake in started:
        await harness.client.close()
        await harness.app.close()
        await fake.close()


@pytest.fixture
async def tg(make_harness: HarnessFactory, sqlite_demo_url: str) -> Harness:
    """The bot on the SQLite demo database, in the reading window."""
    return await make_harness(sqlite_demo_url)


def jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG made with Pillow."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((4, 4), "04920", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


# ---- Viber and Messenger harnesses (tests/channels/fake_viber.py, fake_graph.py) ---------

ViberFactory = Callable[..., Awaitable["ViberHarness"]]
MessengerFactory = Callable[..., Awaitable["MessengerHarness"]]


@pytest.fixture
async def make_viber() -> AsyncIterator[ViberFactory]:
    """Start the bot with Viber on: `await make_viber(url, now=..., **settings)`."""
    from tests.channels.fake_viber import close_harnesses, make_viber_harness

    started: list[Any] = []

    async def make(url: str, now: datetime = IN_WINDOW, **settings: Any) -> ViberHarness:
        return await make_viber_harness(url, now=now, started=started, **settings)

    yield make
    await close_harnesses(started)


@pytest.fixture
async def vb(make_viber: ViberFactory, sqlite_demo_url: str) -> ViberHarness:
    """The bot with Viber on the SQLite demo database, in the reading window."""
    return await make_viber(sqlite_demo_url)


@pytest.fixture
async def make_messenger() -> AsyncIterator[MessengerFactory]:
    """Start the bot with Messenger on: `await make_messenger(url, now=..., **settings)`."""
    from tests.channels.fake_graph import make_messenger_harness
    from tests.channels.fake_viber import close_harnesses

    started: list[Any] = []

    async def make(url: str, now: datetime = IN_WINDOW, **settings: Any) -> MessengerHarness:
        return await make_messenger_harness(url, now=now, started=started, **settings)

    yield make
    await close_harnesses(started)


@pytest.fixture
async def fb(make_messenger: MessengerFactory, sqlite_demo_url: str) -> MessengerHarness:
    """The bot with Messenger on the SQLite demo database, in the reading window."""
    return await make_messenger(sqlite_demo_url)
