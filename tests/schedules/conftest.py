"""Fixtures of the schedule tests: a frozen app on the test database, a world in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.compose import App, build_app
from app.settings import load_settings
from core.clock import FrozenClock
from tests.api.conftest import api  # noqa: F401 (the operator API fixture, for test_operator)
from tests.pushes.world import Builder

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=KYIV)
SAMPLE = Path(__file__).with_name("community_sample.json")


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = load_settings(database_url=database_url, ocr_workers=0, kabinet_now=None)
    built = await build_app(settings, clock=FrozenClock(MONDAY))
    yield built
    await built.close()


@pytest.fixture
async def builder(engine) -> Builder:  # type: ignore[no-untyped-def]
    made = Builder(engine)
    await made.references()
    return made


@pytest.fixture
async def world(builder: Builder) -> Builder:
    """me (3.2, console), other (3.1, console), far (12.1, telegram), each consented."""
    await builder.account("home", group="3.2")
    await builder.account("dacha", group="3.1")
    await builder.account("far", group="12.1")
    await builder.person("me", "home", channels={"console": "me"})
    await builder.person("other", "dacha", channels={"console": "other"})
    await builder.person("farmer", "far")
    for name in ("me", "other", "farmer"):
        await builder.consent(name)
    return builder
