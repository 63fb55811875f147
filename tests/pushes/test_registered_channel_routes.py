"""A channel registered by a test, with a session window and a message tag, is ranked by the
outbox's SQL as `core.delivery` ranks it: both read its row in `core.channels` (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.channels import DAY, ChannelPolicy, register_channel, unregister_channel
from core.delivery import Route, choose_route
from core.model import Channel, Topic
from core.notifications import notify_person
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.pushes.conftest import outbox_rows
from tests.pushes.world import T0, Builder

WIRE = "wire"


@pytest.fixture
def wire() -> Iterator[Channel]:
    """A messenger free inside a 24-hour window and, outside it, only for new bills."""
    policy = register_channel(ChannelPolicy(WIRE, session=DAY, tags={Topic.NEW_BILLS: "BILL"}))
    yield Channel(policy.channel)
    unregister_channel(WIRE)


async def test_sql_and_core_rank_a_registered_channel_alike(
    builder: Builder, engine: AsyncEngine, wire: Channel
) -> None:
    factory = SqlAlchemyUnitOfWorkFactory(engine)
    recent, old = T0 - timedelta(hours=2), T0 - timedelta(days=3)
    await builder.account("acc")
    people = {
        # Inside its window the wire is free and beats Viber, billed outside its session.
        "fresh": await builder.person(
            "fresh", "acc", channels={WIRE: "w1", "viber": "v1"}, last_inbound={WIRE: recent}
        ),
        # Outside the window a tagged push ranks after Viber's billed one, as Messenger's.
        "stale": await builder.person(
            "stale", "acc", channels={WIRE: "w2", "viber": "v2"}, last_inbound={WIRE: old}
        ),
        # Only the wire, outside its window: a bill, but no alert.
        "alone": await builder.person(
            "alone", "acc", channels={WIRE: "w3"}, last_inbound={WIRE: old}
        ),
    }
    expected = {
        Topic.NEW_BILLS: {"fresh": WIRE, "stale": "viber", "alone": WIRE},
        Topic.OUTAGES_PLANNED: {"fresh": WIRE, "stale": "viber", "alone": None},
    }
    for topic, want in expected.items():
        async with factory() as uow:
            for name, person_id in people.items():
                await notify_person(
                    uow, person_id, topic, {"kind": "text", "text": "x"}, f"{topic}:{name}", T0
                )
            await uow.commit()
        rows = {row["event"]: row["channel"] for row in await outbox_rows(engine, f"{topic}:")}
        assert {name: rows.get(f"{topic}:{name}") for name in people} == want, topic
        # core.delivery picks the same for one person (re-routing uses it).
        async with factory() as uow:
            for name, person_id in people.items():
                routes = [
                    Route(i.channel, i.id, {"fresh": recent}.get(name, old))
                    if i.channel == wire
                    else Route(i.channel, i.id)
                    for i in await uow.persons.identities(person_id)
                ]
                route = choose_route(routes, None, topic, T0)
                assert (route.channel.value if route else None) == want[name], (topic, name)
