"""The call-centre, free-service and support queues (answers are stored and reach the
person through the outbox), and the export of submitted readings as JSON and CSV (SQLite
and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import (
    CallCenterRequest,
    FreeServiceOrder,
    ReadingSource,
    RequestStatus,
    SubmittedReading,
    SupportRequest,
    Zone,
)
from storage.orm import CallCenterRequestRow, FreeServiceOrderRow, MeterRow
from tests.api.conftest import NOW, Api, outbox_rows, rows
from tests.pushes.world import Builder


async def _requests(api: Api, world: Builder) -> dict[str, int]:
    account_id = await world.account("home")
    person_id = await world.person("ivan", "home")
    ids: dict[str, int] = {}
    async with api.app.uow_factory() as uow:
        for n, text in enumerate(("Чому рахунок такий великий?", "Лічильник гуде", "Інше")):
            stored = await uow.requests.add_call_center(
                CallCenterRequest(0, person_id, account_id, "unclear_bill", text,
                                  RequestStatus.NEW, NOW - timedelta(hours=3 - n))
            )  # fmt: skip
            ids[f"cc{n}"] = stored.id
        order = await uow.requests.add_free_service(
            FreeServiceOrder(0, person_id, account_id, "meter_check", "0501234567",
                             RequestStatus.NEW, NOW - timedelta(hours=1))
        )  # fmt: skip
        ids["fs"] = order.id
        await uow.commit()
    return ids


async def test_list_and_page_call_center_requests(api: Api, world: Builder) -> None:
    ids = await _requests(api, world)
    page = await api.call("GET", "/api/v1/call-center-requests?limit=2", status=200)
    assert [item["id"] for item in page["items"]] == [ids["cc0"], ids["cc1"]]
    assert page["next_after_id"] == ids["cc1"]
    rest = await api.call(
        "GET", f"/api/v1/call-center-requests?limit=2&after_id={ids['cc1']}", status=200
    )
    assert [item["id"] for item in rest["items"]] == [ids["cc2"]]
    assert rest["next_after_id"] is None
    one = await api.call("GET", f"/api/v1/call-center-requests/{ids['cc0']}", status=200)
    assert one["text"] == "Чому рахунок такий великий?" and one["status"] == "new"
    assert one["created_at"].endswith("Z")
    done = await api.call("GET", "/api/v1/call-center-requests?status=done", status=200)
    assert done == {"items": [], "next_after_id": None}
    for query in ("status=lost", "limit=0", "limit=5000", "after_id=-1", "colour=red"):
        await api.call("GET", f"/api/v1/call-center-requests?{query}", status=400)
    await api.call("GET", "/api/v1/call-center-requests/424242", status=404)


async def test_an_answer_is_stored_and_pushed_once(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    ids = await _requests(api, world)
    path = f"/api/v1/call-center-requests/{ids['cc0']}/answer"
    answer = {"answer": "Рахунок за жовтень перераховано: 512,40 грн."}
    result = await api.call("POST", path, json=answer, status=200)
    assert result["pushed"] is True
    assert result["request"]["status"] == "done"
    assert result["request"]["answer"] == answer["answer"]
    [stored] = await rows(
        engine, CallCenterRequestRow.__table__, CallCenterRequestRow.id == ids["cc0"]
    )
    assert (stored["status"], stored["answer"]) == ("done", answer["answer"])
    [push] = await outbox_rows(engine, "cc-answer:")
    assert push["person_id"] == world.world.persons["ivan"]
    assert push["payload"] == {
        "kind": "call_center.answer",
        "request_id": ids["cc0"],
        "answer": answer["answer"],
    }
    # A second answer would be a second, different message: refused.
    await api.call("POST", path, json={"answer": "інша відповідь"}, status=409)
    assert len(await outbox_rows(engine, "cc-answer:")) == 1
    rejected = await api.call(
        "POST", f"/api/v1/call-center-requests/{ids['cc1']}/answer",
        json={"answer": "Не наша зона відповідальності", "status": "rejected"}, status=200,
    )  # fmt: skip
    assert rejected["request"]["status"] == "rejected"


async def test_answer_input_errors(api: Api, world: Builder) -> None:
    ids = await _requests(api, world)
    path = f"/api/v1/call-center-requests/{ids['cc0']}/answer"
    for body in ({}, {"answer": ""}, {"answer": "x" * 4001}, {"answer": "ok", "status": "new"},
                 {"answer": "\x00"}):  # fmt: skip
        await api.call("POST", path, json=body, status=400)
    await api.call("POST", "/api/v1/call-center-requests/999999/answer", json={"answer": "x"},
                   status=404)  # fmt: skip


async def test_free_service_orders_move_on_and_the_person_is_told(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    ids = await _requests(api, world)
    page = await api.call("GET", "/api/v1/free-service-orders?status=new", status=200)
    assert [(o["id"], o["phone"]) for o in page["items"]] == [(ids["fs"], "0501234567")]
    path = f"/api/v1/free-service-orders/{ids['fs']}/answer"
    step = {"status": "in_progress", "answer": "Майстер прийде 2 грудня з 9:00 до 13:00"}
    result = await api.call("POST", path, json=step, status=200)
    assert (result["order"]["status"], result["pushed"]) == ("in_progress", True)
    await api.call("POST", path, json=step, status=409)  # the same step twice
    await api.call("POST", path, json={"status": "done", "answer": "Лічильник справний"},
                   status=200)  # fmt: skip
    await api.call("POST", path, json={"status": "rejected", "answer": "x"}, status=409)
    [stored] = await rows(engine, FreeServiceOrderRow.__table__)
    # The latest answer is kept (and shown in the person's chat), not only pushed.
    assert (stored["status"], stored["answer"]) == ("done", "Лічильник справний")
    assert stored["answered_at"] is not None
    pushes = await outbox_rows(engine, "fs-answer:")
    assert [(p["payload"]["status"], p["payload"]["answer"]) for p in pushes] == [
        ("in_progress", "Майстер прийде 2 грудня з 9:00 до 13:00"),
        ("done", "Лічильник справний"),
    ]
    assert pushes[0]["payload"]["kind"] == "free_service.answer"
    one = await api.call("GET", f"/api/v1/free-service-orders/{ids['fs']}", status=200)
    assert (one["status"], one["answer"]) == ("done", "Лічильник справний")
    assert one["answered_at"].endswith("Z")
    await api.call("GET", "/api/v1/free-service-orders/31337", status=404)


async def test_support_requests_are_listed_answered_once_and_pushed(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await world.account("home")
    person_id = await world.person("olena", "home")
    async with api.app.uow_factory() as uow:
        first, second = [
            await uow.requests.add_support(
                SupportRequest(
                    0,
                    person_id,
                    "Олена",
                    "olena@example.org",
                    "+380501234567",
                    "readings",
                    text,
                    RequestStatus.NEW,
                    NOW - timedelta(hours=n),
                )
            )
            for n, text in ((2, "Не приймає покази"), (1, "Інше питання"))
        ]
        await uow.commit()
    page = await api.call("GET", "/api/v1/support-requests?limit=1", status=200)
    assert [item["id"] for item in page["items"]] == [first.id]
    assert page["next_after_id"] == first.id
    one = await api.call("GET", f"/api/v1/support-requests/{second.id}", status=200)
    assert (one["login"], one["text"], one["answer"]) == (
        "olena@example.org",
        "Інше питання",
        None,
    )
    path = f"/api/v1/support-requests/{first.id}/answer"
    answer = "Покази приймаються з 29 числа; спробуйте ще раз."
    result = await api.call("POST", path, json={"answer": answer}, status=200)
    assert (result["request"]["status"], result["request"]["answer"], result["pushed"]) == (
        "done",
        answer,
        True,
    )
    await api.call("POST", path, json={"answer": "ще одна"}, status=409)
    [push] = await outbox_rows(engine, "sup-answer:")
    assert push["payload"] == {"kind": "support.answer", "request_id": first.id, "answer": answer}
    done = await api.call("GET", "/api/v1/support-requests?status=done", status=200)
    assert [item["id"] for item in done["items"]] == [first.id]
    await api.call("POST", path.replace(str(first.id), "999999"), json={"answer": "x"},
                   status=404)  # fmt: skip
    await api.call("POST", f"/api/v1/support-requests/{second.id}/answer", json={"answer": ""},
                   status=400)  # fmt: skip


async def _readings(api: Api, world: Builder, engine: AsyncEngine) -> None:
    first = await world.account("one")
    second = await world.account("two")
    meters = {m["account_id"]: m["id"] for m in await rows(engine, MeterRow.__table__)}
    async with api.app.uow_factory() as uow:
        for account_id, hours_ago, value, source in (
            (first, 50, 8100, ReadingSource.TELEGRAM),
            (first, 20, 8200, ReadingSource.VIBER),
            (second, 2, 4500, ReadingSource.CONSOLE),
        ):
            await uow.readings.add_submitted(
                SubmittedReading(None, account_id, meters[account_id],
                                 NOW - timedelta(hours=hours_ago), {Zone.DAY: value}, source)
            )  # fmt: skip
        await uow.commit()


async def test_export_submitted_readings_since_as_json_and_csv(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _readings(api, world, engine)
    since = (NOW - timedelta(days=1)).isoformat()
    page = await api.call("GET", "/api/v1/readings/submitted", params={"since": since}, status=200)
    assert [(r["account_number"], r["values"], r["source"]) for r in page["readings"]] == [
        ("2010000001", {"day": 8200}, "viber"),
        ("2010000002", {"day": 4500}, "console"),
    ]
    assert page["readings"][0]["meter_serial"] == "S1"
    assert page["next_after_id"] is None
    first = await api.call(
        "GET", "/api/v1/readings/submitted", params={"since": since, "limit": "1"}, status=200
    )
    assert first["next_after_id"] == page["readings"][0]["id"]
    text = await api.call(
        "GET", "/api/v1/readings/submitted", params={"since": since, "format": "csv"}, status=200
    )
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["account_number"], r["zone"], r["value"]) for r in table] == [
        ("2010000001", "day", "8200"),
        ("2010000002", "day", "4500"),
    ]
    assert table[0]["taken_at"] == "2026-11-26T14:00:00+00:00"
    until = (NOW - timedelta(hours=10)).isoformat()
    narrowed = await api.call(
        "GET", "/api/v1/readings/submitted", params={"since": since, "until": until}, status=200
    )
    assert [r["values"] for r in narrowed["readings"]] == [{"day": 8200}]


async def test_export_query_errors(api: Api) -> None:
    for params in ({}, {"since": "yesterday"}, {"since": "2026-11-01T00:00:00"},
                   {"since": "2026-11-01T00:00:00+02:00", "format": "xml"},
                   {"since": "2026-11-02T00:00:00+02:00", "until": "2026-11-01T00:00:00+02:00"},
                   {"since": "0001-01-01T00:00:00+14:00"}):  # fmt: skip
        answer = await api.call("GET", "/api/v1/readings/submitted", params=params, status=400)
        assert answer["error"] == "bad_request"


async def test_csv_export_neutralises_formulas(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    """Issue 18: a meter serial `=cmd|' /C calc'!A0` is shown by a spreadsheet, not run."""
    await _readings(api, world, engine)
    evil = "=cmd|' /C calc'!A0"
    async with engine.begin() as connection:
        await connection.execute(update(MeterRow).values(serial=evil))
    since = (NOW - timedelta(days=1)).isoformat()
    text = await api.call(
        "GET", "/api/v1/readings/submitted", params={"since": since, "format": "csv"}, status=200
    )
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["meter_serial"] for row in table} == {"'" + evil}
    page = await api.call("GET", "/api/v1/readings/submitted", params={"since": since}, status=200)
    assert page["readings"][0]["meter_serial"] == evil  # JSON is data: kept as stored
