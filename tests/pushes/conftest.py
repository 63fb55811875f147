"""Fixtures of the push tests: a world builder on the test database, outbox reading."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.outbox import outbox
from tests.pushes.world import Builder


@pytest.fixture
async def builder(engine: AsyncEngine) -> Builder:
    """A builder with the reference rows in place."""
    made = Builder(engine)
    await made.references()
    return made


async def outbox_rows(engine: AsyncEngine, event_prefix: str = "") -> list[dict]:
    """Every outbox row (as dicts), oldest first, optionally of events with a prefix."""
    async with engine.connect() as connection:
        query = select(outbox).order_by(outbox.c.id)
        if event_prefix:
            query = query.where(outbox.c.event.startswith(event_prefix))
        return [dict(row._mapping) for row in await connection.execute(query)]
