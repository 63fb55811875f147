"""Round trips of a chat turn to PostgreSQL, counted on the wire (tests/integration/wire.py).

A balance turn is BEGIN; one statement that records the update, locks the conversation and
reads the sender with their accounts; one statement for the balance facts (with the
readings submitted in this period's window); COMMIT. Counted on the wire, SQLAlchemy's
statements, the driver's and any savepoint all show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select

from app.compose import App, build_app
from app.settings import load_settings
from bot.messages import Incoming, Reply
from core.clock import FrozenClock
from core.model import Channel
from storage.database import make_engine
from storage.demo import extra_account_number, seed_demo
from storage.orm import AccountRow
from tests.integration.wire import WireCounter

NOW = datetime.fromisoformat("2026-11-29T10:00:00+02:00")
USER = "700000001"


@pytest.fixture
async def counted(database_url: str, dialect_name: str) -> AsyncIterator[tuple[App, WireCounter]]:
    """The app on the demo data, its database reached through a counting proxy."""
    if dialect_name != "postgresql":
        pytest.skip("round trips are counted on PostgreSQL's wire protocol")
    engine = make_engine(database_url)
    try:
        await seed_demo(engine, NOW, extra_accounts=2)
    finally:
        await engine.dispose()
    counter = WireCounter(database_url)
    app = await build_app(load_settings(database_url=await counter.start()), clock=FrozenClock(NOW))
    try:
        yield app, counter
    finally:
        await app.close()
        await counter.stop()


async def _turn(app: App, key: str, **fields: str) -> list[Reply]:
    event = Incoming(Channel.TELEGRAM, USER, locale="uk", update_key=key, **fields)  # type: ignore[arg-type]
    return await app.handle(event)


async def _link(app: App, *numbers: str) -> None:
    async with app.uow_factory() as uow:
        found = await uow.session.execute(  # type: ignore[attr-defined]
            select(AccountRow.number, AccountRow.eic).where(AccountRow.number.in_(numbers))
        )
        eics = {number: eic for number, eic in found}
    await _turn(app, "start", text="/start")
    await _turn(app, "consent", payload="consent:yes")
    for number in numbers:
        await _turn(app, f"link-{number}", payload="link")
        await _turn(app, f"number-{number}", text=number)
        replies = await _turn(app, f"eic-{number}", text=eics[number])
        assert any(number in reply.text for reply in replies)


async def test_a_balance_turn_is_four_round_trips(counted: tuple[App, WireCounter]) -> None:
    app, counter = counted
    number = extra_account_number(1)
    await _link(app, number)
    await _turn(app, "warm-up", text="Баланс")  # statements are prepared on first use
    counter.reset()
    replies = await _turn(app, "balance", text="Баланс")
    assert number in replies[0].text
    assert counter.round_trips == 4, counter.queries


async def test_a_duplicate_update_is_three_round_trips(counted: tuple[App, WireCounter]) -> None:
    """BEGIN and the turn statement, which finds the update seen; then the rollback."""
    app, counter = counted
    await _link(app, extra_account_number(1))
    await _turn(app, "twice", text="Баланс")
    counter.reset()
    assert await _turn(app, "twice", text="Баланс") == []
    assert counter.round_trips == 3, counter.queries
