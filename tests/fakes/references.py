"""The reference data port (regions, DSOs, suppliers) in memory."""

from __future__ import annotations

from collections.abc import Sequence

from core.model import Dso, Region, Supplier
from core.ports import AbstractReferenceRepository
from tests.fakes.data import FakeRepo


class FakeReferences(FakeRepo, AbstractReferenceRepository):
    async def regions(self) -> Sequence[Region]:
        return list(self.data.regions)

    async def dsos(self) -> Sequence[Dso]:
        return list(self.data.dsos)

    async def dso(self, dso_id: int) -> Dso | None:
        return next((d for d in self.data.dsos if d.id == dso_id), None)

    async def supplier(self, supplier_id: int) -> Supplier | None:
        return next((s for s in self.data.suppliers if s.id == supplier_id), None)
