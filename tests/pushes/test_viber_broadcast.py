"""Viber broadcast through the real adapter and the fake Viber over HTTP, on SQLite and
PostgreSQL: identical pushes (one text and keyboard per language) go in broadcast_message
calls, a push of its own goes by send_message, receivers in failed_list are handled as
single sends would be, and without broadcast enabled every push goes on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.media import MediaStore
from bot.channels.viber import ViberChannel
from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.model import Channel, OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import DeliverySettings, DeliveryWorkers
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.channels.fake_viber import TOKEN, FakeViber
from tests.pushes.conftest import outbox_rows
from tests.pushes.world import T0, Builder

PEOPLE = {"u1": "uk", "u2": "uk", "u3": "uk", "e1": "en", "e2": "en"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeViber]:
    server = FakeViber(limits=True)
    await server.start()
    yield server
    await server.close()


async def _people(builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    await builder.account("a")
    for name, locale in PEOPLE.items():
        await builder.person(name, "a", channels={"viber": f"vb-{name}"}, locale=locale)
    async with uow_factory() as uow:
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.EMERGENCY,
                builder.world.dso_id,
                T0,
                T0 + timedelta(hours=3),
                "аварія на лінії",
                (OutageTarget(outage_group="3.2"),),
            ),
            T0,
        )
        # One push of its own: it cannot share a call.
        await uow.outbox.enqueue_person(
            builder.world.persons["u1"], "own", "own", "answers", {"kind": "text", "text": "Ок"}, T0
        )
        await uow.commit()


async def _deliver(engine, uow_factory, fake: FakeViber, *, broadcast: bool) -> list[tuple]:
    marked: list[tuple] = []

    async def mark(channel: Channel, user_id: str) -> None:
        marked.append((channel, user_id))

    async def no_turns(_: object) -> list:
        return []

    viber = ViberChannel(
        TOKEN,
        handle=no_turns,
        mark_unreachable=mark,
        catalogues=Catalogues(),
        media=MediaStore.from_settings("secret", "http://127.0.0.1"),
        api_base=fake.base + "/pa",
        broadcast=broadcast,
    )
    workers = DeliveryWorkers(
        OutboxQueue(engine, "viber-broadcast"),
        {Channel.VIBER: viber},
        PushRenderer(uow_factory, Catalogues(), ZoneInfo("Europe/Kyiv")),
        uow_factory,
        DeliverySettings(limits={Channel.VIBER: 1000}, call_limits={Channel.VIBER: 1000}),
    )
    try:
        await workers.run_once(Channel.VIBER)
    finally:
        await viber.stop()
    return marked


async def test_identical_pushes_go_in_one_broadcast_per_language(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine, fake
) -> None:
    await _people(builder, uow_factory)
    await _deliver(engine, uow_factory, fake, broadcast=True)
    calls = fake.calls_of("broadcast_message")
    by_language = sorted(sorted(call.receivers) for call in calls)
    assert by_language == [["vb-e1", "vb-e2"], ["vb-u1", "vb-u2", "vb-u3"]]
    english = next(call for call in calls if "vb-e1" in call.receivers)
    assert english.text.startswith("🚨") or "outage" in english.text.lower()
    assert english.buttons  # the keyboard rides along
    [own] = fake.calls_of("send_message")
    assert own.receiver == "vb-u1" and own.text == "Ок"
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}
    assert sorted(receiver for receiver, _ in fake.delivered) == sorted(
        [f"vb-{name}" for name in PEOPLE] + ["vb-u1"]
    )


async def test_failed_list_unsubscribed_unreachable_others_retried(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine, fake
) -> None:
    await _people(builder, uow_factory)
    fake.unsubscribed.add("vb-u2")
    fake.fail_receiver("vb-u3", 11)  # no suitable device: not about the bot, retried
    marked = await _deliver(engine, uow_factory, fake, broadcast=True)
    assert marked == [(Channel.VIBER, "vb-u2")]  # the app marks the identity unreachable
    rows = {
        row["identity_id"]: row
        for row in await outbox_rows(engine)
        if row["event"].startswith("outage")
    }
    identities = builder.world.identities
    u2, u3 = rows[identities["u2:viber"]], rows[identities["u3:viber"]]
    assert u2["status"] == "undeliverable"  # no other channel
    assert u3["status"] == "pending" and u3["next_attempt_at"] is not None
    assert "11" in u3["last_error"]
    others = [rows[identities[f"{name}:viber"]]["status"] for name in ("u1", "e1", "e2")]
    assert others == ["sent"] * 3


async def test_without_broadcast_every_push_goes_on_its_own(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine, fake
) -> None:
    await _people(builder, uow_factory)
    await _deliver(engine, uow_factory, fake, broadcast=False)
    assert fake.calls_of("broadcast_message") == []
    receivers = sorted(call.receiver for call in fake.calls_of("send_message"))
    assert receivers == sorted([f"vb-{name}" for name in PEOPLE] + ["vb-u1"])
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}
