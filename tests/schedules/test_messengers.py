"""The schedule answer and its pushes through the real adapters against the fake Telegram,
Viber and Messenger servers (demo data: account 2010000232 is in group 3.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from app.compose import App
from bot.channels.base import ChannelAdapter
from bot.pushes import PushRenderer, push_texts
from core.model import Channel
from core.schedules import ScheduleDraft, publish_schedules, slots_from_intervals
from scheduler.delivery import DeliveryWorkers
from storage.outbox import OutboxQueue
from tests.channels.conftest import Harness, HarnessFactory, make_harness, sqlite_demo_url  # noqa: F401 - fixtures
from tests.channels.fake_graph import MessengerHarness, make_messenger_harness
from tests.channels.fake_viber import ViberHarness, close_harnesses, make_viber_harness
from tests.channels.test_telegram_flows import EIC_232, NUMBER_232, consent, link
from tests.channels.test_viber_flows import linked
from tests.schedules.conftest import KYIV


async def publish_today(app: App, start: str, end: str) -> int:
    """Publish (or change) today's schedule of 3.2 with one outage."""
    now = app.clock.now()
    draft = ScheduleDraft(
        "3.2",
        now.astimezone(KYIV).date(),
        slots_from_intervals([{"from": start, "to": end}]),
        now - timedelta(minutes=5),
    )
    async with app.uow_factory() as uow:
        outcome = await publish_schedules(uow, [draft], now, KYIV, push_texts(app.catalogues, KYIV))
        await uow.commit()
    return outcome.queued


async def deliver(app: App, channel: Channel, adapter: Any) -> None:
    workers = DeliveryWorkers(
        OutboxQueue(app.engine, f"schedule-{channel.value}"),
        {channel: adapter},
        PushRenderer(app.uow_factory, app.catalogues, KYIV),
        app.uow_factory,
    )
    await workers.run_once(channel)


async def test_telegram_answer_picture_and_push(
    make_harness: HarnessFactory,  # noqa: F811
    sqlite_demo_url: str,  # noqa: F811
) -> None:
    tg: Harness = await make_harness(sqlite_demo_url)
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    before = await user.say("Графік відключень")
    assert "Ваша черга: 3.2" in before and "графік ще не опубліковано" in before
    assert await publish_today(tg.app, "16:00", "18:00") >= 1
    adapter: ChannelAdapter = tg.channel  # type: ignore[assignment]
    await deliver(tg.app, Channel.TELEGRAM, adapter)
    pushes = [c.text for c in tg.fake.calls_of("sendMessage", user.user_id)]
    assert any("для черги 3.2" in text and "16:00–18:00 без світла" in text for text in pushes)
    answer = await user.say("Графік відключень")
    assert "16:00–18:00 без світла, 2 години" in answer
    assert "Зараз світло є, вимкнуть о 16:00." in answer
    await user.press("Картинка")
    assert tg.fake.calls_of("sendPhoto", user.user_id)


@pytest.fixture
async def viber(sqlite_demo_url: str) -> AsyncIterator[ViberHarness]:  # noqa: F811
    from tests.channels.conftest import IN_WINDOW

    started: list[Any] = []
    harness = await make_viber_harness(sqlite_demo_url, now=IN_WINDOW, started=started)
    yield harness
    await close_harnesses(started)


async def test_viber_answer_and_change_push(viber: ViberHarness) -> None:
    user = viber.user()
    await linked(user)
    await publish_today(viber.app, "19:00", "21:00")
    await deliver(viber.app, Channel.VIBER, viber.channel)
    assert any("черги 3.2" in c.text for c in viber.fake.sent_to(user.user_id))
    answer = await user.tap("Графік відключень")  # a key in view: Viber keyboard, Messenger menu
    assert "19:00–21:00 без світла, 2 години" in answer


@pytest.fixture
async def fb(sqlite_demo_url: str) -> AsyncIterator[MessengerHarness]:  # noqa: F811
    from tests.channels.conftest import IN_WINDOW

    started: list[Any] = []
    harness = await make_messenger_harness(sqlite_demo_url, now=IN_WINDOW, started=started)
    yield harness
    await close_harnesses(started)


async def test_messenger_answer_and_push(fb: MessengerHarness) -> None:
    user = fb.user()
    await linked(user)
    await publish_today(fb.app, "20:00", "23:00")
    await deliver(fb.app, Channel.MESSENGER, fb.channel)
    sent = [c.text for c in fb.fake.sent_to(user.user_id) if "черги 3.2" in c.text]
    assert sent and "20:00–23:00 без світла, 3 години" in sent[-1]
    answer = await user.tap("Графік відключень")  # a key in view: Viber keyboard, Messenger menu
    assert "20:00–23:00 без світла, 3 години" in answer
