"""The reading port in memory (submitted, billing readings, consumption)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import BillingReading, Consumption, SubmittedReading
from core.ports import AbstractReadingRepository
from tests.fakes.data import FakeRepo


class FakeReadings(FakeRepo, AbstractReadingRepository):
    async def submitted(
        self, account_id: int, since: datetime | None = None, until: datetime | None = None
    ) -> Sequence[SubmittedReading]:
        rows = [
            r
            for r in self.data.submitted.values()
            if r.account_id == account_id
            and (since is None or r.taken_at >= since)
            and (until is None or r.taken_at < until)
        ]
        return sorted(rows, key=lambda r: r.taken_at, reverse=True)

    async def add_submitted(self, reading: SubmittedReading) -> SubmittedReading:
        stored = replace(reading, id=self.data.next_id())
        self.data.submitted[stored.id] = stored  # type: ignore[index]
        return stored

    async def remove_submitted(self, reading_id: int) -> None:
        self.data.submitted.pop(reading_id, None)

    async def latest_billing(self, account_id: int) -> BillingReading | None:
        rows = await self.billing(account_id)
        return rows[0] if rows else None

    async def billing(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[BillingReading]:
        rows = [
            r
            for r in self.data.billing_readings
            if r.account_id == account_id and (since_period is None or r.period >= since_period)
        ]
        return sorted(rows, key=lambda r: r.period, reverse=True)

    async def consumption(
        self, account_id: int, since_period: str | None = None
    ) -> Sequence[Consumption]:
        rows = [
            r
            for r in self.data.consumption
            if r.account_id == account_id and (since_period is None or r.period >= since_period)
        ]
        return sorted(rows, key=lambda r: r.period, reverse=True)
