"""Row locks: two inputs of one user, or two notices of one payment, run one after the other.

On PostgreSQL by the row lock (SELECT ... FOR UPDATE); on SQLite by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import pytest

from core.model import Channel, Consent, DialogState, OrderStatus, PaymentOrder, TurnSnapshot
from storage.orm import AccountRow, DsoRow, RegionRow, SupplierRow
from storage.uow import SqlAlchemyUnitOfWorkFactory

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

F = TypeVar("F")
S = TypeVar("S")


async def one_after_the_other(
    first: Callable[[asyncio.Event, asyncio.Event], Awaitable[F]],
    second: Callable[[], Awaitable[S]],
) -> tuple[F, S]:
    """Start `first(locked, release)`; once it sets `locked` (it holds the lock), start
    `second` and check that it waits; then set `release` and return both results."""
    locked, release = asyncio.Event(), asyncio.Event()
    first_task = asyncio.create_task(first(locked, release))
    await asyncio.wait_for(locked.wait(), timeout=10)
    second_task = asyncio.create_task(second())
    done, _ = await asyncio.wait({second_task}, timeout=0.5)
    assert not done, "the second ran while the first held the lock"
    release.set()
    return await asyncio.wait_for(first_task, 10), await asyncio.wait_for(second_task, 10)


@pytest.mark.parametrize("existing_row", [False, True], ids=["new-user", "known-user"])
async def test_second_input_waits_for_the_first(
    uow_factory: SqlAlchemyUnitOfWorkFactory, existing_row: bool
) -> None:
    if existing_row:
        async with uow_factory() as uow:
            await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "menu", {"n": 0}), T0)
            await uow.commit()

    async def first_input(locked: asyncio.Event, release: asyncio.Event) -> None:
        async with uow_factory() as uow:
            state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "7")
            locked.set()
            await release.wait()
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

    _, seen_by_second = await one_after_the_other(first_input, second_input)
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

    async def first_notice(locked: asyncio.Event, release: asyncio.Event) -> None:
        async with uow_factory() as uow:
            await uow.payment_orders.get("o-1")
            locked.set()
            await release.wait()
            await uow.payment_orders.update(replace(order, status=OrderStatus.PAID))
            await uow.commit()

    async def second_notice() -> OrderStatus | None:
        async with uow_factory() as uow:
            seen = await uow.payment_orders.get("o-1")
            return seen.status if seen else None

    _, status = await one_after_the_other(first_notice, second_notice)
    assert status is OrderStatus.PAID


async def test_a_turn_that_waited_reads_what_the_other_turn_committed(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """The turn statement reads the caller before it gets the lock; when it had to wait
    (another process's turn of the same person), state and caller are read again."""
    async with uow_factory() as uow:
        identity = await uow.persons.create_person_with_identity(
            Channel.TELEGRAM, "7", "Ірина", "uk", T0
        )
        await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "menu", {"n": 0}), T0)
        await uow.commit()

    async def first_turn(locked: asyncio.Event, release: asyncio.Event) -> None:
        async with uow_factory() as uow:
            snapshot = await uow.begin_turn(Channel.TELEGRAM, "7", "u-1", T0)
            assert snapshot is not None and snapshot.state.state == "menu"
            caller = snapshot.caller
            assert caller is not None and caller.consent_version is None
            locked.set()
            await release.wait()
            await uow.persons.update(replace(caller.person, locale="en"))
            await uow.persons.add_consent(Consent(identity.person_id, T0, "v9", Channel.TELEGRAM))
            await uow.dialogs.save(DialogState(Channel.TELEGRAM, "7", "first", {"n": 1}), T0)
            await uow.commit()

    async def second_turn() -> TurnSnapshot | None:
        async with uow_factory() as uow:
            snapshot = await uow.begin_turn(Channel.TELEGRAM, "7", "u-2", T0)
            await uow.commit()
            return snapshot

    _, snapshot = await one_after_the_other(first_turn, second_turn)
    assert snapshot is not None
    assert snapshot.state == DialogState(Channel.TELEGRAM, "7", "first", {"n": 1})
    caller = snapshot.caller
    assert caller is not None
    assert (caller.person.locale, caller.consent_version) == ("en", "v9")


async def test_two_first_contacts_of_one_user_make_one_person(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """Two processes get the first two inputs of a new user at once: the second waits and
    then finds the person the first created (no duplicate identity)."""

    async def turn(key: str, locked: asyncio.Event | None, release: asyncio.Event | None) -> int:
        async with uow_factory() as uow:
            snapshot = await uow.begin_turn(Channel.VIBER, "new", key, T0)
            assert snapshot is not None
            caller = snapshot.caller
            if locked is not None and release is not None:
                locked.set()
                await release.wait()
            if caller is None:
                identity = await uow.persons.create_person_with_identity(
                    Channel.VIBER, "new", "Нова", None, T0
                )
                person_id = identity.person_id
            else:
                person_id = caller.person.id
            await uow.commit()
            return person_id

    first, second = await one_after_the_other(
        lambda locked, release: turn("v-1", locked, release), lambda: turn("v-2", None, None)
    )
    assert first == second
