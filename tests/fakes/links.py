"""The person-to-account link port in memory (links, failed attempts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.model import Account
from core.ports import AbstractLinkRepository
from tests.fakes.data import FakeRepo


class FakeLinks(FakeRepo, AbstractLinkRepository):
    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        linked = sorted((at, a) for (p, a), at in self.data.links.items() if p == person_id)
        return [self.data.accounts[a] for _, a in linked]

    async def is_linked(self, person_id: int, account_id: int) -> bool:
        return (person_id, account_id) in self.data.links

    async def link(self, person_id: int, account_id: int, at: datetime) -> None:
        self.data.links[(person_id, account_id)] = at

    async def unlink(self, person_id: int, account_id: int) -> None:
        self.data.links.pop((person_id, account_id), None)

    async def record_failed_attempt(
        self, keys: Sequence[str], at: datetime, kind: str = "account"
    ) -> None:
        self.data.failures.extend((key, at, kind) for key in keys)

    async def failed_attempts_since(
        self, key: str, since: datetime, kind: str = "account"
    ) -> Sequence[datetime]:
        return sorted(
            at for k_, at, k in self.data.failures if k_ == key and at >= since and k == kind
        )
