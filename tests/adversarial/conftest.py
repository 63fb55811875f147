"""A server with every inbound route on (three messengers against their fakes, EasyPay,
the operator API, media), in this process: `everything` (issue 18, points 7, 8 and 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from app.compose import App, build_app, build_channels
from app.server import build_web_app
from app.settings import load_settings
from tests.adversarial.attacks import everything_on

# Fixtures of the Telegram harness, used here too.
from tests.channels.conftest import make_harness, postgres_demo_url, sqlite_demo_url  # noqa: F401
from tests.channels.fake_graph import FakeGraph
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_viber import FakeViber


@dataclass
class Everything:
    """The running server, its app and the fake Bot API."""

    server: TestServer
    app: App
    telegram: FakeTelegram

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port


@pytest.fixture
async def everything(sqlite_demo_url: str, tmp_path: Path) -> AsyncIterator[Everything]:  # noqa: F811
    """Every channel on, on the SQLite demo database, on 127.0.0.1."""
    telegram, viber, graph = FakeTelegram(), FakeViber(), FakeGraph()
    env = everything_on(await telegram.start(), await viber.start(), await graph.start())
    settings = load_settings(
        database_url=sqlite_demo_url,
        kabinet_now=None,
        public_base_url=None,
        photos_dir=str(tmp_path / "photos"),
        bills_dir=str(tmp_path / "bills"),
        **{name.lower(): value for name, value in env.items()},
    )
    app = await build_app(settings)
    server = TestServer(build_web_app(app, build_channels(app)), host="127.0.0.1")
    await server.start_server()
    try:
        yield Everything(server, app, telegram)
    finally:
        await server.close()
        await app.close()
        for fake in (telegram, viber, graph):
            await fake.close()
