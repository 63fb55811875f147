"""Delivery workers on SQLite and PostgreSQL: render in the person's language, send, record;
429 and network errors retried, unreachable re-routed, rate limit honoured, crash recovery."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.base import DeliveryResult, DeliveryStatus, Push
from bot.channels.send_gate import GateRefused, through_gate
from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.delivery import RetryPolicy
from core.model import Channel, OutageKind, OutageTarget
from core.notifications import notify_call_center_answer
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import DeliverySettings, DeliveryWorkers, real_now
from storage.orm import ChannelIdentityRow
from storage.outbox import CLAIMED, SENDING, OutboxQueue, outbox
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.pushes.conftest import outbox_rows
from tests.pushes.recording import RecordingChannel
from tests.pushes.world import T0, Builder

KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues()


def workers(
    engine: AsyncEngine,
    uow_factory: SqlAlchemyUnitOfWorkFactory,
    catalogues: Catalogues,
    *channels: RecordingChannel,
    **settings: object,
) -> DeliveryWorkers:
    return DeliveryWorkers(
        OutboxQueue(engine, "test-worker"),
        {c.channel: c for c in channels},
        PushRenderer(uow_factory, catalogues, KYIV),
        uow_factory,
        DeliverySettings(**settings),  # type: ignore[arg-type]
    )


async def alert_people(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, count: int
) -> None:
    """`count` people of one account (user ids tg-p0, tg-p1, …), told of an outage."""
    await builder.account("a")
    for n in range(count):
        await builder.person(f"p{n}", "a")
    await publish(uow_factory, builder.world.dso_id)


async def publish(uow_factory: SqlAlchemyUnitOfWorkFactory, dso_id: int) -> None:
    async with uow_factory() as uow:
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.PLANNED,
                dso_id,
                T0 + timedelta(days=2),
                T0 + timedelta(days=2, hours=6),
                "Ремонт ТП-1234",
                (OutageTarget(outage_group="3.2"),),
            ),
            T0,
        )
        await uow.commit()


async def test_alert_rendered_in_each_persons_language_and_recorded(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await builder.account("a")
    await builder.person("uk", "a", channels={"telegram": "100"}, locale="uk")
    await builder.person("en", "a", channels={"telegram": "200"}, locale="en")
    await publish(uow_factory, builder.world.dso_id)
    telegram = RecordingChannel(Channel.TELEGRAM)
    w = workers(engine, uow_factory, catalogues, telegram)
    handled, _ = await w.run_once(Channel.TELEGRAM)
    assert handled == 2
    by_user = {user: "\n".join(r.text for r in replies) for user, replies, _ in telegram.sent}
    assert by_user["100"].startswith("⚡ Планове відключення")
    assert "Черга: 3.2" in by_user["100"] and "Ремонт ТП-1234" in by_user["100"]
    assert "Коли: 29.11.2026 з 12:00 до 18:00" in by_user["100"]  # business time, Kyiv
    assert by_user["200"].startswith("⚡ Planned power outage")
    # The grid operator's reason as written, said whose words they are in English.
    assert "When: 29.11.2026 from 12:00 to 18:00" in by_user["200"]
    assert "Reason (as given by the grid operator): Ремонт ТП-1234" in by_user["200"]
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}
    assert await w.run_once(Channel.TELEGRAM) == (0, 0.0)


async def test_429_waits_network_backs_off_and_unreachable_reroutes(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await builder.account("a")
    await builder.person("x", "a", channels={"telegram": "1"})
    await builder.person("y", "a", channels={"telegram": "2", "viber": "v2"})
    await publish(uow_factory, builder.world.dso_id)
    telegram = RecordingChannel(Channel.TELEGRAM)
    viber = RecordingChannel(Channel.VIBER)
    telegram.script.extend(
        [
            DeliveryResult(DeliveryStatus.RETRY_LATER, retry_after=30, detail="429"),
            DeliveryResult(DeliveryStatus.UNREACHABLE, detail="blocked"),
        ]
    )
    w = workers(engine, uow_factory, catalogues, telegram, viber)
    await w.run_once(Channel.TELEGRAM)
    rows = {row["identity_id"]: row for row in await outbox_rows(engine)}
    x_row = rows[builder.world.identities["x:telegram"]]
    assert x_row["status"] == "pending" and x_row["next_attempt_at"] > real_now()
    y_rows = [r for r in rows.values() if r["channel"] == "viber"]
    assert len(y_rows) == 1 and y_rows[0]["status"] == "pending"  # re-routed to Viber
    await w.run_once(Channel.VIBER)
    assert [user for user, _, _ in viber.sent] == ["v2"]
    # After the retry-after the 429'd push goes out; nothing is sent twice.
    async with engine.begin() as connection:
        await connection.execute(update(outbox).values(next_attempt_at=None))
    assert w._paused_until[Channel.TELEGRAM] > real_now()  # the loop waits out a 429
    await w.run_once(Channel.TELEGRAM)
    assert [user for user, _, _ in telegram.sent] == ["1"]
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}


async def test_gives_up_after_max_attempts(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await builder.account("a")
    await builder.person("x", "a")
    await publish(uow_factory, builder.world.dso_id)
    telegram = RecordingChannel(Channel.TELEGRAM)
    w = workers(engine, uow_factory, catalogues, telegram, policy=RetryPolicy(max_attempts=2))
    for _ in range(2):
        telegram.script.append(DeliveryResult(DeliveryStatus.RETRY_LATER, detail="network"))
        async with engine.begin() as connection:
            await connection.execute(update(outbox).values(next_attempt_at=None))
        await w.run_once(Channel.TELEGRAM)
    [row] = await outbox_rows(engine)
    assert row["status"] == "failed" and row["attempts"] == 2


async def test_claims_take_slots_of_one_schedule_that_every_worker_shares(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await alert_people(builder, uow_factory, 7)
    # Two workers (as in two processes) claim in turn at 2 a second: a claim takes one
    # row (a quarter second's worth, at least one), and each takes the slot after the
    # other's, until the schedule is taken more than half a second ahead.
    queues = [OutboxQueue(engine, "worker-1"), OutboxQueue(engine, "worker-2")]
    slots: list[float] = []
    wait, before, after = 0.0, 0.0, 0.0
    for number in range(7):
        before = time.time()
        claimed, wait = await queues[number % 2].claim(Channel.TELEGRAM, 50, 2, real_now())
        after = time.time()
        if not claimed:
            break
        slots.extend(push.send_at for push in claimed)
    # The slots of both workers follow each other at the rate; the first is now.
    assert len(slots) >= 2
    assert {round(b - a, 6) for a, b in itertools.pairwise(slots)} == {0.5}
    assert abs(slots[0] - real_now().timestamp()) < 5
    # The claim that found the schedule too far ahead takes nothing and says how long to
    # wait for the next slot to come within half a second (however slow the machine was).
    next_slot = slots[-1] + 0.5
    assert 0 < wait <= 0.5
    assert next_slot - after - 0.5 - 1e-3 <= wait <= next_slot - before - 0.5 + 1e-3
    # A paid claim has a schedule of its own (the paid rate): its slot is now, not behind
    # the free schedule.
    claimed, _ = await queues[0].claim(Channel.TELEGRAM, 50, 2, real_now(), paid=True)
    assert len(claimed) == 1 and claimed[0].send_at <= time.time() + 1e-3


async def test_a_batch_is_sent_at_its_slots(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await alert_people(builder, uow_factory, 5)
    telegram = RecordingChannel(Channel.TELEGRAM)
    w = workers(engine, uow_factory, catalogues, telegram, batch=50)
    started = time.monotonic()
    # 20 a second is claimed at most 5 at a time; at 0.97 of 20 the last slot is 0.21 s on.
    handled, _ = await w.run_once(Channel.TELEGRAM, limit=20)
    assert handled == 5
    assert time.monotonic() - started >= 0.2
    assert len(telegram.sent) == 5


async def test_recovery_requeues_claimed_and_never_resends_sending(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await builder.account("a")
    a = await builder.person("a1", "a")
    b = await builder.person("b1", "a")
    await publish(uow_factory, builder.world.dso_id)
    # A worker died: one row claimed (not yet sent), one being sent.
    async with engine.begin() as connection:
        old = real_now() - timedelta(minutes=5)
        await connection.execute(
            update(outbox).where(outbox.c.person_id == a).values(status=CLAIMED, claimed_at=old)
        )
        await connection.execute(
            update(outbox).where(outbox.c.person_id == b).values(status=SENDING, claimed_at=old)
        )
    queue = OutboxQueue(engine, "other")
    assert await queue.recover(real_now() - timedelta(seconds=60)) == (1, 1)
    telegram = RecordingChannel(Channel.TELEGRAM)
    await workers(engine, uow_factory, catalogues, telegram).run_once(Channel.TELEGRAM)
    assert [user for user, _, _ in telegram.sent] == ["tg-a1"]
    statuses = {row["person_id"]: row["status"] for row in await outbox_rows(engine)}
    assert statuses == {a: "sent", b: "uncertain"}


async def test_call_centre_answer_once(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await builder.account("a")
    p = await builder.person("p", "a", prefs={"channels": ["telegram"], "outages_planned": False})
    for _ in range(2):
        async with uow_factory() as uow:
            await notify_call_center_answer(uow, 17, p, "Перерахунок зроблено.", T0)
            await uow.commit()
    telegram = RecordingChannel(Channel.TELEGRAM)
    await workers(engine, uow_factory, catalogues, telegram).run_once(Channel.TELEGRAM)
    assert telegram.texts() == [
        "📞 Відповідь кол-центру на ваше звернення № 17:\nПерерахунок зроблено."
    ]


async def test_batches_in_flight_never_wait_for_each_others_call_permits(
    builder: Builder,
    uow_factory,
    engine: AsyncEngine,
    catalogues: Catalogues,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Parts as large as the permits of the process, two batches at once: each part must
    # gather all its permits before its calls start (a part holding some while another
    # holds the rest waited for ever, and a fast broadcast stopped after 200 sends).
    monkeypatch.setattr("scheduler.delivery.CALLS_IN_FLIGHT", 4)
    await alert_people(builder, uow_factory, 16)

    class Slow(RecordingChannel):
        async def send(self, user_id: str, push: Push) -> DeliveryResult:
            await asyncio.sleep(0.02)
            return await super().send(user_id, push)

    telegram = Slow(Channel.TELEGRAM)
    w = workers(
        engine,
        uow_factory,
        catalogues,
        telegram,
        batch=8,
        in_flight=2,
        idle_poll_seconds=0.05,
        limits={Channel.TELEGRAM: 10_000.0},
    )
    w.start()
    try:
        async with asyncio.timeout(20):
            while len(telegram.sent) < 16:  # noqa: ASYNC110 - the channel has no event
                await asyncio.sleep(0.05)
    finally:
        await w.stop()
    assert sorted(user for user, _, _ in telegram.sent) == sorted(f"tg-p{n}" for n in range(16))


async def test_a_gated_channel_has_its_request_ready_before_the_row_is_marked_sending(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    """A kill between the `sending` mark and the wire loses the push: for a channel whose
    calls wait at the send gate, that stretch holds only the writes."""
    await alert_people(builder, uow_factory, 3)
    statuses: list[tuple[str, str, str]] = []

    async def status_of(user_id: str) -> str:
        rows = {row["identity_id"]: row["status"] for row in await outbox_rows(engine)}
        async with engine.connect() as connection:
            identity = await connection.scalar(
                select(ChannelIdentityRow.id).where(ChannelIdentityRow.external_id == user_id)
            )
        return rows[identity]

    class Gated(RecordingChannel):
        gated = True

        async def send(self, user_id: str, push: Push) -> DeliveryResult:
            before = await status_of(user_id)  # the request is being made ready
            await through_gate()
            statuses.append((user_id, before, await status_of(user_id)))
            return await super().send(user_id, push)

    telegram = Gated(Channel.TELEGRAM)
    # A claim near its lease's end: the gate opens once the mark's answer is in (a young
    # claim's calls go as soon as the mark is on its way: the next test).
    w = workers(engine, uow_factory, catalogues, telegram, batch=50, lease_seconds=1e-6)
    handled, _ = await w.run_once(Channel.TELEGRAM, limit=1000)
    assert handled == 3
    assert sorted(statuses) == [(f"tg-p{n}", "claimed", "sending") for n in range(3)]
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}


async def test_a_young_claims_calls_go_once_the_mark_is_on_the_wire(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    """PostgreSQL commits a statement it has received even if the worker dies next: the
    calls need not wait for the commit (a kill in that wait would lose them)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the mark's statement is not on a wire; the calls wait for it")
    await alert_people(builder, uow_factory, 3)
    async with engine.connect() as holder:
        transaction = await holder.begin()

        class Gated(RecordingChannel):
            gated = True
            locked = False

            async def send(self, user_id: str, push: Push) -> DeliveryResult:
                if not self.locked:
                    # Another transaction holds the claimed rows before the mark is made:
                    # its UPDATE waits for them, and its answer with it.
                    self.locked = True
                    await holder.execute(select(outbox.c.id).with_for_update())
                await through_gate()
                return await super().send(user_id, push)

        telegram = Gated(Channel.TELEGRAM)
        w = workers(engine, uow_factory, catalogues, telegram, batch=50)
        delivering = asyncio.create_task(w.run_once(Channel.TELEGRAM, limit=1000))
        for _ in range(300):
            if len(telegram.sent) == 3:
                break
            await asyncio.sleep(0.01)
        # The calls went while the mark waited.
        assert len(telegram.sent) == 3
        assert {row["status"] for row in await outbox_rows(engine)} == {CLAIMED}
        assert not delivering.done()
        await transaction.rollback()
    handled, _ = await asyncio.wait_for(delivering, 10)
    assert handled == 3
    assert {row["status"] for row in await outbox_rows(engine)} == {"sent"}


async def test_a_push_another_worker_took_back_is_refused_at_the_gate(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    await alert_people(builder, uow_factory, 2)
    refused: list[str] = []

    class Gated(RecordingChannel):
        gated = True

        async def send(self, user_id: str, push: Push) -> DeliveryResult:
            if user_id == "tg-p0":
                # Meanwhile its lease ran out and another worker put it back in the queue.
                async with engine.begin() as connection:
                    await connection.execute(
                        update(outbox)
                        .where(outbox.c.status == CLAIMED)
                        .where(outbox.c.person_id == builder.world.persons["p0"])
                        .values(status="pending", claimed_by=None)
                    )
            try:
                await through_gate()
            except GateRefused:
                refused.append(user_id)
                raise
            return await super().send(user_id, push)

    telegram = Gated(Channel.TELEGRAM)
    # Only a claim near its lease's end can be taken back: its gate waits for the answer.
    w = workers(engine, uow_factory, catalogues, telegram, batch=50, lease_seconds=1e-6)
    await w.run_once(Channel.TELEGRAM, limit=1000)
    assert refused == ["tg-p0"]
    assert [user for user, _, _ in telegram.sent] == ["tg-p1"]
    # The refused push is the other worker's to send: nothing was recorded for it here.
    statuses = {row["person_id"]: row["status"] for row in await outbox_rows(engine)}
    assert statuses[builder.world.persons["p0"]] == "pending"
    assert statuses[builder.world.persons["p1"]] == "sent"


async def test_stop_is_not_held_up_by_a_loop_that_was_busy_when_it_came(
    builder: Builder, uow_factory, engine: AsyncEngine, catalogues: Catalogues
) -> None:
    """Every loop sleeps on one wake-up event, and the first to wake clears it: a loop busy
    at the stop (here recovery, in its query) must not then sleep half a lease."""
    entered, release = asyncio.Event(), asyncio.Event()

    class SlowRecovery(OutboxQueue):
        async def recover(self, older_than):  # type: ignore[no-untyped-def]
            entered.set()
            await release.wait()
            return await super().recover(older_than)

    w = DeliveryWorkers(
        SlowRecovery(engine, "test-worker"),
        {Channel.TELEGRAM: RecordingChannel(Channel.TELEGRAM)},
        PushRenderer(uow_factory, catalogues, KYIV),
        uow_factory,
        DeliverySettings(lease_seconds=600, idle_poll_seconds=0.05),
    )
    w.start()
    await asyncio.wait_for(entered.wait(), 5)
    stopping = asyncio.create_task(w.stop())
    await asyncio.sleep(0.2)  # the Telegram loop wakes and clears the event
    release.set()
    # (Not wait_for: `stop` cancelled on its timeout would go on and end all the same.)
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done
