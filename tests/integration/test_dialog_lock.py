"""Two inputs of one user are serialised: the second transaction waits for the first.

On PostgreSQL by the row lock (SELECT ... FOR UPDATE); on SQLite by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.model import Channel, DialogState
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
