"""The operator API on a real server (aiohttp's test client) over SQLite and PostgreSQL.

`api` builds the whole application as `kabinet serve` does (settings → App → web app) with
ADMIN_TOKEN set, a frozen clock and a temporary bills directory; `world` adds references,
accounts and persons straight into the tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.compose import App, build_app
from app.server import build_web_app
from app.settings import Settings
from core.clock import FrozenClock
from storage.outbox import outbox
from tests.pushes.world import Builder

TOKEN = "operator-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.fromisoformat("2026-11-27T12:00:00+02:00")


def settings_for(database_url: str, bills_dir: Path, token: str | None = TOKEN) -> Settings:
    """Settings of a test server: no OCR processes, no channels."""
    return Settings(
        database_url=database_url,
        admin_token=token,
        bills_dir=str(bills_dir),
        photos_dir=str(bills_dir.parent / "photos"),
        ocr_workers=0,
        _env_file=None,  # type: ignore[call-arg]
    )


@dataclass
class Api:
    """The client, the app behind it and the bills directory."""

    client: TestClient
    app: App
    bills_dir: Path
    clock: FrozenClock

    async def call(
        self, method: str, path: str, *, status: int | None = None, **kwargs: Any
    ) -> Any:
        """Call with the token; check the status when given; the JSON (or text) answer."""
        headers = {**AUTH, **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        body = (
            await response.json()
            if response.content_type == "application/json"
            else await response.text()
        )
        if status is not None:
            assert response.status == status, (response.status, body)
        return body


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The operator API of a fully built app on the test database."""
    async with serving(settings_for(database_url, tmp_path / "bills"), tmp_path) as served:
        yield served


@asynccontextmanager
async def serving(settings: Settings, tmp_path: Path) -> AsyncIterator[Api]:
    """A fully built app with `settings` behind a test client, its clock frozen at NOW."""
    clock = FrozenClock(NOW)
    app = await build_app(settings, clock=clock)
    client = TestClient(TestServer(build_web_app(app, []), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Api(client, app, tmp_path / "bills", clock)
    finally:
        await client.close()
        await app.close()


@pytest.fixture
async def world(engine: AsyncEngine) -> Builder:
    """References (a DSO, a supplier) in place; accounts and persons on request."""
    made = Builder(engine)
    await made.references()
    return made


async def rows(engine: AsyncEngine, table: Any, *where: Any) -> list[dict]:
    """Rows of a table as dicts, by id."""
    async with engine.connect() as connection:
        query = select(table).where(*where).order_by(table.c.id)
        return [dict(row._mapping) for row in await connection.execute(query)]


async def outbox_rows(engine: AsyncEngine, event_prefix: str = "") -> list[dict]:
    """Outbox rows of events starting with a prefix."""
    return await rows(engine, outbox, outbox.c.event.startswith(event_prefix))
