"""The request port in memory (call centre, free services, support)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.model import CallCenterRequest, FreeServiceOrder, SupportRequest
from core.ports import AbstractRequestRepository
from tests.fakes.data import FakeRepo


class FakeRequests(FakeRepo, AbstractRequestRepository):
    async def add_call_center(self, request: CallCenterRequest) -> CallCenterRequest:
        stored = replace(request, id=self.data.next_id())
        self.data.call_center.append(stored)
        return stored

    async def call_center_of(self, person_id: int) -> Sequence[CallCenterRequest]:
        return [r for r in reversed(self.data.call_center) if r.person_id == person_id]

    async def add_free_service(self, order: FreeServiceOrder) -> FreeServiceOrder:
        stored = replace(order, id=self.data.next_id())
        self.data.free_services.append(stored)
        return stored

    async def free_services_of(self, person_id: int) -> Sequence[FreeServiceOrder]:
        return [o for o in reversed(self.data.free_services) if o.person_id == person_id]

    async def add_support(self, request: SupportRequest) -> SupportRequest:
        stored = replace(request, id=self.data.next_id())
        self.data.support.append(stored)
        return stored

    async def support_of(self, person_id: int) -> Sequence[SupportRequest]:
        return [r for r in reversed(self.data.support) if r.person_id == person_id]
