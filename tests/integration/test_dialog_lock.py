"""Row locks: two inputs of one user, or two notices of one payment, run one after the other.

On PostgreSQL by the row lock (SELECT ... FOR UPDATE); on SQLite by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.model import Channel, DialogState, OrderStatus, PaymentOrder
from storage.orm import AccountRow, DsoRow, RegionRow, SupplierRow
from storage.uow import SqlAlchemyUnitOfWorkFactory

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("existing_row", [False, True], ids=["new-user", "known-user"])
async def test_second_input_waits_for_the_first(
    uow_factory: SqlAlchemyUnitOfWorkFactory, existing_row: bool
) -> None:
    if existing_row:
        async with uow_factory() as uow:
            await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "menu", {"n": 0}), T0)
            await uow.commit()

    first_locked = asyncio.Event()
    release_first = asyncio.Event()

    async def first_input() -> None:
        async with uow_factory() as uow:
            state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "7")
            first_locked.set()
            await release_first.wait()
            count = state.data.get("n", 0) + 1
            await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "first", {"n": count}), T0)
            await uow.commit()

    async def second_input() -> DialogState:
        async with uow_factory() as uow:
            state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "7")
            count = state.data.get("n", 0) + 1
            await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "second", {"n": count}), T0)
            await uow.commit()
            return state

    first = asyncio.create_task(first_input())
    await asyncio.wait_for(first_locked.wait(), timeout=10)
    second = asyncio.create_task(second_input())
    done, _ = await asyncio.wait({second}, timeout=0.5)
    assert not done, "the second input read the state while the first held it"

    release_first.set()
    await asyncio.wait_for(first, timeout=10)
    seen_by_second = await asyncio.wait_for(second, timeout=10)
    assert seen_by_second.state == "first"

    async with uow_factory() as uow:
        final = await uow.dialogs.load_for_update(Channel.TELEGRAM, "7")
    assert (final.state, final.data["n"]) == ("second", 2)


async def test_a_payment_order_is_settled_by_one_transaction_at_a_time(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        session = uow.session
        region = RegionRow(name="Київ")
        session.add(region)
        await session.flush()
        dso = DsoRow(region_id=region.id, name="ДСО")
        supplier = SupplierRow(name="Постачальник")
        session.add_all([dso, supplier])
        await session.flush()
        account = AccountRow(
            number="1",
            eic="62Z000000000232T",
            holder_name="Х",
            settlement="Київ",
            street="вул",
            street_key="вул",
            building="1",
            dso_id=dso.id,
            supplier_id=supplier.id,
            tariff_plan="single",
        )
        session.add(account)
        await session.flush()
        identity = await uow.persons.create_person_with_identity(
            Channel.TELEGRAM, "7", "", None, T0
        )
        order = PaymentOrder(
            order_id="o-1",
            account_id=account.id,
            amount=Decimal("1.00"),
            created_at=T0,
            person_id=identity.person_id,
            channel=Channel.TELEGRAM,
            user_id="7",
            provider="easypay",
        )
        await uow.payment_orders.add(order)
        await uow.commit()

    first_locked = asyncio.Event()
    release_first = asyncio.Event()

    async def first_notice() -> None:
        async with uow_factory() as uow:
            await uow.payment_orders.get("o-1")
            first_locked.set()
            await release_first.wait()
            await uow.payment_orders.update(replace(order, status=OrderStatus.PAID))
            await uow.commit()

    async def second_notice() -> OrderStatus | None:
        async with uow_factory() as uow:
            seen = await uow.payment_orders.get("o-1")
            return seen.status if seen else None

    first = asyncio.create_task(first_notice())
    await asyncio.wait_for(first_locked.wait(), timeout=10)
    second = asyncio.create_task(second_notice())
    done, _ = await asyncio.wait({second}, timeout=0.5)
    assert not done, "the second notice read the order while the first held it"
    release_first.set()
    await asyncio.wait_for(first, timeout=10)
    assert await asyncio.wait_for(second, timeout=10) is OrderStatus.PAID
