"""schemathesis against /api/v1/openapi.json of a served app: no input makes a server error.

The server runs in this test's event loop on a free port; the schemathesis command line
runs beside it as a subprocess (it is a blocking HTTP client), with a bounded number of
examples per operation and a fixed seed so CI runs the same cases every time (set
KABINET_SCHEMATHESIS_SEED to explore others, KABINET_SCHEMATHESIS_EXAMPLES for more).
The database holds a little of everything, so ids 1, 2, ... name real rows too.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from app.server import build_web_app
from core.model import CallCenterRequest, FreeServiceOrder, RequestStatus, SupportRequest
from operator_api.routes import OPENAPI_PATH
from tests.api.conftest import NOW, TOKEN, Api
from tests.pushes.world import Builder

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
ROOT = Path(__file__).resolve().parents[2]
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)

# A dev dependency: missing locally is a skip, missing in CI is a failure.
# It runs `schemathesis run` beside the served app: the e2e tier.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not SCHEMATHESIS.exists() and os.environ.get("CI") != "true",
        reason="schemathesis not installed",
    ),
]


async def _some_of_everything(api: Api, world: Builder) -> None:
    account_id = await world.account("home")
    person_id = await world.person("ivan", "home")
    async with api.app.uow_factory() as uow:
        for n in range(3):
            await uow.requests.add_call_center(
                CallCenterRequest(0, person_id, account_id, "other", f"питання {n}",
                                  RequestStatus.NEW, NOW - timedelta(hours=n))
            )  # fmt: skip
            await uow.requests.add_free_service(
                FreeServiceOrder(0, person_id, account_id, "meter_check", "0501234567",
                                 RequestStatus.NEW, NOW - timedelta(hours=n))
            )  # fmt: skip
            await uow.requests.add_support(
                SupportRequest(0, person_id, "Іван", "ivan@example.org", "+380501234567",
                               "other", f"питання {n}", RequestStatus.NEW,
                               NOW - timedelta(hours=n))
            )  # fmt: skip
        await uow.commit()
    outage = {
        "kind": "planned",
        "dso_id": world.world.dso_id,
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "targets": [{"outage_group": "3.2"}],
    }
    await api.call("POST", "/api/v1/outages", json=outage, status=201)


async def test_schemathesis_finds_no_server_error(api: Api, world: Builder, tmp_path: Path) -> None:
    await _some_of_everything(api, world)
    server = TestServer(build_web_app(api.app, []), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url(OPENAPI_PATH))
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS), "run", url,
            "--header", f"Authorization: Bearer {TOKEN}",
            "--checks", CHECKS,
            "--max-examples", os.environ.get("KABINET_SCHEMATHESIS_EXAMPLES", "8"),
            "--seed", os.environ.get("KABINET_SCHEMATHESIS_SEED", "20261127"),
            "--phases", "examples,coverage,fuzzing",
            "--workers", "1",
            "--generation-database", "none",
            "--suppress-health-check", "all",
            "--request-timeout", "30",
            "--no-color",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
                "PYTHONPATH": str(ROOT),
            },
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), timeout=540)
    finally:
        await server.close()
    text = output.decode(errors="replace")
    print(text[-6000:])  # pytest shows it on failure, with the cases to reproduce
    assert process.returncode == 0, text[-12000:]
