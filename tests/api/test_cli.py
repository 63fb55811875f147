"""`kabinet import`, `kabinet outage` and `kabinet export-readings`: the same operations as
the API from a shell (SQLite and PostgreSQL). `main` runs in a thread: it starts its own
event loop, as the real command does."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli import main
from core.model import ReadingSource, SubmittedReading, Zone
from storage.orm import AccountRow, MeterRow, OutageRow
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.api.conftest import NOW, outbox_rows, rows
from tests.api.test_imports import account, to_csv
from tests.pushes.world import Builder


@pytest.fixture
def kabinet(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """Run `kabinet ARGS...` against the test database; (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BILLS_DIR", str(tmp_path / "bills"))
    monkeypatch.setenv("KABINET_NOW", NOW.isoformat())
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    async def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def test_import_csv_then_again(
    kabinet, world: Builder, engine: AsyncEngine, tmp_path: Path, capsys
) -> None:
    batch = [account(1, world), account(2, world)]
    path = tmp_path / "accounts.csv"
    path.write_bytes(to_csv(batch))
    code, out, _ = await kabinet("import", "accounts", str(path), capsys=capsys)
    assert code == 0 and json.loads(out)["inserted"] == 2
    code, out, _ = await kabinet("import", "accounts", str(path), capsys=capsys)
    assert code == 0 and json.loads(out)["unchanged"] == 2
    assert len(await rows(engine, AccountRow.__table__)) == 2


async def test_import_with_bad_rows_says_which_and_writes_nothing(
    kabinet, world: Builder, engine: AsyncEngine, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"rows": [account(1, world), account(2, world, eic="X")]}))
    code, out, err = await kabinet("import", "accounts", str(path), capsys=capsys)
    assert code == 1
    assert "line 2, eic: must be 16 characters" in err
    assert json.loads(out)["applied"] is False
    assert await rows(engine, AccountRow.__table__) == []
    code, out, err = await kabinet(
        "import", "accounts", str(path), "--skip-bad", "--format", "json", capsys=capsys
    )
    assert code == 0 and json.loads(out)["skipped"] == 1
    assert "line 2, eic" in err
    code, _, err = await kabinet("import", "accounts", str(tmp_path / "nope.csv"), capsys=capsys)
    assert code == 2 and "cannot read" in err


async def test_outage_publish_update_cancel_restore(
    kabinet, world: Builder, engine: AsyncEngine, tmp_path: Path, capsys
) -> None:
    await world.account("home")
    await world.person("ivan", "home")
    body = {
        "kind": "planned",
        "dso_id": world.world.dso_id,
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=1, hours=3)).isoformat(),
        "targets": [{"outage_group": "3.2"}],
    }
    (tmp_path / "outage.json").write_text(json.dumps(body))
    code, out, _ = await kabinet("outage", "publish", str(tmp_path / "outage.json"), capsys=capsys)
    assert code == 0
    outage_id = json.loads(out)["id"]
    assert len(await outbox_rows(engine, f"outage:{outage_id}:alert")) == 1
    (tmp_path / "change.json").write_text(json.dumps({"reason": "заміна опори"}))
    code, out, _ = await kabinet(
        "outage", "update", str(outage_id), str(tmp_path / "change.json"), capsys=capsys
    )
    assert code == 0 and json.loads(out)["reason"] == "заміна опори"
    code, out, _ = await kabinet("outage", "cancel", str(outage_id), "--reason", "x",
                                 capsys=capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["cancelled"] is True
    code, _, err = await kabinet("outage", "restore", str(outage_id), capsys=capsys)
    assert code == 1 and "cannot change" in err
    code, _, err = await kabinet("outage", "cancel", "9999", capsys=capsys)
    assert code == 1 and "no such outage" in err
    (tmp_path / "bad.json").write_text(json.dumps({**body, "targets": []}))
    code, _, err = await kabinet("outage", "publish", str(tmp_path / "bad.json"), capsys=capsys)
    assert code == 2 and "targets" in err
    assert len(await rows(engine, OutageRow.__table__)) == 1


async def test_export_readings_csv_and_json(
    kabinet, world: Builder, engine: AsyncEngine, tmp_path: Path, capsys
) -> None:
    account_id = await world.account("home")
    [meter] = await rows(engine, MeterRow.__table__)
    factory = SqlAlchemyUnitOfWorkFactory(engine)
    async with factory() as uow:
        for hours in (30, 3):
            await uow.readings.add_submitted(
                SubmittedReading(None, account_id, meter["id"], NOW - timedelta(hours=hours),
                                 {Zone.DAY: 9000 - hours}, ReadingSource.TELEGRAM)
            )  # fmt: skip
        await uow.commit()
    since = (NOW - timedelta(days=1)).isoformat()
    code, out, err = await kabinet("export-readings", "--since", since, capsys=capsys)
    assert code == 0 and "1 readings exported" in err
    [line] = list(csv.DictReader(io.StringIO(out)))
    assert (line["account_number"], line["value"], line["source"]) == ("2010000001", "8997",
                                                                         "telegram")  # fmt: skip
    target = tmp_path / "readings.json"
    code, _, _ = await kabinet("export-readings", "--since", since, "--format", "json",
                               "--output", str(target), capsys=capsys)  # fmt: skip
    assert code == 0 and json.loads(target.read_text())[0]["values"] == {"day": 8997}
    code, _, err = await kabinet("export-readings", "--since", "yesterday", capsys=capsys)
    assert code == 2 and "--since" in err
