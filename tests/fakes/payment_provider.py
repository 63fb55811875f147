"""The payment provider port: local URLs, can be told to fail."""

from __future__ import annotations

from core.model import PaymentOrder
from core.payments import PaymentProvider, PaymentProviderError


class FakePaymentProvider(PaymentProvider):
    """Hands out local URLs and remembers the orders; can be told to fail."""

    name = "easypay"

    def __init__(self) -> None:
        self.orders: list[tuple[PaymentOrder, str]] = []
        self.failing = False

    async def payment_url(self, order: PaymentOrder, description: str) -> str:
        if self.failing:
            raise PaymentProviderError("provider down")
        self.orders.append((order, description))
        return f"https://pay.example/{order.order_id}"
