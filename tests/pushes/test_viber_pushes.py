"""Pushes through the real Viber adapter and the fake Viber server: an alert to a linked
subscriber (inside the session: free), and an unsubscribed one re-routed to e-mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.pushes import PushRenderer
from core.model import Channel, NotificationPrefs, OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import DeliveryWorkers
from storage.outbox import OutboxQueue
from tests.channels.conftest import IN_WINDOW, sqlite_demo_url  # noqa: F401 - a fixture
from tests.channels.fake_viber import ViberHarness, close_harnesses, make_viber_harness
from tests.channels.test_viber_flows import linked
from tests.pushes.recording import RecordingChannel


@pytest.fixture
async def viber(sqlite_demo_url: str) -> AsyncIterator[ViberHarness]:  # noqa: F811
    started: list[Any] = []
    harness = await make_viber_harness(sqlite_demo_url, now=IN_WINDOW, started=started)
    yield harness
    await close_harnesses(started)


async def test_alert_on_viber_and_rerouted_when_unsubscribed(viber: ViberHarness) -> None:
    stay, leave = viber.user(), viber.user()
    await linked(stay)
    await linked(leave)
    app = viber.app
    mail = RecordingChannel(Channel.EMAIL)
    async with app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.VIBER, leave.user_id)
        assert identity is not None
        # The leaver chose Viber and e-mail: Viber first (free in the session), e-mail last.
        person = await uow.persons.get(identity.person_id)
        assert person is not None
        await uow.persons.update(replace(person, email="leaver@example.org"))
        await uow.persons.save_prefs(
            NotificationPrefs(person.id, channels=frozenset({Channel.VIBER, Channel.EMAIL}))
        )
        account = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert account is not None
        now = app.clock.now()
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.PLANNED,
                account.dso_id,
                now + timedelta(days=1),
                now + timedelta(days=1, hours=3),
                "Огляд лінії",
                (OutageTarget(outage_group="3.2"),),
            ),
            now,
        )
        await uow.commit()
    viber.fake.unsubscribed.add(leave.user_id)
    workers = DeliveryWorkers(
        OutboxQueue(app.engine, "viber-test"),
        {Channel.VIBER: viber.channel, Channel.EMAIL: mail},
        PushRenderer(app.uow_factory, app.catalogues, ZoneInfo("Europe/Kyiv")),
        app.uow_factory,
    )
    await workers.run_once(Channel.VIBER)  # the leaver's push comes back re-routed
    await workers.run_once(Channel.EMAIL)
    [alert] = [c for c in viber.fake.sent_to(stay.user_id) if "Огляд лінії" in c.text]
    assert "Планове відключення" in alert.text
    assert [user for user, _, _ in mail.sent] == ["leaver@example.org"]
    assert "Огляд лінії" in mail.texts()[0]
    async with app.uow_factory() as uow:
        gone = await uow.persons.identity(Channel.VIBER, leave.user_id)
        assert gone is not None and not gone.reachable
