"""The payment order port in memory."""

from __future__ import annotations

from core.model import PaymentOrder
from core.ports import AbstractPaymentOrderRepository
from tests.fakes.data import FakeRepo


class FakePaymentOrders(FakeRepo, AbstractPaymentOrderRepository):
    async def add(self, order: PaymentOrder) -> None:
        self.data.orders[order.order_id] = order

    async def get(self, order_id: str) -> PaymentOrder | None:
        return self.data.orders.get(order_id)

    async def update(self, order: PaymentOrder) -> None:
        self.data.orders[order.order_id] = order

    async def paid_by(self, provider: str, provider_txn_id: str) -> PaymentOrder | None:
        return next(
            (
                o
                for o in self.data.orders.values()
                if o.provider == provider and o.provider_txn_id == provider_txn_id
            ),
            None,
        )
