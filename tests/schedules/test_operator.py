"""Schedules through the operator API and `kabinet schedule`: publish, idempotent replay,
a replacement is a new version, the community layout, validation (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.cli import main
from tests.api.conftest import AUTH, NOW, Api, outbox_rows
from tests.pushes.world import Builder
from tests.schedules.conftest import SAMPLE

DAY = NOW.date().isoformat()


async def test_publish_replay_replace_and_read(api: Api, world: Builder) -> None:
    body = {
        "schedules": [
            {
                "groups": ["3.1", "3.2"],
                "day": DAY,
                "intervals": [{"from": "20:00", "to": "23:30"}],
            }
        ]
    }
    first = await api.call("POST", "/api/v1/schedules", json=body, status=200)
    assert [c["version"] for c in first["created"]] == [1, 1]
    rows = len(await outbox_rows(api.app.engine))
    again = await api.call("POST", "/api/v1/schedules", json=body, status=200)
    assert again["created"] == [] and again["queued"] == 0 and len(again["unchanged"]) == 2
    assert len(await outbox_rows(api.app.engine)) == rows
    body["schedules"][0]["groups"] = ["3.2"]
    body["schedules"][0]["intervals"] = [{"from": "21:00", "to": "23:30", "state": "maybe"}]
    replaced = await api.call("POST", "/api/v1/schedules", json=body, status=200)
    assert replaced["created"] == [{"group": "3.2", "day": DAY, "version": 2}]
    stored = await api.call("GET", f"/api/v1/schedule?group=3.2&day={DAY}", status=200)
    assert stored["version"] == 2 and stored["slots"][42:47] == "?????"
    await api.call("GET", f"/api/v1/schedule?group=9.9&day={DAY}", status=404)
    await api.call("GET", "/api/v1/schedule?group=3.2&day=yesterday", status=400)
    bad = await api.call(
        "POST",
        "/api/v1/schedules",
        json={"schedules": [{"groups": ["3.2"], "day": DAY, "slots": "-" * 47}]},
        status=400,
    )
    assert bad["error"] == "bad_request"
    document = await api.call("GET", "/api/v1/openapi.json", status=200)
    assert "/api/v1/schedules/hourly" in document["paths"]


async def test_community_layout_import(api: Api, world: Builder) -> None:
    document = json.loads(SAMPLE.read_text())
    out = await api.call("POST", "/api/v1/schedules/hourly", json=document, status=200)
    assert len(out["created"]) == 5
    again = await api.call("POST", "/api/v1/schedules/hourly", json=document, status=200)
    assert again["created"] == [] and again["queued"] == 0
    document["days"]["2026-11-23"]["GPV3.2"]["1"] = "sometimes"
    await api.call("POST", "/api/v1/schedules/hourly", json=document, status=400)


async def test_cli_publish_and_import(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KABINET_NOW", NOW.isoformat())
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    publication = tmp_path / "schedules.json"
    publication.write_text(
        json.dumps({"schedules": [{"groups": ["5.1"], "day": DAY, "slots": "-" * 8 + "+" * 40}]})
    )
    assert await asyncio.to_thread(main, ["schedule", "publish", str(publication)]) == 0
    assert json.loads(capsys.readouterr().out)["created"][0]["version"] == 1
    assert await asyncio.to_thread(main, ["schedule", "publish", str(publication)]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == []
    assert await asyncio.to_thread(main, ["schedule", "import", str(SAMPLE)]) == 0
    assert len(json.loads(capsys.readouterr().out)["created"]) == 5
    publication.write_text("{")
    assert await asyncio.to_thread(main, ["schedule", "publish", str(publication)]) == 2


async def test_concurrent_publishes_of_one_day_take_turns(api: Api, world: Builder) -> None:
    """A retried upload racing itself: every post answers 200, one version is stored."""
    body = {
        "schedules": [
            {"groups": ["3.1", "3.2"], "day": DAY, "intervals": [{"from": "08:00", "to": "12:00"}]}
        ]
    }

    async def publish() -> int:
        response = await api.client.post("/api/v1/schedules", json=body, headers=AUTH)
        return response.status

    assert await asyncio.gather(*(publish() for _ in range(10))) == [200] * 10
    stored = await api.call("GET", f"/api/v1/schedule?group=3.2&day={DAY}", status=200)
    assert stored["version"] == 1
