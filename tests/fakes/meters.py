"""The meter port in memory."""

from __future__ import annotations

from collections.abc import Sequence

from core.model import Meter
from core.ports import AbstractMeterRepository
from tests.fakes.data import FakeRepo


class FakeMeters(FakeRepo, AbstractMeterRepository):
    async def in_service(self, account_id: int) -> Meter | None:
        return next(
            (m for m in self.data.meters if m.account_id == account_id and m.removed_on is None),
            None,
        )

    async def all_for_account(self, account_id: int) -> Sequence[Meter]:
        return [m for m in self.data.meters if m.account_id == account_id]
