"""The outage store port in memory (published and changed by core.outages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import Outage
from core.ports import AbstractOutageStore
from tests.fakes.data import FakeRepo


class FakeOutageStore(FakeRepo, AbstractOutageStore):
    """Outages in `data.outages`, published and changed by core.outages."""

    async def add(self, outage: Outage, external_id: str | None = None) -> Outage | None:
        if external_id and (outage.dso_id, external_id) in self.data.outage_external_ids:
            return None
        stored = replace(outage, id=self.data.next_id())
        self.data.outages.append(stored)
        if external_id:
            self.data.outage_external_ids[(stored.dso_id, external_id)] = stored.id
        return stored

    async def get(self, outage_id: int) -> Outage | None:
        return next((o for o in self.data.outages if o.id == outage_id), None)

    async def by_external_id(self, dso_id: int, external_id: str) -> Outage | None:
        known = self.data.outage_external_ids.get((dso_id, external_id))
        return None if known is None else await self.get(known)

    async def save(self, outage: Outage) -> None:
        self.data.outages = [outage if o.id == outage.id else o for o in self.data.outages]

    async def planned_starting(self, after: datetime, until: datetime) -> Sequence[Outage]:
        return sorted(
            (
                o
                for o in self.data.outages
                if o.kind.value == "planned"
                and not o.cancelled
                and o.restored_at is None
                and after < o.starts_at <= until
            ),
            key=lambda o: (o.starts_at, o.id),
        )
