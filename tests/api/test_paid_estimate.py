"""Publishing an outage whose topic Telegram sends as a paid broadcast answers with the
cost estimate (0.1 Star a message); other outages answer without one (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.api.conftest import NOW, Api, serving, settings_for
from tests.pushes.world import Builder


@pytest.fixture
async def paid_api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(database_url, tmp_path / "bills").model_copy(
        update={"telegram_paid_broadcast_topics": "emergency"}
    )
    async with serving(settings, tmp_path) as served:
        yield served


async def test_publishing_an_emergency_answers_its_paid_cost(paid_api: Api, world: Builder) -> None:
    await world.account("a32")
    for name in ("ivan", "petro", "olena"):
        await world.person(name, "a32", channels={"telegram": f"tg-{name}"})
    body = {
        "dso_id": world.world.dso_id,
        "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(hours=4)).isoformat(),
        "reason": "аварія",
        "targets": [{"outage_group": "3.2"}],
    }
    emergency = {**body, "kind": "emergency"}
    outage = await paid_api.call("POST", "/api/v1/outages", json=emergency, status=201)
    assert outage["paid_broadcast"] == {"messages": 3, "stars": "0.3"}
    planned = {
        **body,
        "kind": "planned",
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=1, hours=4)).isoformat(),
    }
    outage = await paid_api.call("POST", "/api/v1/outages", json=planned, status=201)
    assert outage["paid_broadcast"] is None
