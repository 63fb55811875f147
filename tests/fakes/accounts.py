"""The account port in memory."""

from __future__ import annotations

from core.model import Account
from core.ports import AbstractAccountRepository
from tests.fakes.data import FakeRepo


class FakeAccounts(FakeRepo, AbstractAccountRepository):
    async def get(self, account_id: int) -> Account | None:
        return self.data.accounts.get(account_id)

    async def find(self, number: str, eic: str) -> Account | None:
        return next(
            (a for a in self.data.accounts.values() if a.number == number and a.eic == eic.upper()),
            None,
        )
