"""Telegram paid broadcast through the real adapter and the fake Bot API (which enforces
the free and paid rates and charges 0.1 Star a paid send), on SQLite and PostgreSQL: only
the topics the operator chose go paid, the cost is estimated, and when the Stars run out
the push goes again at the free rate and the channel stays free for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import paid_topics
from bot.channels.telegram import TelegramChannel
from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.delivery import paid_estimate
from core.model import Channel, OutageKind, OutageTarget, Topic
from core.outages import OutageDraft, publish_outage, subject_of
from scheduler.delivery import DeliverySettings, DeliveryWorkers
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.channels.fake_telegram import TOKEN, FakeTelegram
from tests.pushes.conftest import outbox_rows
from tests.pushes.world import T0, Builder

EMERGENCY = frozenset({Topic.OUTAGES_EMERGENCY.value})


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(limits=True)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def telegram(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    async def nobody(*_: object) -> None:
        return None

    async def no_turns(_: object) -> list:
        return []

    channel = TelegramChannel(
        TOKEN,
        handle=no_turns,
        mark_unreachable=nobody,
        catalogues=Catalogues(),
        mode="polling",
        api_base=str(fake._server.make_url("")).rstrip("/"),  # type: ignore[union-attr]
    )
    yield channel
    await channel.stop()


async def _outage(uow_factory: SqlAlchemyUnitOfWorkFactory, dso_id: int, kind: OutageKind) -> int:
    async with uow_factory() as uow:
        outage = await publish_outage(
            uow,
            OutageDraft(
                kind,
                dso_id,
                T0 + timedelta(hours=1),
                T0 + timedelta(hours=5),
                f"{kind.value} works",
                (OutageTarget(outage_group="3.2"),),
            ),
            T0,
        )
        await uow.commit()
    return outage.id


def _workers(engine, uow_factory, telegram, **settings) -> DeliveryWorkers:
    return DeliveryWorkers(
        OutboxQueue(engine, "paid-test"),
        {Channel.TELEGRAM: telegram},
        PushRenderer(uow_factory, Catalogues(), ZoneInfo("Europe/Kyiv")),
        uow_factory,
        DeliverySettings(paid_topics={Channel.TELEGRAM: EMERGENCY}, **settings),
    )


def test_operators_name_the_topics_sent_paid() -> None:
    assert paid_topics("emergency") == EMERGENCY
    assert paid_topics(" Emergency , planned") == {"outages_emergency", "outages_planned"}
    assert paid_topics("") == frozenset()
    with pytest.raises(ValueError, match="unknown topic"):
        paid_topics("bills-and-stuff")


async def test_only_the_chosen_topic_is_sent_paid_and_its_cost_estimated(
    builder: Builder,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    engine: AsyncEngine,
    telegram: TelegramChannel,
    fake: FakeTelegram,
) -> None:
    await builder.account("a")
    for number in range(3):
        await builder.person(f"p{number}", "a", channels={"telegram": str(100 + number)})
    dso = builder.world.dso_id
    emergency = await _outage(uow_factory, dso, OutageKind.EMERGENCY)
    planned = await _outage(uow_factory, dso, OutageKind.PLANNED)
    async with uow_factory() as uow:
        queued = await uow.outbox.queued_per_channel(subject_of(emergency))
        planned_queued = await uow.outbox.queued_per_channel(subject_of(planned))
    paid = {Channel.TELEGRAM: EMERGENCY}
    assert paid_estimate(queued, paid).messages == 3
    assert paid_estimate(queued, paid).stars == Decimal("0.3")
    assert paid_estimate(planned_queued, paid).messages == 0
    workers = _workers(engine, uow_factory, telegram)
    # The paid claim takes the emergency alerts only; the free claim the planned ones.
    assert (await workers.run_once(Channel.TELEGRAM, paid=True))[0] == 3
    assert (await workers.run_once(Channel.TELEGRAM, paid=True))[0] == 0
    assert (await workers.run_once(Channel.TELEGRAM))[0] == 3
    sent = fake.sent()
    assert len(sent) == 6 and fake.too_many == 0
    assert {c.paid for c in sent if "emergency works" in c.text} == {True}
    assert {c.paid for c in sent if "planned works" in c.text} == {False}
    rows = await outbox_rows(engine)
    assert {(r["topic"], r["paid"], r["status"]) for r in rows} == {
        ("outages_emergency", True, "sent"),
        ("outages_planned", False, "sent"),
    }


async def test_stars_run_out_the_push_goes_free_and_the_channel_stays_free(
    builder: Builder,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    engine: AsyncEngine,
    telegram: TelegramChannel,
    fake: FakeTelegram,
) -> None:
    await builder.account("a")
    for number in range(3):
        await builder.person(f"p{number}", "a", channels={"telegram": str(200 + number)})
    await _outage(uow_factory, builder.world.dso_id, OutageKind.EMERGENCY)
    fake.stars = 0.1  # one paid message left
    workers = _workers(engine, uow_factory, telegram, batch=2)
    await workers.run_once(Channel.TELEGRAM, paid=True)
    assert fake.stars_refused == 1 and not workers.paid_on(Channel.TELEGRAM)
    rows = {r["status"] for r in await outbox_rows(engine)}
    assert rows == {"sent", "pending"}  # the refused push is due again at once
    # While the channel is on the free rate the paid claim takes nothing, the free claim
    # takes the emergency alerts too (ahead of anything of a lower lane).
    assert (await workers.run_once(Channel.TELEGRAM, paid=True))[0] == 0
    assert (await workers.run_once(Channel.TELEGRAM))[0] == 2
    assert [c.paid for c in fake.sent()] == [True, False, False]
    assert {r["status"] for r in await outbox_rows(engine)} == {"sent"}
    assert len({c.chat_id for c in fake.sent()}) == 3  # each told once
