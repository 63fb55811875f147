"""core.outages and core.notifications against the in-memory fakes: the rules without a
database (targeting by normalised address, told-only follow-ups, channel rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.delivery import Route, Topic, choose_route
from core.model import (
    Account,
    Address,
    Channel,
    ChannelIdentity,
    NotificationPrefs,
    OutageKind,
    OutageTarget,
    Person,
)
from core.notifications import notify_call_center_answer
from core.outages import (
    OutageChanges,
    OutageDraft,
    OutageInvalid,
    building_matches,
    cancel_outage,
    publish_outage,
    queue_due_reminders,
    update_outage,
)
from tests.fakes import FakeData, FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def world() -> tuple[FakeUnitOfWorkFactory, dict[str, int]]:
    data = FakeData()
    people: dict[str, int] = {}
    for n, (street, building, group) in enumerate(
        [("вул. Кузьми Скрябіна", "39а", "3.2"), ("Кузьми Скрябіна вулиця", "12", "1.1")]
    ):
        account = Account(
            id=100 + n,
            number=f"20100{n}",
            eic=f"62Z{n}",
            holder_name="Т",
            address=Address("Київ", street, building),
            dso_id=1,
            supplier_id=1,
            outage_group=group,
        )
        data.accounts[account.id] = account
        person = Person(id=200 + n)
        data.persons[person.id] = person
        data.identities[300 + n] = ChannelIdentity(300 + n, person.id, Channel.TELEGRAM, str(n))
        data.links[(person.id, account.id)] = NOW
        people[f"p{n}"] = person.id
    return FakeUnitOfWorkFactory(data), people


def draft(*targets: OutageTarget) -> OutageDraft:
    return OutageDraft(
        OutageKind.PLANNED,
        1,
        NOW + timedelta(days=1),
        NOW + timedelta(days=1, hours=5),
        "Ремонт",
        tuple(targets),
    )


async def test_address_building_and_told_only_follow_ups() -> None:
    factory, people = world()
    async with factory() as uow:
        outage = await publish_outage(
            uow,
            draft(
                OutageTarget(
                    settlement="м. Київ", street="вулиця Кузьми Скрябіна", buildings=("39А",)
                )
            ),
            NOW,
        )
        rows = uow.outbox.rows  # type: ignore[attr-defined]
        assert {p.person_id for p in rows.values()} == {people["p0"]}
        for push in rows.values():
            push.status = "sent"
        await update_outage(uow, outage.id, OutageChanges(reason="Заміна опор"), NOW)
        await cancel_outage(uow, outage.id, NOW)
        kinds = sorted(p.payload["kind"] for p in rows.values())
        assert kinds == ["outage.cancelled", "outage.changed", "outage.published"]
        assert {p.person_id for p in rows.values()} == {people["p0"]}


async def test_reminders_once_and_opt_out() -> None:
    factory, people = world()
    async with factory() as uow:
        uow.data.prefs[people["p1"]] = NotificationPrefs(
            people["p1"], channels=frozenset({Channel.TELEGRAM}), outages_planned=False
        )
        await publish_outage(
            uow, draft(OutageTarget(outage_group="3.2"), OutageTarget(outage_group="1.1")), NOW
        )
        hour_before = NOW + timedelta(days=1, hours=-1)
        assert await queue_due_reminders(uow, hour_before, UTC) == 1
        assert await queue_due_reminders(uow, hour_before, UTC) == 0
        assert await notify_call_center_answer(uow, 7, people["p1"], "Так", NOW)
        assert not await notify_call_center_answer(uow, 7, people["p1"], "Так", NOW)


async def test_invalid_outages_are_refused() -> None:
    factory, _ = world()
    async with factory() as uow:
        with pytest.raises(OutageInvalid):
            await publish_outage(uow, draft(), NOW)
        with pytest.raises(OutageInvalid):
            await publish_outage(
                uow, replace(draft(OutageTarget(outage_group="1")), ends_at=NOW), NOW
            )


def test_building_specs() -> None:
    assert building_matches("39а", "39А") and building_matches("1-15", "7б")
    assert not building_matches("1-15", "150") and not building_matches("39", "39а")


def test_route_ranks() -> None:
    recent = NOW - timedelta(hours=1)
    routes = [
        Route(Channel.VIBER, 1),
        Route(Channel.MESSENGER, 2, recent),
        Route(Channel.EMAIL, None),
    ]
    prefs = NotificationPrefs(
        1, channels=frozenset({Channel.VIBER, Channel.MESSENGER, Channel.EMAIL})
    )
    assert choose_route(routes, prefs, Topic.OUTAGES_EMERGENCY, NOW).channel == Channel.MESSENGER
    later = NOW + timedelta(days=2)
    assert choose_route(routes, prefs, Topic.OUTAGES_EMERGENCY, later).channel == Channel.VIBER
    assert (
        choose_route(routes, prefs, Topic.OUTAGES_EMERGENCY, later, exclude=[Channel.VIBER]).channel
        == Channel.EMAIL
    )
    only_fb = [Route(Channel.MESSENGER, 2, NOW - timedelta(days=2))]
    assert choose_route(only_fb, None, Topic.READING_REMINDERS, NOW) is None
    assert choose_route(only_fb, None, Topic.NEW_BILLS, NOW) is not None
