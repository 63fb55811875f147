"""Imports through the API: JSON and CSV, good, bad and mixed batches, idempotent re-import,
every kind, bill PDFs and the new-bill notices they queue (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.eu import eic as stdnum_eic

from operator_api import operations
from storage.orm import (
    AccountRow,
    BillingReadingRow,
    BillRow,
    ConsumptionRow,
    MeterRow,
    PaymentRow,
)
from tests.api.conftest import AUTH, Api, outbox_rows, rows
from tests.pushes.world import Builder

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def eic(n: int) -> str:
    """A valid Ukrainian EIC with body number n."""
    for last in "0123456789":  # some bodies have no valid check character ("-")
        body = f"62Z{n:011d}{last}"
        candidate = body + stdnum_eic.calc_check_digit(body)
        if stdnum_eic.is_valid(candidate):
            return candidate
    raise AssertionError(n)


def account(n: int, world: Builder, **overrides: Any) -> dict[str, Any]:
    row = {
        "number": f"77000{n:05d}",
        "eic": eic(n),
        "holder_name": "Петренко Петро",
        "settlement": "м. Київ",
        "street": "вул. Хрещатик",
        "building": str(n),
        "apartment": "",
        "outage_group": "3.2",
        "dso_id": world.world.dso_id,
        "supplier_id": world.supplier,
        "tariff_plan": "single",
        "contract_number": f"C-{n}",
        "contract_date": "2020-01-15",
        "opening_balance": "0.00",
    }
    row.update(overrides)
    return row


def to_csv(rows_: list[dict[str, Any]], delimiter: str = ",") -> bytes:
    header = list(rows_[0])
    lines = [delimiter.join(header)]
    lines += [delimiter.join(str(row[name]) for name in header) for row in rows_]
    return ("\n".join(lines) + "\n").encode()


async def post(api: Api, kind: str, body: Any, *, status: int, skip_bad: bool = False,
               csv: bool = False) -> dict:  # fmt: skip
    query = "?skip_bad=true" if skip_bad else ""
    if csv:
        return await api.call(
            "POST", f"/api/v1/imports/{kind}{query}", data=body,
            headers={"Content-Type": "text/csv"}, status=status,
        )  # fmt: skip
    return await api.call(
        "POST", f"/api/v1/imports/{kind}{query}", json={"rows": body}, status=status
    )


async def test_accounts_json_then_the_same_again_changes_nothing(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    batch = [account(n, world) for n in range(1, 4)]
    report = await post(api, "accounts", batch, status=200)
    assert (report["received"], report["inserted"], report["updated"]) == (3, 3, 0)
    assert report["applied"] and report["problems"] == []
    again = await post(api, "accounts", batch, status=200)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    stored = await rows(engine, AccountRow.__table__)
    assert [r["number"] for r in stored] == ["7700000001", "7700000002", "7700000003"]
    assert stored[0]["street_key"] == "хрещатик"  # normalised for outage targeting
    assert stored[0]["opening_balance"] == Decimal("0.00")


async def test_a_changed_account_is_updated_in_place(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await post(api, "accounts", [account(1, world)], status=200)
    report = await post(
        api, "accounts", [account(1, world, outage_group="4.1", tariff_plan="two_zone")],
        status=200,
    )  # fmt: skip
    assert (report["inserted"], report["updated"]) == (0, 1)
    [stored] = await rows(engine, AccountRow.__table__)
    assert (stored["outage_group"], stored["tariff_plan"]) == ("4.1", "two_zone")


async def test_a_batch_with_bad_rows_writes_nothing_and_names_line_field_reason(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    batch = [
        account(1, world),
        account(2, world, eic=eic(2)[:-1] + ("A" if eic(2)[-1] != "A" else "B")),
        account(3, world, number="12-34"),
        account(4, world, dso_id=999999),
        account(5, world, tariff_plan="four_zone", surprise="x"),
        account(1, world),
    ]
    body = await post(api, "accounts", batch, status=400)
    assert body["error"] == "bad_rows"
    report = body["report"]
    assert report["applied"] is False and report["inserted"] == 0
    problems = {(p["line"], p["field"]): p["reason"] for p in body["problems"]}
    assert problems[(2, "eic")] == "wrong check character"
    assert problems[(3, "number")] == "must be 6–13 digits"
    assert problems[(4, "dso_id")] == "unknown DSO"
    assert "single" in problems[(5, "tariff_plan")]
    assert problems[(5, "surprise")] == "unknown field"
    assert problems[(6, None)] == "same key as line 1"
    assert await rows(engine, AccountRow.__table__) == []


async def test_skip_bad_writes_the_good_rows_and_reports_the_bad(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    batch = [account(1, world), account(2, world, building=""), account(3, world)]
    report = await post(api, "accounts", batch, status=200, skip_bad=True)
    assert (report["inserted"], report["skipped"]) == (2, 1)
    assert report["problems"] == [{"line": 2, "field": "building", "reason": "required"}]
    assert len(await rows(engine, AccountRow.__table__)) == 2


async def test_an_eic_of_another_account_is_a_bad_row(api: Api, world: Builder) -> None:
    await post(api, "accounts", [account(1, world)], status=200)
    body = await post(api, "accounts", [account(2, world, eic=eic(1))], status=400)
    assert body["problems"] == [
        {"line": 1, "field": "eic", "reason": "belongs to account 7700000001"}
    ]


@pytest.mark.parametrize("delimiter", [",", ";"])
async def test_accounts_csv_lines_count_from_the_header(
    api: Api, world: Builder, engine: AsyncEngine, delimiter: str
) -> None:
    batch = [account(1, world), account(2, world, eic="62Z"), account(3, world)]
    body = await post(api, "accounts", to_csv(batch, delimiter), status=400, csv=True)
    assert body["problems"] == [{"line": 3, "field": "eic", "reason": "must be 16 characters"}]
    report = await post(
        api, "accounts", to_csv(batch, delimiter), status=200, csv=True, skip_bad=True
    )
    assert (report["inserted"], report["skipped"]) == (2, 1)
    again = await post(api, "accounts", to_csv([batch[0]], delimiter), status=200, csv=True)
    assert again["unchanged"] == 1


async def test_csv_with_a_bom_quotes_and_blank_lines(api: Api, world: Builder) -> None:
    row = account(1, world, holder_name='Шевченко "Тарас", Григорович')
    header = ",".join(row)
    values = ",".join(
        '"Шевченко ""Тарас"", Григорович"' if name == "holder_name" else str(value)
        for name, value in row.items()
    )
    content = ("\ufeff" + header + "\n\n" + values + "\n\n").encode()
    report = await post(api, "accounts", content, status=200, csv=True)
    assert report["inserted"] == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"number,colour\n1,2\n", "unknown column 'colour'"),
        (b"", "header"),
        (b"number,number\n1,2\n", "twice"),
    ],
)
async def test_unreadable_csv_is_a_400(api: Api, content: bytes, reason: str) -> None:
    body = await post(api, "accounts", content, status=400, csv=True)
    assert reason in body["message"]


async def test_a_csv_row_with_too_many_cells_is_a_bad_row(api: Api, world: Builder) -> None:
    content = to_csv([account(1, world)]) + b"1,2,3\n"
    body = await post(api, "accounts", content, status=400, csv=True)
    assert body["problems"] == [{"line": 3, "field": None, "reason": "3 cells, the header has 14"}]


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"rows": 5}', b'{"rows": [], "more": 1}', b'"text"', b"[1, 2]"],
)
async def test_unreadable_json_is_a_400(api: Api, body: bytes) -> None:
    answer = await api.call(
        "POST", "/api/v1/imports/accounts", data=body,
        headers={"Content-Type": "application/json"}, status=400,
    )  # fmt: skip
    assert answer["error"] in ("bad_request", "bad_rows")


async def test_other_media_types_are_refused(api: Api) -> None:
    answer = await api.call(
        "POST", "/api/v1/imports/accounts", data=b"x",
        headers={"Content-Type": "application/xml"}, status=415,
    )  # fmt: skip
    assert answer["error"] == "unsupported_media_type"


async def test_meters_zones_follow_the_tariff_plan(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await post(api, "accounts", [account(1, world), account(2, world, tariff_plan="two_zone")],
               status=200)  # fmt: skip
    meters = [
        {"account_number": "7700000001", "serial": "M1", "type_name": "ЛЕО",
         "digit_count": 6, "installed_on": "2021-03-01", "install_day": 120},
        {"account_number": "7700000002", "serial": "M2", "type_name": "NIK 2104",
         "digit_count": 6, "installed_on": "2021-03-01", "install_day": 10},
        {"account_number": "7700000009", "serial": "M9", "type_name": "ЛЕО",
         "digit_count": 6, "installed_on": "2021-03-01", "install_day": 1},
        {"account_number": "7700000001", "serial": "M3", "type_name": "ЛЕО",
         "digit_count": 4, "installed_on": "2021-03-01", "install_day": 12345},
    ]  # fmt: skip
    body = await post(api, "meters", meters, status=400)
    assert {(p["line"], p["field"]): p["reason"] for p in body["problems"]} == {
        (2, "install_night"): "required by the tariff plan",
        (3, "account_number"): "unknown account",
        (4, "install_day"): "more digits than the meter has",
    }
    meters[1]["install_night"] = 5
    report = await post(api, "meters", meters[:2], status=200)
    assert report["inserted"] == 2
    stored = await rows(engine, MeterRow.__table__)
    assert stored[1]["zones"] == ["day", "night"]
    assert stored[1]["install_readings"] == {"day": 10, "night": 5}
    again = await post(api, "meters", meters[:2], status=200)
    assert again["unchanged"] == 2


async def _two_accounts_with_meters(api: Api, world: Builder) -> None:
    await post(api, "accounts", [account(1, world), account(2, world, tariff_plan="two_zone")],
               status=200)  # fmt: skip
    await post(
        api, "meters",
        [{"account_number": "7700000001", "serial": "M1", "type_name": "ЛЕО",
          "digit_count": 6, "installed_on": "2021-03-01", "install_day": 120},
         {"account_number": "7700000002", "serial": "M2", "type_name": "NIK",
          "digit_count": 6, "installed_on": "2021-03-01", "install_day": 10,
          "install_night": 5}],
        status=200,
    )  # fmt: skip


async def test_consumption_and_billing_readings_by_account_period_zone(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _two_accounts_with_meters(api, world)
    consumption = [
        {"account_number": "7700000001", "period": "2026-10", "zone": "day", "kwh": 150},
        {"account_number": "7700000002", "period": "2026-10", "zone": "day", "kwh": 100},
        {"account_number": "7700000002", "period": "2026-10", "zone": "night", "kwh": "60"},
        {"account_number": "7700000001", "period": "2026-10", "zone": "night", "kwh": 1},
        {"account_number": "7700000001", "period": "2026-13", "zone": "day", "kwh": 1},
        {"account_number": "7700000001", "period": "2026-09", "zone": "day", "kwh": 1.5},
    ]
    body = await post(api, "consumption", consumption, status=400)
    assert {(p["line"], p["field"]) for p in body["problems"]} == {
        (4, "zone"),
        (5, "period"),
        (6, "kwh"),
    }
    assert "single plan has zones day" in body["problems"][0]["reason"]
    report = await post(api, "consumption", consumption, status=200, skip_bad=True)
    assert (report["inserted"], report["skipped"]) == (3, 3)
    consumption[0]["kwh"] = 151
    report = await post(api, "consumption", consumption[:3], status=200)
    assert (report["updated"], report["unchanged"]) == (1, 2)
    assert sorted(r["kwh"] for r in await rows(engine, ConsumptionRow.__table__)) == [60, 100, 151]

    readings = [
        {"account_number": "7700000002", "period": "2026-10", "zone": "day", "value": 1010,
         "taken_on": "2026-10-31", "source": "controller"},
        {"account_number": "7700000002", "period": "2026-10", "zone": "night", "value": 505,
         "taken_on": "2026-10-31", "source": "controller", "meter_serial": "M2"},
        {"account_number": "7700000001", "period": "2026-10", "zone": "day", "value": 9999999,
         "taken_on": "2026-10-31", "source": "cabinet"},
        {"account_number": "7700000001", "period": "2026-09", "zone": "day", "value": 1,
         "taken_on": "2026-10-31", "source": "cabinet", "meter_serial": "NOPE"},
        {"account_number": "7700000001", "period": "2026-08", "zone": "day", "value": 1,
         "taken_on": "31.10.2026", "source": "neighbour"},
    ]  # fmt: skip
    body = await post(api, "billing-readings", readings, status=400)
    assert {(p["line"], p["field"]): p["reason"] for p in body["problems"]} == {
        (3, "value"): "more digits than the meter has",
        (4, "meter_serial"): "no such meter on the account",
        (5, "taken_on"): "must be a date YYYY-MM-DD",
        (5, "source"): "must be one of telegram, viber, messenger, console, cabinet, "
        "controller, inspection, estimated",
    }
    assert (await post(api, "billing-readings", readings[:2], status=200))["inserted"] == 2
    assert (await post(api, "billing-readings", readings[:2], status=200))["unchanged"] == 2
    stored = await rows(engine, BillingReadingRow.__table__)
    assert {(r["zone"], r["value"]) for r in stored} == {("day", 1010), ("night", 505)}


async def test_payments_by_provider_transaction(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    await _two_accounts_with_meters(api, world)
    payments = [
        {"account_number": "7700000001", "amount": "648.00", "paid_at": "2026-11-05T10:15:00+02:00",
         "provider": "privatbank", "provider_txn_id": "P-1"},
        {"account_number": "7700000002", "amount": 312.5, "paid_at": "2026-11-05 14:00",
         "provider": "privatbank", "provider_txn_id": "P-2"},
        {"account_number": "7700000002", "amount": "1,005", "paid_at": "2026-11-05",
         "provider": "privatbank", "provider_txn_id": "P-3"},
        {"account_number": "7700000002", "amount": "-5", "paid_at": "2026-11-05",
         "provider": "privatbank", "provider_txn_id": "P-4"},
    ]  # fmt: skip
    body = await post(api, "payments", payments, status=400)
    assert {(p["line"], p["field"]): p["reason"] for p in body["problems"]} == {
        (3, "amount"): "more than two decimal places",
        (4, "amount"): "must be more than 0",
    }
    report = await post(api, "payments", payments[:2], status=200)
    assert report["inserted"] == 2
    stored = await rows(engine, PaymentRow.__table__)
    assert [r["amount"] for r in stored] == [Decimal("648.00"), Decimal("312.50")]
    # Without an offset the time is Kyiv time (UTC+2 in November).
    assert stored[1]["paid_at"].isoformat().startswith("2026-11-05T12:00:00")
    assert (await post(api, "payments", payments[:2], status=200))["unchanged"] == 2


async def test_bills_with_pdfs_and_new_bill_notices(
    api: Api, world: Builder, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "NOTICE_CHUNK", 1)  # notices are queued in chunks
    await _two_accounts_with_meters(api, world)
    async with api.app.uow_factory() as uow:
        refs = await uow.operator.account_refs(["7700000001"])
    world.world.accounts["imported"] = refs["7700000001"].id
    await world.person("olena", "imported")
    bills = [
        {"account_number": "7700000001", "period": "2026-10", "issued_on": "2026-11-03",
         "charged": "648.00", "amount_due": "648.00", "kwh": 150,
         "pdf_base64": base64.b64encode(PDF).decode()},
        {"account_number": "7700000002", "period": "2026-10", "issued_on": "2026-11-03",
         "charged": "561.60", "amount_due": "500.00", "kwh": 160},
        {"account_number": "7700000002", "period": "2026-09", "issued_on": "2026-10-03",
         "charged": "1", "amount_due": "1", "kwh": 1, "pdf_base64": "bm90IGEgcGRm"},
    ]  # fmt: skip
    body = await post(api, "bills", bills, status=400)
    assert body["problems"] == [{"line": 3, "field": "pdf_base64", "reason": "not a PDF"}]
    assert list(api.bills_dir.rglob("*.pdf")) == []  # a refused batch stores no PDF either
    report = await post(api, "bills", bills[:2], status=200)
    assert report["inserted"] == 2
    # By kWh, not id: a bill that carries a PDF is written after the others (its PDF is
    # stored only once the import is known to be applied).
    stored = sorted(await rows(engine, BillRow.__table__), key=lambda bill: bill["kwh"])
    assert stored[0]["pdf_ref"].startswith("7700000001/2026-10-")
    assert (api.bills_dir / stored[0]["pdf_ref"]).read_bytes() == PDF
    assert stored[1]["pdf_ref"] is None and stored[1]["amount_due"] == Decimal("500.00")
    notices = await outbox_rows(engine, "bill")
    assert [(n["person_id"], n["payload"]["kind"]) for n in notices] == [
        (world.world.persons["olena"], "bill.new")
    ]
    # Re-import without the PDF: the bill keeps its PDF, nothing changes, nobody is told twice.
    del bills[0]["pdf_base64"]
    again = await post(api, "bills", bills[:2], status=200)
    assert again["unchanged"] == 2
    again_stored = sorted(await rows(engine, BillRow.__table__), key=lambda bill: bill["kwh"])
    assert again_stored[0]["pdf_ref"] == stored[0]["pdf_ref"]
    assert len(await outbox_rows(engine, "bill")) == 1


async def test_put_a_bill_pdf(api: Api, world: Builder, engine: AsyncEngine) -> None:
    await _two_accounts_with_meters(api, world)
    await post(
        api, "bills",
        [{"account_number": "7700000002", "period": "2026-10", "issued_on": "2026-11-03",
          "charged": "561.60", "amount_due": "561.60", "kwh": 160}],
        status=200,
    )  # fmt: skip
    path = "/api/v1/bills/7700000002/2026-10/pdf"
    pdf_headers = {"Content-Type": "application/pdf"}
    answer = await api.call("PUT", path, data=PDF, headers=pdf_headers, status=200)
    assert (api.bills_dir / answer["pdf_ref"]).read_bytes() == PDF
    [bill] = await rows(engine, BillRow.__table__)
    assert bill["pdf_ref"] == answer["pdf_ref"]
    await api.call("PUT", path, data=b"GIF89a", headers=pdf_headers, status=400)
    await api.call("PUT", path, data=PDF, headers={"Content-Type": "text/plain"}, status=415)
    for missing in ("/api/v1/bills/7700000002/2026-09/pdf", "/api/v1/bills/7799999999/2026-10/pdf"):
        await api.call("PUT", missing, data=PDF, headers=pdf_headers, status=404)
    await api.call("PUT", "/api/v1/bills/7700000002/2026-1/pdf", data=PDF, headers=pdf_headers,
                   status=400)  # fmt: skip


async def test_nul_and_broken_unicode_are_bad_rows_not_errors(api: Api, world: Builder) -> None:
    batch = [account(1, world, holder_name="a\x00b"), account(2, world, street="\ud800")]
    body = await post(api, "accounts", batch, status=400)
    assert {(p["line"], p["field"]) for p in body["problems"]} == {
        (1, "holder_name"),
        (2, "street"),
    }


async def test_a_large_csv_is_parsed_and_upserted_in_one_go(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    batch = [account(n, world) for n in range(1, 1501)]
    content = to_csv(batch)
    assert len(content) > 64 * 1024  # parsed in a thread
    report = await post(api, "accounts", content, status=200, csv=True)
    assert report["inserted"] == 1500
    report = await post(api, "accounts", content, status=200, csv=True)
    assert report["unchanged"] == 1500


def test_money_in_json_is_never_a_float() -> None:
    from core.imports import ImportKind
    from operator_api.operations import parse_payload

    [(line, row)] = parse_payload(json.dumps({"rows": [{"amount": 0.1}]}).encode(), "json",
                                  ImportKind.PAYMENTS)  # fmt: skip
    assert line == 1 and row["amount"] == Decimal("0.1")


async def test_a_body_over_the_server_limit_is_a_json_413(api: Api) -> None:
    limit = api.client.server.app._client_max_size
    answer = await api.call(
        "POST", "/api/v1/imports/accounts", data=b"x" * (limit + 1),
        headers={"Content-Type": "text/csv"}, status=413,
    )  # fmt: skip
    assert answer["error"] == "too_large"


async def test_concurrent_imports_of_the_same_rows_take_turns(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    """A retried upload racing itself: all answer 200, each row is stored once."""
    batch = [account(n, world) for n in range(1, 21)]

    async def upload() -> tuple[int, dict]:
        response = await api.client.post(
            "/api/v1/imports/accounts", json={"rows": batch}, headers=AUTH
        )
        return response.status, await response.json()

    answers = await asyncio.gather(*(upload() for _ in range(8)))
    assert [status for status, _ in answers] == [200] * 8, answers
    assert sum(report["inserted"] for _, report in answers) == 20
    assert len(await rows(engine, AccountRow.__table__)) == 20


async def test_absurd_dates_negative_bills_and_duplicate_keys_are_bad(
    api: Api, world: Builder
) -> None:
    """Issue 18: year 9999 and negative bill amounts would be shown to consumers."""
    report = await post(api, "accounts", [account(1, world, contract_date="9999-12-31")],
                        status=400)  # fmt: skip
    assert [(p["field"], p["reason"]) for p in report["problems"]] == [
        ("contract_date", "year must be 1900–2100")
    ]
    await post(api, "accounts", [account(1, world)], status=200)
    bill = {"account_number": "7700000001", "period": "2026-10", "issued_on": "2026-11-01",
            "charged": "-100.00", "amount_due": "-100.00", "kwh": 10}  # fmt: skip
    report = await post(api, "bills", [bill], status=400)
    assert {p["field"] for p in report["problems"]} == {"charged", "amount_due"}
    duplicated = b'{"rows": [], "rows": [{"number": "1"}]}'
    answer = await api.call("POST", "/api/v1/imports/accounts", data=duplicated,
                            headers={"Content-Type": "application/json"}, status=400)  # fmt: skip
    assert "twice" in answer["message"]


async def test_an_import_in_parts_is_still_all_or_nothing(
    api: Api, world: Builder, engine: AsyncEngine
) -> None:
    """Issue 18 point 6: read, checked and upserted 100 rows at a time, in one transaction.
    A bad row in the last part leaves nothing of the earlier parts; a key repeated in
    another part is found; skip_bad writes the good rows of every part."""
    from operator_api.routes import OPERATOR_KEY

    api.client.server.app[OPERATOR_KEY].batch_rows = 100
    batch = [account(n, world) for n in range(1, 251)]
    batch[149] = account(5, world)  # line 151 (part 2) repeats the key of line 6 (part 1)
    batch[239] = account(240, world, dso_id=999999)  # line 241, part 3
    content = to_csv(batch)
    body = await post(api, "accounts", content, status=400, csv=True)
    problems = [(p["line"], p["field"], p["reason"]) for p in body["problems"]]
    assert problems == [(151, None, "same key as line 6"), (241, "dso_id", "unknown DSO")]
    assert body["report"]["received"] == 250 and body["report"]["skipped"] == 2
    assert await rows(engine, AccountRow.__table__) == []
    report = await post(api, "accounts", content, status=200, csv=True, skip_bad=True)
    assert (report["inserted"], report["skipped"]) == (248, 2)
    assert len(await rows(engine, AccountRow.__table__)) == 248


async def test_a_chunked_body_over_the_server_limit_is_a_json_413(api: Api) -> None:
    """The import body is read as it streams in (no Content-Length): still capped."""
    limit = api.client.server.app._client_max_size

    async def chunks() -> Any:
        yield b"number,eic\n"
        for _ in range(limit // (1024 * 1024) + 1):
            yield b"x" * (1024 * 1024)

    answer = await api.call(
        "POST", "/api/v1/imports/accounts", data=chunks(),
        headers={"Content-Type": "text/csv"}, status=413,
    )  # fmt: skip
    assert answer["error"] == "too_large"
