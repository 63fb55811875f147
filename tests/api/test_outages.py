"""Outages through the API: publish, read, update, cancel and restore, each storing the
change and queueing its alerts in one unit of work (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.orm import OutageRow
from storage.outbox import SENT, outbox
from tests.api.conftest import AUTH, NOW, Api, outbox_rows, rows
from tests.pushes.world import Builder


def planned(world: Builder, **overrides: object) -> dict:
    body = {
        "kind": "planned",
        "dso_id": world.world.dso_id,
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=1, hours=4)).isoformat(),
        "reason": "ремонт лінії",
        "targets": [{"outage_group": "3.2"}],
    }
    body.update(overrides)
    return body


async def _everyone_told(engine: AsyncEngine) -> None:
    """As if delivery had sent every queued push."""
    async with engine.begin() as connection:
        await connection.execute(update(outbox).values(status=SENT, sent_at=NOW))


async def _people(world: Builder) -> None:
    await world.account("a32")  # group 3.2, вул. Кузьми Скрябіна 39
    await world.account("a41", group="4.1", street="вулиця Хрещатик", building="5")
    await world.person("ivan", "a32")
    await world.person("oksana", "a41")


async def test_publish_alerts_everyone_targeted_once(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _people(world)
    body = planned(world, targets=[{"outage_group": "3.2"},
                                   {"settlement": "Київ", "street": "Хрещатик вул.",
                                    "buildings": ["1-9"]}])  # fmt: skip
    outage = await api.call("POST", "/api/v1/outages", json=body, status=201)
    assert outage["kind"] == "planned" and outage["cancelled"] is False
    assert [t["outage_group"] for t in outage["targets"]] == ["3.2", None]
    alerts = await outbox_rows(engine, f"outage:{outage['id']}:alert")
    assert sorted(a["person_id"] for a in alerts) == sorted(world.world.persons.values())
    assert {a["payload"]["kind"] for a in alerts} == {"outage.published"}
    read = await api.call("GET", f"/api/v1/outages/{outage['id']}", status=200)
    assert read == outage


async def test_an_external_id_publishes_once(api: Api, world: Builder, engine: AsyncEngine) -> None:
    await _people(world)
    body = planned(world, external_id="grid-2026-11-28-17")
    first = await api.call("POST", "/api/v1/outages", json=body, status=201)
    second = await api.call("POST", "/api/v1/outages", json=body, status=200)
    assert first["id"] == second["id"]
    assert len(await rows(engine, OutageRow.__table__)) == 1
    assert len(await outbox_rows(engine, "outage:")) == 1


async def test_concurrent_posts_of_one_external_id_make_one_outage_and_one_alert_each(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    """A grid system retrying after a timeout: 20 posts at once, one outage (issue 18)."""
    await _people(world)
    body = planned(world, external_id="grid-retry-1",
                   targets=[{"outage_group": "3.2"}, {"outage_group": "4.1"}])  # fmt: skip

    async def post() -> tuple[int, dict]:
        response = await api.client.post("/api/v1/outages", json=body, headers=AUTH)
        return response.status, await response.json()

    answers = await asyncio.gather(*(post() for _ in range(20)))
    assert sorted(status for status, _ in answers) == [200] * 19 + [201]
    assert len({answer["id"] for _, answer in answers}) == 1
    assert len(await rows(engine, OutageRow.__table__)) == 1
    alerts = await outbox_rows(engine, "outage:")
    assert sorted(a["person_id"] for a in alerts) == sorted(world.world.persons.values())


async def test_update_tells_those_told_what_changed(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _people(world)
    outage = await api.call("POST", "/api/v1/outages", json=planned(world), status=201)
    await _everyone_told(engine)
    api.clock.set(NOW + timedelta(minutes=5))
    later = (NOW + timedelta(days=1, hours=6)).isoformat()
    changed = await api.call(
        "PATCH", f"/api/v1/outages/{outage['id']}", json={"ends_at": later}, status=200
    )
    assert changed["ends_at"] != outage["ends_at"]
    news = await outbox_rows(engine, f"outage:{outage['id']}:changed")
    assert [n["person_id"] for n in news] == [world.world.persons["ivan"]]
    assert "ends_at" in news[0]["payload"]["changed"]
    # The same change again is no change: nobody is told twice.
    await api.call("PATCH", f"/api/v1/outages/{outage['id']}", json={"ends_at": later}, status=200)
    assert len(await outbox_rows(engine, f"outage:{outage['id']}:changed")) == 1


async def test_cancel_and_restore_tell_those_told_and_close_the_outage(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _people(world)
    first = await api.call("POST", "/api/v1/outages", json=planned(world), status=201)
    emergency = await api.call(
        "POST", "/api/v1/outages",
        json=planned(world, kind="emergency", starts_at=(NOW - timedelta(hours=1)).isoformat(),
                     ends_at=None),
        status=201,
    )  # fmt: skip
    await _everyone_told(engine)
    cancelled = await api.call(
        "POST", f"/api/v1/outages/{first['id']}/cancel", json={"reason": "роботи перенесено"},
        status=200,
    )  # fmt: skip
    assert cancelled["cancelled"] is True
    [note] = await outbox_rows(engine, f"outage:{first['id']}:cancelled")
    assert note["payload"]["note"] == "роботи перенесено"
    restored = await api.call("POST", f"/api/v1/outages/{emergency['id']}/restore", status=200)
    assert restored["restored_at"] is not None
    assert len(await outbox_rows(engine, f"outage:{emergency['id']}:restored")) == 1
    # Closed outages do not change any more.
    for path, body in (
        (f"/api/v1/outages/{first['id']}/cancel", {}),
        (f"/api/v1/outages/{first['id']}/restore", {}),
        (f"/api/v1/outages/{emergency['id']}", {"reason": "x"}),
    ):
        method = "PATCH" if path.endswith(str(emergency["id"])) else "POST"
        answer = await api.call(method, path, json=body, status=409)
        assert answer["error"] == "conflict"


async def test_outage_input_errors_are_400_and_unknown_ids_404(api: Api, world: Builder) -> None:
    bad_bodies = [
        planned(world, targets=[]),
        planned(world, targets=[{"settlement": "Київ"}]),
        planned(world, starts_at="2026-11-28T10:00:00"),  # no offset
        planned(world, ends_at=(NOW - timedelta(days=3)).isoformat()),
        planned(world, dso_id=424242),
        planned(world, kind="sometimes"),
        planned(world, starts_at="9999-12-31T23:59:59+14:00"),
        planned(world, reason="a\x00b"),
        {**planned(world), "colour": "red"},
        planned(world, targets=[{"outage_group": "3.2; DROP"}]),  # not a group label
        planned(world, targets=[{"outage_group": "<b>1</b>"}]),
    ]
    for body in bad_bodies:
        answer = await api.call("POST", "/api/v1/outages", json=body, status=400)
        assert answer["error"] == "bad_request" and (answer["problems"] or answer["message"])
    answer = await api.call("POST", "/api/v1/outages", data=b"{", status=400)
    assert answer["problems"]
    for path in ("/api/v1/outages/999999", "/api/v1/outages/0", "/api/v1/outages/abc",
                 "/api/v1/outages/99999999999999999999"):  # fmt: skip
        await api.call("GET", path, status=404)
        await api.call("PATCH", path, json={"reason": "x"}, status=404)
        await api.call("POST", f"{path}/cancel", status=404)
        await api.call("POST", f"{path}/restore", status=404)


async def test_restoration_cannot_be_in_the_future(api: Api, world: Builder) -> None:
    await _people(world)
    outage = await api.call("POST", "/api/v1/outages", json=planned(world), status=201)
    answer = await api.call(
        "POST", f"/api/v1/outages/{outage['id']}/restore",
        json={"restored_at": (NOW + timedelta(hours=1)).isoformat()}, status=400,
    )  # fmt: skip
    assert answer["problems"][0]["field"] == "restored_at"


async def test_duplicate_json_keys_are_refused(api: Api, world: Builder) -> None:
    """Issue 18: a key twice is a bug in the sender; "last wins" would guess."""
    body = json.dumps(planned(world))[:-1] + ', "kind": "emergency"}'
    answer = await api.call(
        "POST", "/api/v1/outages", data=body, headers={"Content-Type": "application/json"},
        status=400,
    )  # fmt: skip
    assert answer["problems"][0]["field"] == "kind"
    nested = json.dumps(planned(world)).replace(
        '{"outage_group": "3.2"}', '{"outage_group": "3.2", "outage_group": "1.1"}'
    )
    await api.call("POST", "/api/v1/outages", data=nested, status=400)
