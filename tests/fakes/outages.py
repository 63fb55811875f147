"""The outage read port in memory (what affects an account)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.model import Account, Outage
from core.ports import AbstractOutageRepository
from tests.fakes.data import FakeRepo


class FakeOutages(FakeRepo, AbstractOutageRepository):
    async def affecting(self, account: Account, since: datetime) -> Sequence[Outage]:
        def hits(outage: Outage) -> bool:
            return any(
                (t.outage_group and t.outage_group == account.outage_group)
                or (
                    t.settlement == account.address.settlement
                    and t.street == account.address.street
                    and (not t.buildings or account.address.building in t.buildings)
                )
                for t in outage.targets
            )

        return [
            o
            for o in self.data.outages
            if hits(o) and not o.cancelled and (o.ends_at is None or o.ends_at >= since)
        ]

    async def last_update(self, dso_id: int) -> datetime | None:
        times = [o.updated_at for o in self.data.outages if o.dso_id == dso_id]
        return max(times) if times else None
