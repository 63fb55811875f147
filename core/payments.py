"""Paying for electricity (manual §6.12): at least the amount due, no commission.

The payment provider is a port; EasyPay is the real adapter. An order is created before
the consumer is sent to the provider; the provider's signed notification settles it once.
"""

from __future__ import annotations

import abc
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from core.errors import DomainError
from core.model import Account, Channel, OrderStatus, Payment, PaymentNotice, PaymentOrder
from core.money import to_money
from core.ports import AbstractUnitOfWork


class PaymentProviderError(DomainError):
    """The provider could not create a payment page now."""


class InvalidAmount(DomainError):
    """Not a sum of money (e.g. "abc" or more than two decimals)."""


@dataclass
class PaymentConflict(DomainError):
    """A verified notice that cannot be settled as it says; never a harmless duplicate.

    `reason` is "transaction_reused" (the provider's transaction id already settled another
    payment) or "order_paid_by_other" (the order was paid by another transaction). Either
    way money may have moved without being recorded: an operator reconciles by hand.
    """

    reason: str
    order: PaymentOrder
    provider_txn_id: str


@dataclass
class AmountBelowDue(DomainError):
    """A payment must be at least the billed amount due."""

    due: Decimal


class PaymentProvider(abc.ABC):
    """Port: makes a payment page for an order."""

    name: str

    @abc.abstractmethod
    async def payment_url(self, order: PaymentOrder, description: str) -> str:
        """The provider's page where the consumer pays; raises PaymentProviderError."""


def parse_amount(text: str) -> Decimal:
    """ "561,60", "561.6", "1 200" → Decimal with 2 places; refuses anything else."""
    compact = text.replace(" ", "").replace("\u00a0", "").replace(",", ".").removesuffix("грн")
    try:
        amount = Decimal(compact.removesuffix("uah").removesuffix("UAH"))
    except InvalidOperation:
        raise InvalidAmount(text) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidAmount(text)
    if amount > Decimal("1000000"):
        raise InvalidAmount(text)
    return to_money(amount)


async def amount_due(uow: AbstractUnitOfWork, account: Account) -> Decimal:
    """What the consumer owes now: the debt, or 0 with an overpayment."""
    charged, paid = await uow.billing.totals(account.id)
    return to_money(max(Decimal(0), charged - paid - account.opening_balance))


def new_order_id() -> str:
    """Unguessable, short enough for a button payload and the provider's order field."""
    return "kb" + secrets.token_hex(10)


async def create_order(
    uow: AbstractUnitOfWork,
    provider: PaymentProvider,
    account: Account,
    amount: Decimal,
    due: Decimal,
    person_id: int,
    channel: Channel,
    user_id: str,
    description: str,
    now: datetime,
) -> PaymentOrder:
    """Store an order and get its payment page; refuses less than due (no link then)."""
    if amount < due:
        raise AmountBelowDue(due)
    order = PaymentOrder(
        order_id=new_order_id(),
        account_id=account.id,
        amount=amount,
        created_at=now,
        person_id=person_id,
        channel=channel,
        user_id=user_id,
        provider=provider.name,
    )
    url = await provider.payment_url(order, description)
    order = replace(order, payment_url=url)
    await uow.payment_orders.add(order)
    return order


async def settle(uow: AbstractUnitOfWork, notice: PaymentNotice) -> PaymentOrder | None:
    """Record a verified notice once; the order to tell the consumer about, or None.

    A replayed notice (the transaction that paid the order, again), one for an unknown
    order, and one whose amount differs from the order's (left for manual reconciliation)
    change nothing. A declined attempt marks the order declined but does not close it: the
    provider's page lets the consumer try another card on the same order.

    Raises PaymentConflict, changing nothing, when the transaction id already settled a
    different payment or the order was paid by a different transaction.
    """
    order = await uow.payment_orders.get(notice.order_id)
    if order is None or order.provider != notice.provider:
        return None
    if order.status == OrderStatus.PAID:
        if notice.accepted and order.provider_txn_id != notice.provider_txn_id:
            raise PaymentConflict("order_paid_by_other", order, notice.provider_txn_id)
        return None
    if not notice.accepted:
        declined = replace(order, status=OrderStatus.DECLINED)
        await uow.payment_orders.update(declined)
        return declined
    if notice.amount != order.amount:
        return None
    stored = await uow.billing.add_payment(
        Payment(
            id=0,
            account_id=order.account_id,
            amount=notice.amount,
            paid_at=notice.paid_at,
            provider=notice.provider,
            provider_txn_id=notice.provider_txn_id,
        )
    )
    paid_at = notice.paid_at
    if not stored:
        existing = await uow.billing.payment_by_transaction(notice.provider, notice.provider_txn_id)
        if (
            existing is None
            or existing.account_id != order.account_id
            or existing.amount != order.amount
            or await uow.payment_orders.paid_by(notice.provider, notice.provider_txn_id)
        ):
            # The order is open, so the payment holding this id is another one.
            raise PaymentConflict("transaction_reused", order, notice.provider_txn_id)
        # Billing imported this very payment before the provider's notice came: it is
        # what paid the order (same provider, transaction, account and amount).
        paid_at = existing.paid_at
    paid = replace(
        order,
        status=OrderStatus.PAID,
        provider_txn_id=notice.provider_txn_id,
        paid_at=paid_at,
    )
    await uow.payment_orders.update(paid)
    return paid
