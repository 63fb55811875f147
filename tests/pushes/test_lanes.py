"""Priority lanes of the outbox on SQLite and PostgreSQL: an emergency alert queued after
bill notices is claimed first, every lane in its order, and a lower lane still moves
(every Nth claim takes the oldest row whatever its lane)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.delivery import LANES, lane_of
from core.model import Channel, Topic
from scheduler.delivery import DeliverySettings, DeliveryWorkers, real_now
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.pushes.conftest import outbox_rows
from tests.pushes.recording import RecordingChannel
from tests.pushes.world import T0, Builder

# Queued in this order, the least urgent first.
QUEUED = [
    Topic.NEW_BILLS,
    Topic.READING_REMINDERS,
    Topic.ANSWERS,
    Topic.PAYMENTS,
    Topic.OUTAGES_PLANNED,
    Topic.OUTAGES_EMERGENCY,
]


async def _queue(builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, topics) -> None:
    await builder.account("a")
    for number, topic in enumerate(topics):
        person = await builder.person(f"p{number}", "a")
        async with uow_factory() as uow:
            await uow.outbox.enqueue_person(
                person, f"e{number}", f"s{number}", topic.value, {"kind": "text", "text": topic}, T0
            )
            await uow.commit()


def test_every_topic_has_a_lane_and_alerts_come_first() -> None:
    assert set(LANES) == set(Topic)
    assert lane_of(Topic.OUTAGES_EMERGENCY) < lane_of(Topic.OUTAGES_PLANNED)
    assert lane_of(Topic.OUTAGES_PLANNED) < lane_of(Topic.PAYMENTS) == lane_of(Topic.ANSWERS)
    assert lane_of(Topic.ANSWERS) < lane_of(Topic.NEW_BILLS) == lane_of(Topic.READING_REMINDERS)


async def test_claims_take_the_highest_lane_first_then_the_oldest(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await _queue(builder, uow_factory, QUEUED)
    rows = {row["topic"]: row["lane"] for row in await outbox_rows(engine)}
    assert rows == {topic.value: lane_of(topic) for topic in QUEUED}
    queue = OutboxQueue(engine, "lanes")
    order = []
    for _ in QUEUED:
        claimed, _ = await queue.claim(Channel.TELEGRAM, 1, 1000, real_now())
        order.append(claimed[0].topic)
    # Within a lane the older first: answers were queued before payments.
    assert order == [
        "outages_emergency",
        "outages_planned",
        "answers",
        "payments",
        "new_bills",
        "reading_reminders",
    ]


async def test_oldest_first_claim_ignores_lanes_and_topics_filter(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await _queue(builder, uow_factory, QUEUED)
    queue = OutboxQueue(engine, "lanes")
    claimed, _ = await queue.claim(Channel.TELEGRAM, 1, 1000, real_now(), oldest_first=True)
    assert [push.topic for push in claimed] == ["new_bills"]
    only = ["payments", "outages_planned"]
    claimed, _ = await queue.claim(Channel.TELEGRAM, 5, 1000, real_now(), topics=only)
    assert [push.topic for push in claimed] == ["outages_planned", "payments"]


async def test_a_bill_queued_behind_a_flood_of_alerts_still_goes(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await _queue(builder, uow_factory, [Topic.NEW_BILLS] + [Topic.OUTAGES_EMERGENCY] * 8)
    telegram = RecordingChannel(Channel.TELEGRAM)
    renderer = PushRenderer(uow_factory, Catalogues(), ZoneInfo("Europe/Kyiv"))
    workers = DeliveryWorkers(
        OutboxQueue(engine, "lanes"),
        {Channel.TELEGRAM: telegram},
        renderer,
        uow_factory,
        DeliverySettings(batch=1, oldest_every=3),
    )
    for _ in range(3):
        await workers.run_once(Channel.TELEGRAM)
    # Two alerts, then the third claim took the oldest row: the bill.
    assert [extra["topic"] for _, _, extra in telegram.sent] == [
        "outages_emergency",
        "outages_emergency",
        "new_bills",
    ]
