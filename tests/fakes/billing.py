"""The billing port in memory (bills, payments, totals)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from core.model import Bill, Payment
from core.ports import AbstractBillingRepository
from tests.fakes.data import FakeRepo


class FakeBilling(FakeRepo, AbstractBillingRepository):
    async def bills(
        self, account_id: int, since_period: str | None = None, limit: int | None = None
    ) -> Sequence[Bill]:
        rows = [
            b
            for b in self.data.bills
            if b.account_id == account_id and (since_period is None or b.period >= since_period)
        ]
        return sorted(rows, key=lambda b: b.period, reverse=True)[:limit]

    async def bill(self, account_id: int, period: str) -> Bill | None:
        return next(
            (b for b in self.data.bills if b.account_id == account_id and b.period == period), None
        )

    async def payments(
        self, account_id: int, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Payment]:
        rows = [
            p
            for p in self.data.payments
            if p.account_id == account_id and (since is None or p.paid_at >= since)
        ]
        return sorted(rows, key=lambda p: p.paid_at, reverse=True)[:limit]

    async def totals(self, account_id: int) -> tuple[Decimal, Decimal]:
        charged = sum(
            (b.charged for b in self.data.bills if b.account_id == account_id), Decimal(0)
        )
        paid = sum((p.amount for p in self.data.payments if p.account_id == account_id), Decimal(0))
        return charged, paid

    async def payment_by_transaction(self, provider: str, provider_txn_id: str) -> Payment | None:
        return next(
            (
                p
                for p in self.data.payments
                if p.provider == provider and p.provider_txn_id == provider_txn_id
            ),
            None,
        )

    async def add_payment(self, payment: Payment) -> bool:
        if any(
            p.provider == payment.provider and p.provider_txn_id == payment.provider_txn_id
            for p in self.data.payments
        ):
            return False
        self.data.payments.append(payment)
        return True
