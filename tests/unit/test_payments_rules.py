"""Settling payment notices: once, only for the ordered amount, declines do not lock out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.model import Channel, OrderStatus, Payment, PaymentNotice, PaymentOrder
from core.payments import InvalidAmount, PaymentConflict, parse_amount, settle
from tests.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 29, 10, tzinfo=UTC)


def order(factory: FakeUnitOfWorkFactory) -> PaymentOrder:
    placed = PaymentOrder(
        "kb1", 1, Decimal("648.00"), NOW, 7, Channel.TELEGRAM, "42", provider="easypay"
    )
    factory.data.orders[placed.order_id] = placed
    return placed


def notice(accepted: bool = True, amount: str = "648.00", txn: str = "T1") -> PaymentNotice:
    return PaymentNotice("easypay", "kb1", txn, Decimal(amount), accepted, NOW)


async def test_accepted_once() -> None:
    factory = FakeUnitOfWorkFactory()
    order(factory)
    assert (await settle(factory(), notice())).status == OrderStatus.PAID
    assert await settle(factory(), notice()) is None
    # Paid by T1: T2 for the same order is no replay but money that moved twice.
    with pytest.raises(PaymentConflict) as conflict:
        await settle(factory(), notice(txn="T2"))
    assert conflict.value.reason == "order_paid_by_other"
    assert len(factory.data.payments) == 1


async def test_a_transaction_id_already_stored_is_a_conflict() -> None:
    factory = FakeUnitOfWorkFactory()
    placed = order(factory)
    # T1 already settled another payment of the account (another order, an import).
    factory.data.payments.append(
        Payment(0, placed.account_id, Decimal("10.00"), NOW, "easypay", "T1")
    )
    with pytest.raises(PaymentConflict) as conflict:
        await settle(factory(), notice())
    assert conflict.value.reason == "transaction_reused"
    assert factory.data.orders["kb1"].status == OrderStatus.NEW
    assert len(factory.data.payments) == 1


async def test_declined_then_accepted() -> None:
    factory = FakeUnitOfWorkFactory()
    order(factory)
    assert (await settle(factory(), notice(accepted=False))).status == OrderStatus.DECLINED
    assert not factory.data.payments
    assert (await settle(factory(), notice())).status == OrderStatus.PAID


async def test_other_amount_changes_nothing() -> None:
    factory = FakeUnitOfWorkFactory()
    order(factory)
    assert await settle(factory(), notice(amount="600.00")) is None
    assert not factory.data.payments
    assert factory.data.orders["kb1"].status == OrderStatus.NEW


@pytest.mark.parametrize(
    ("text", "amount"), [("561,60", "561.60"), ("1 200", "1200.00"), ("99.5 грн", "99.50")]
)
def test_parse_amount(text: str, amount: str) -> None:
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["abc", "-5", "0", "1.234", "NaN", "1e9"])
def test_parse_amount_refuses(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text)


async def test_a_payment_billing_imported_first_settles_the_order() -> None:
    """Issue 18: same provider, transaction, account and amount: it paid this order."""
    factory = FakeUnitOfWorkFactory()
    placed = order(factory)
    factory.data.payments.append(Payment(0, placed.account_id, placed.amount, NOW, "easypay", "T1"))
    paid = await settle(factory(), notice())
    assert paid is not None and paid.status == OrderStatus.PAID and paid.provider_txn_id == "T1"
    assert len(factory.data.payments) == 1
    # The same transaction cannot then pay a second order.
    factory.data.orders["kb2"] = replace(
        paid, order_id="kb2", status=OrderStatus.NEW, provider_txn_id=None
    )
    second = PaymentNotice("easypay", "kb2", "T1", placed.amount, True, NOW)
    with pytest.raises(PaymentConflict):
        await settle(factory(), second)
