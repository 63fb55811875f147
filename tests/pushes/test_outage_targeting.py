"""Outage alerts on SQLite and PostgreSQL: targeting by group and by normalised address in
one INSERT ... SELECT, channel choice and opt-outs, changes and cancellations to those
already told only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.delivery import Route, Topic, choose_route
from core.model import Channel, OutageKind, OutageTarget
from core.notifications import notify_person
from core.outages import (
    OutageChanges,
    OutageClosed,
    OutageDraft,
    cancel_outage,
    publish_outage,
    restore_outage,
    update_outage,
)
from storage.outbox import SENT, outbox
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.pushes.conftest import outbox_rows
from tests.pushes.world import T0, Builder

START = T0 + timedelta(days=2)


def draft(
    *targets: OutageTarget, kind: OutageKind = OutageKind.PLANNED, dso_id: int
) -> OutageDraft:
    return OutageDraft(
        kind=kind,
        dso_id=dso_id,
        starts_at=START,
        ends_at=START + timedelta(hours=6),
        reason="Ремонт ТП-1234",
        targets=tuple(targets),
    )


async def publish(uow_factory: SqlAlchemyUnitOfWorkFactory, d: OutageDraft):
    async with uow_factory() as uow:
        outage = await publish_outage(uow, d, T0)
        await uow.commit()
    return outage


def recipients(rows: list[dict]) -> dict[int, str]:
    return {row["person_id"]: row["channel"] for row in rows}


async def mark_all_sent(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(outbox).values(status=SENT, sent_at=T0))


async def test_group_targeting_hits_only_the_group_and_the_dso(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await builder.account("a32", group="3.2")
    await builder.account("b32", group="3.2", street="просп. Перемоги", building="1")
    await builder.account("c11", group="1.1")
    await builder.account("d32_other", group="3.2", dso=builder.world.other_dso_id)
    await builder.account("e4", group="4.1")
    ann = await builder.person("ann", "a32", "b32")  # two accounts hit: one message
    bob = await builder.person("bob", "c11")
    cat = await builder.person("cat", "d32_other")
    dan = await builder.person("dan", "e4")
    w = builder.world
    outage = await publish(
        uow_factory,
        draft(OutageTarget(outage_group="3.2"), OutageTarget(outage_group="4.1"), dso_id=w.dso_id),
    )
    rows = await outbox_rows(engine)
    assert recipients(rows) == {ann: "telegram", dan: "telegram"}
    assert all(row["subject"] == f"outage:{outage.id}" for row in rows)
    assert rows[0]["payload"]["kind"] == "outage.published"
    assert rows[0]["payload"]["groups"] == ["3.2", "4.1"]
    assert {bob, cat}.isdisjoint(recipients(rows))
    # Publishing the same again (an import re-run with the external id) queues nothing.
    async with uow_factory() as uow:
        assert (
            await uow.outbox.enqueue_outage_targets(
                outage, rows[0]["event"], "outages_planned", rows[0]["payload"], T0
            )
            == 0
        )


async def test_address_targeting_normalises_streets_settlements_and_buildings(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await builder.account("s39a", street="вул. Кузьми Скрябіна", building="39А", group=None)
    await builder.account("s43", street="Кузьми Скрябіна вулиця", building="43", group=None)
    await builder.account("s45b", street="КУЗЬМИ СКРЯБІНА", building="45б", group=None)
    await builder.account("s46", street="вулиця Кузьми Скрябіна", building="46", group=None)
    await builder.account("s450", street="вулиця Кузьми Скрябіна", building="450", group=None)
    await builder.account(
        "lviv", street="вул. Кузьми Скрябіна", building="39а", settlement="Львів", group=None
    )
    await builder.account("sol", street="вул. Солом'янська", building="5", group=None)
    await builder.account(
        "sol2", street="Соломʼянська", building="7", group=None, settlement="м. Київ"
    )
    names = ["s39a", "s43", "s45b", "s46", "s450", "lviv", "sol", "sol2"]
    ids = {name: await builder.person(name, name) for name in names}
    w = builder.world
    await publish(
        uow_factory,
        draft(
            OutageTarget(
                settlement="м. Київ", street="вулиця Кузьми Скрябіна", buildings=("39а", "41-45")
            ),
            OutageTarget(settlement="Київ", street="Солом’янська"),
            dso_id=w.dso_id,
        ),
    )
    hit = set(recipients(await outbox_rows(engine)))
    assert hit == {ids["s39a"], ids["s43"], ids["s45b"], ids["sol"], ids["sol2"]}


async def test_channel_choice_and_opt_outs(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await builder.account("acc")
    recent = T0 - timedelta(hours=2)
    old = T0 - timedelta(days=3)
    both = await builder.person("both", "acc", channels={"viber": "v1", "telegram": "t1"})
    viber_in = await builder.person(
        "viber_in",
        "acc",
        channels={"viber": "v2", "messenger": "m2"},
        last_inbound={"viber": old, "messenger": recent},
    )
    viber_out = await builder.person(
        "viber_out", "acc", channels={"viber": "v3"}, last_inbound={"viber": old}
    )
    fb_out = await builder.person(
        "fb_out", "acc", channels={"messenger": "m4"}, last_inbound={"messenger": old}
    )
    fb_out_mail = await builder.person(
        "fb_out_mail",
        "acc",
        channels={"messenger": "m5"},
        email="m5@example.org",
        prefs={"channels": ["messenger", "email"]},
        last_inbound={"messenger": old},
    )
    opted_out = await builder.person(
        "opted_out", "acc", prefs={"channels": ["telegram"], "outages_planned": False}
    )
    no_channels = await builder.person("no_channels", "acc", prefs={"channels": []})
    only_viber = await builder.person(
        "only_viber",
        "acc",
        channels={"telegram": "t8", "viber": "v8"},
        prefs={"channels": ["viber"]},
    )
    blocked = await builder.person(
        "blocked", "acc", channels={"telegram": "t9", "viber": "v9"}, unreachable=("telegram",)
    )
    await publish(uow_factory, draft(OutageTarget(outage_group="3.2"), dso_id=builder.world.dso_id))
    got = recipients(await outbox_rows(engine))
    assert got == {
        both: "telegram",
        viber_in: "messenger",  # in its 24-hour window: free, beats billed Viber
        viber_out: "viber",  # billed, but the only way
        fb_out_mail: "email",  # Messenger may not carry an alert past 24 h
        only_viber: "viber",
        blocked: "viber",
    }
    assert fb_out not in got and opted_out not in got and no_channels not in got


async def test_change_goes_to_those_told_and_says_what_changed(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await builder.account("g32", group="3.2")
    await builder.account("g11", group="1.1")
    await builder.account("g55", group="5.5")
    told = await builder.person("told", "g32")
    pending = await builder.person("pending", "g11")
    newcomer = await builder.person("newcomer", "g55")
    w = builder.world
    outage = await publish(uow_factory, draft(OutageTarget(outage_group="3.2"), dso_id=w.dso_id))
    await mark_all_sent(engine)  # "told" has been told
    async with uow_factory() as uow:
        outage = await update_outage(
            uow,
            outage.id,
            OutageChanges(targets=(OutageTarget(outage_group="1.1"),)),
            T0 + timedelta(minutes=5),
        )
        await uow.commit()
    rows = await outbox_rows(engine)
    changed = [r for r in rows if r["payload"]["kind"] == "outage.changed"]
    assert recipients(changed) == {told: "telegram"}
    assert changed[0]["payload"]["affected"] is False  # no longer hits them
    assert changed[0]["payload"]["changed"]["groups"] == {"old": ["3.2"], "new": ["1.1"]}
    alerts = [r for r in rows if r["payload"]["kind"] == "outage.published"]
    assert set(recipients(alerts)) == {told, pending}
    # A time change: the pending alert of `pending` is withdrawn and re-queued with the
    # new time; `told` (no longer hit) hears nothing more; nobody else is told.
    async with uow_factory() as uow:
        await update_outage(
            uow,
            outage.id,
            OutageChanges(starts_at=START + timedelta(hours=1)),
            T0 + timedelta(minutes=10),
        )
        await uow.commit()
    rows = await outbox_rows(engine)
    live = [r for r in rows if r["status"] == "pending"]
    assert recipients(live) == {pending: "telegram"}
    assert live[0]["payload"]["kind"] == "outage.published"
    assert live[0]["payload"]["starts_at"] == (START + timedelta(hours=1)).isoformat()
    assert newcomer not in recipients(rows)
    # Now `pending` is told; a cancellation reaches exactly them.
    await mark_all_sent(engine)
    async with uow_factory() as uow:
        await cancel_outage(uow, outage.id, T0 + timedelta(minutes=20))
        await uow.commit()
    cancelled = await outbox_rows(engine, f"outage:{outage.id}:cancelled")
    assert recipients(cancelled) == {pending: "telegram"}
    async with uow_factory() as uow:
        with pytest.raises(OutageClosed):
            await restore_outage(uow, outage.id, T0 + timedelta(hours=1))


async def test_emergency_alert_and_restoration(
    builder: Builder, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await builder.account("a", street="просп. Перемоги", building="10", group=None)
    p = await builder.person("p", "a", prefs={"channels": ["telegram"]})
    q = await builder.person("q", "a", prefs={"channels": ["telegram"], "outages_emergency": False})
    d = OutageDraft(
        kind=OutageKind.EMERGENCY,
        dso_id=builder.world.dso_id,
        starts_at=T0 - timedelta(hours=1),
        ends_at=None,
        reason="Пошкодження кабелю",
        targets=(OutageTarget(settlement="Київ", street="Перемоги проспект"),),
    )
    outage = await publish(uow_factory, d)
    rows = await outbox_rows(engine)
    assert recipients(rows) == {p: "telegram"} and rows[0]["payload"]["kind"] == "outage.emergency"
    await mark_all_sent(engine)
    async with uow_factory() as uow:
        await restore_outage(uow, outage.id, T0 + timedelta(hours=2))
        await uow.commit()
    restored = await outbox_rows(engine, f"outage:{outage.id}:restored")
    assert recipients(restored) == {p: "telegram"}
    assert q not in recipients(await outbox_rows(engine))


async def test_choices_of_channels_that_are_off_fall_back_and_agree_with_core(
    builder: Builder, engine: AsyncEngine
) -> None:
    """An installation with the console, Telegram and Viber on; Messenger and e-mail off."""
    on = frozenset({Channel.CONSOLE, Channel.TELEGRAM, Channel.VIBER})
    factory = SqlAlchemyUnitOfWorkFactory(engine, on)
    await builder.account("acc")
    recent = T0 - timedelta(hours=2)
    people = {
        # Chose e-mail only, but SMTP is not configured: their messenger, not nothing.
        "mail_only": await builder.person(
            "mail_only", "acc", email="a@example.org", prefs={"channels": ["email"]}
        ),
        # Chose a messenger that is off now: the ones they use that are on.
        "fb_only": await builder.person(
            "fb_only",
            "acc",
            channels={"messenger": "m1", "console": "c1"},
            prefs={"channels": ["messenger"]},
        ),
        # Messenger (off) would be free in its window; Viber (on) is billed but delivers.
        "fb_viber": await builder.person(
            "fb_viber",
            "acc",
            channels={"messenger": "m2", "viber": "v2"},
            last_inbound={"messenger": recent},
        ),
        # Only a channel that is off: queued there, waiting for it (never dropped).
        "fb_alone": await builder.person(
            "fb_alone", "acc", channels={"messenger": "m3"}, last_inbound={"messenger": recent}
        ),
        # Turned every channel off on purpose: no alerts.
        "silent": await builder.person("silent", "acc", prefs={"channels": []}),
        # The console chose nothing else (its old empty list is gone): the console.
        "console": await builder.person(
            "console", "acc", channels={"console": "c5"}, prefs={"channels": ["console"]}
        ),
    }
    await publish(factory, draft(OutageTarget(outage_group="3.2"), dso_id=builder.world.dso_id))
    got = recipients(await outbox_rows(engine))
    expected = {
        people["mail_only"]: "telegram",
        people["fb_only"]: "console",
        people["fb_viber"]: "viber",
        people["fb_alone"]: "messenger",
        people["console"]: "console",
    }
    assert got == expected
    # An answer to what they asked reaches even the one who silenced every channel.
    async with factory() as uow:
        assert await notify_person(
            uow, people["silent"], Topic.ANSWERS, {"kind": "text", "text": "x"}, "ans:1", T0
        )
        await uow.commit()
    [answer] = await outbox_rows(engine, "ans:")
    assert answer["channel"] == "telegram"
    # core.delivery picks the same for one person (re-routing uses it).
    async with factory() as uow:
        for name, person_id in people.items():
            prefs = await uow.persons.prefs(person_id)
            routes = [
                Route(i.channel, i.id, recent if i.channel == Channel.MESSENGER else None)
                for i in await uow.persons.identities(person_id)
            ]
            person = await uow.persons.get(person_id)
            if person is not None and person.email:
                routes.append(Route(Channel.EMAIL, None))
            route = choose_route(routes, prefs, Topic.OUTAGES_PLANNED, T0, on=on)
            assert (route.channel.value if route else None) == expected.get(person_id), name
