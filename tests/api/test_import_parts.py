"""A large import leaves the event loop to others between its parts (issue 18 point 6), on
the in-memory fakes: no database, fast.

A concurrent coroutine counts how often it gets to run; the operator repository notes that
count at every upsert. No clock is read: the test asserts that the other coroutine ran
between every two parts, not how long anything took.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import FrozenClock
from core.imports import ImportKind
from core.model import Dso, Supplier, TariffPlan
from operator_api.operations import Operator
from tests.api.conftest import NOW
from tests.builders import add_account
from tests.fakes import FakeData, FakeUnitOfWorkFactory
from tests.fakes.unit_of_work import FakeUnitOfWork

KYIV = ZoneInfo("Europe/Kyiv")
ROWS = 1000
PART = 100


class _Ticker:
    """A coroutine that counts its turns on the event loop until stopped."""

    def __init__(self) -> None:
        self.ticks = 0
        self._running = True
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._running:
            self.ticks += 1
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._running = False
        await self._task


class _NotingRepo:
    """The fake operator repository, noting (ticks so far, rows) at each upsert."""

    def __init__(self, repo: Any, ticker: _Ticker, writes: list[tuple[int, int]]) -> None:
        self._repo, self._ticker, self._writes = repo, ticker, writes

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._repo, name)
        if not name.startswith("upsert_"):
            return found

        async def upsert(records: Any) -> Any:
            self._writes.append((self._ticker.ticks, len(records)))
            return await found(records)

        return upsert


def _consumption_csv() -> bytes:
    # Periods from 2050: the fake account's history has none of them.
    lines = ["account_number,period,zone,kwh"]
    for n in range(ROWS // 2):
        period = f"{2050 + n // 12}-{n % 12 + 1:02d}"
        lines += [f"2010000232,{period},day,{n}", f"2010000232,{period},night,{n}"]
    return ("\n".join(lines) + "\n").encode()


async def test_other_coroutines_run_between_the_parts_of_a_large_import(
    tmp_path: Path,
) -> None:
    data = FakeData()
    data.dsos.append(Dso(1, "ДТЕК", 1))
    data.suppliers.append(Supplier(1, "Постачальник"))
    add_account(data, number="2010000232", plan=TariffPlan.TWO_ZONE)
    factory = FakeUnitOfWorkFactory(data)
    ticker = _Ticker()
    writes: list[tuple[int, int]] = []

    def noting_factory() -> FakeUnitOfWork:
        uow = factory()
        uow.operator = _NotingRepo(uow.operator, ticker, writes)  # type: ignore[assignment]
        return uow

    operator = Operator(
        uow_factory=noting_factory,  # type: ignore[arg-type]
        clock=FrozenClock(NOW),
        zone=KYIV,
        bills_dir=tmp_path,
        batch_rows=PART,
    )
    try:
        report = await operator.import_batch(
            ImportKind.CONSUMPTION, _consumption_csv(), "csv", skip_bad=False
        )
    finally:
        await ticker.stop()
    assert report.applied and report.inserted == ROWS
    assert [rows for _, rows in writes] == [PART] * (ROWS // PART)
    ticks = [tick for tick, _ in writes]
    assert all(later > earlier for earlier, later in itertools.pairwise(ticks))
