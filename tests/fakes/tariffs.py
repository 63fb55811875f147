"""The tariff port in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.model import TariffPlan, TariffRate
from core.ports import AbstractTariffRepository
from tests.fakes.data import FakeRepo


class FakeTariffs(FakeRepo, AbstractTariffRepository):
    async def rates_in_force(self, plan: TariffPlan, on: date) -> Sequence[TariffRate]:
        return [
            r
            for r in self.data.rates
            if r.plan == plan and r.valid_from <= on and (r.valid_to is None or on <= r.valid_to)
        ]
