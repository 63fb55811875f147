"""Pushes through the real Messenger adapter and the fake Graph API: inside the 24-hour
window alerts go as UPDATE; outside it alerts are not queued for Messenger at all, while a
new bill goes with the ACCOUNT_UPDATE tag; opted-out topics queue nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.pushes import PushRenderer
from core.model import Channel, NotificationPrefs, OutageKind, OutageTarget
from core.notifications import notify_new_bills
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import DeliverySettings, DeliveryWorkers
from storage.outbox import OutboxQueue, outbox
from tests.channels.conftest import IN_WINDOW, sqlite_demo_url  # noqa: F401 - a fixture
from tests.channels.fake_graph import MessengerHarness, make_messenger_harness
from tests.channels.fake_viber import close_harnesses
from tests.channels.test_viber_flows import linked

Factory = Callable[..., Awaitable[MessengerHarness]]


@pytest.fixture
async def fb(sqlite_demo_url: str) -> AsyncIterator[MessengerHarness]:  # noqa: F811
    started: list[Any] = []
    harness = await make_messenger_harness(sqlite_demo_url, now=IN_WINDOW, started=started)
    yield harness
    await close_harnesses(started)


def workers(fb: MessengerHarness) -> DeliveryWorkers:
    app = fb.app
    return DeliveryWorkers(
        OutboxQueue(app.engine, "fb-test"),
        {Channel.MESSENGER: fb.channel},
        PushRenderer(app.uow_factory, app.catalogues, ZoneInfo("Europe/Kyiv")),
        app.uow_factory,
        DeliverySettings(),
    )


async def publish(fb: MessengerHarness, group: str, reason: str) -> None:
    now = fb.clock.now()
    async with fb.app.uow_factory() as uow:
        dso = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert dso is not None
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.PLANNED,
                dso.dso_id,
                now + timedelta(days=1),
                now + timedelta(days=1, hours=4),
                reason,
                (OutageTarget(outage_group=group),),
            ),
            now,
        )
        await uow.commit()


async def pushes_to(fb: MessengerHarness, psid: str) -> list[Any]:
    return [c for c in fb.fake.sent_to(psid) if c.body.get("messaging_type") != "RESPONSE"]


async def test_24_hour_rule_tags_and_opt_outs(fb: MessengerHarness) -> None:
    user = fb.user()
    await linked(user)
    w = workers(fb)
    await publish(fb, "3.2", "Заміна опор")
    await w.run_once(Channel.MESSENGER)
    [alert] = await pushes_to(fb, user.psid)
    assert alert.body["messaging_type"] == "UPDATE" and "tag" not in alert.body
    assert "Планове відключення" in alert.text and "Заміна опор" in alert.text

    # 25 hours later the window is closed: an alert has no tag that fits, so Messenger is
    # not chosen and (with no other channel) nothing is queued for this person.
    fb.clock.at = IN_WINDOW + timedelta(hours=25)
    await publish(fb, "3.2", "Друге відключення")
    async with fb.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.MESSENGER, user.psid)
        assert identity is not None
    async with fb.app.engine.connect() as connection:
        alerts = await connection.scalar(
            select(func.count()).where(
                outbox.c.person_id == identity.person_id, outbox.c.event.like("outage:%:alert:%")
            )
        )
    assert alerts == 1  # only the first outage's
    # A new bill may go past 24 h with ACCOUNT_UPDATE.
    async with fb.app.uow_factory() as uow:
        account = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert account is not None
        [bill, *_] = await uow.billing.bills(account.id)
        assert await notify_new_bills(uow, [bill.period], fb.clock.now(), [account.id]) >= 1
        await uow.commit()
    await w.run_once(Channel.MESSENGER)
    *_, notice = await pushes_to(fb, user.psid)
    assert notice.body["messaging_type"] == "MESSAGE_TAG"
    assert notice.body["tag"] == "ACCOUNT_UPDATE"
    assert "Новий рахунок" in notice.text and "2010000232" in notice.text

    # Opted out of planned outages: the next one queues nothing for them.
    await user.say("Привіт")  # back inside the window
    async with fb.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.MESSENGER, user.psid)
        assert identity is not None
        prefs = await uow.persons.prefs(identity.person_id) or NotificationPrefs(
            identity.person_id, channels=frozenset({Channel.MESSENGER})
        )
        await uow.persons.save_prefs(replace(prefs, outages_planned=False))
        await uow.commit()
    before = len(await pushes_to(fb, user.psid))
    await publish(fb, "3.2", "Третє відключення")
    await w.run_once(Channel.MESSENGER)
    assert len(await pushes_to(fb, user.psid)) == before
