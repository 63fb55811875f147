"""Flow states keep their data under names, and states stored before the names (one-letter
keys `a`, `v`, `m`, `d`, `p`, `r`, `n`) still work: a person mid-step while a new version
is deployed finishes the step, and the state written afterwards uses the names."""

from __future__ import annotations

from decimal import Decimal

from bot.handlers.reading_state import ReadingDraft
from core.model import Channel, DialogState, Zone
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import linked

OLD_KEYS = {"a", "v", "m", "d", "p", "r", "n"}


def account_id(factory: FakeUnitOfWorkFactory, number: str = "2010000232") -> int:
    return next(a.id for a in factory.data.accounts.values() if a.number == number)


def stored_before_the_rename(
    factory: FakeUnitOfWorkFactory, chat: Chat, step: str, data: dict
) -> None:
    """Put the conversation in `step` as an older version saved it."""
    state = DialogState(Channel.CONSOLE, chat.user_id, step, data)
    factory.data.dialogs[(Channel.CONSOLE, chat.user_id)] = state


def saved(factory: FakeUnitOfWorkFactory, chat: Chat) -> DialogState:
    return factory.data.dialogs[(Channel.CONSOLE, chat.user_id)]


def test_the_draft_reads_both_and_writes_names() -> None:
    old = {"a": 7, "zones": ["day", "night"], "v": {"day": 5}, "m": "calc", "d": 6, "p": "ab"}
    new = {"account": 7, "zones": ["day", "night"], "values": {"day": 5}, "mode": "calc"}
    new |= {"digits": 6, "photo": "ab"}
    assert ReadingDraft.of(old) == ReadingDraft.of(new)
    assert ReadingDraft.of(old).data() == new
    assert ReadingDraft.of({"a": 3, "n": [1, 2], "m": "submit"}).typed == [1, 2]
    assert ReadingDraft.of({"a": 3, "r": 8480}).recognised == 8480
    assert ReadingDraft.account_in({"a": "3"}) == 3 and ReadingDraft.account_in({}) is None


async def test_a_reading_step_saved_with_the_old_keys(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    old = {"a": account_id(factory), "zones": ["day"], "v": {}, "m": "submit", "d": 6}
    stored_before_the_rename(factory, chat, "read.value", old)
    assert "Покази прийнято" in await chat.send("8480")
    [stored] = factory.data.submitted.values()
    assert stored.values == {Zone.DAY: 8480}


async def test_half_a_two_zone_reading_goes_on_under_the_new_names(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat, "2010000777", "62Z000000000777O")
    two_zone = account_id(factory, "2010000777")
    old = {"a": two_zone, "zones": ["day", "night"], "v": {}, "m": "calc", "d": 6}
    stored_before_the_rename(factory, chat, "read.value", old)
    await chat.send("8400")
    state = saved(factory, chat)
    assert state.state == "read.value" and not OLD_KEYS & set(state.data)
    assert state.data["account"] == two_zone and state.data["values"] == {"day": 8400}
    assert state.data["mode"] == "calc" and state.data["digits"] == 6
    # "calc" survived the rename: the sum is priced, nothing is stored.
    assert "Розрахунок (орієнтовно)" in await chat.send("8380")
    assert not factory.data.submitted


async def test_a_jump_to_confirm_saved_with_the_old_keys(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    old = {"a": account_id(factory), "zones": ["day"], "v": {"day": 9900}, "m": "submit"}
    stored_before_the_rename(factory, chat, "read.confirm", old)
    assert "Покази прийнято" in await chat.send("так")
    [stored] = factory.data.submitted.values()
    assert stored.values == {Zone.DAY: 9900}


async def test_a_typed_number_offer_saved_with_the_old_keys(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    old = {"a": account_id(factory), "n": [8480], "m": "submit"}
    stored_before_the_rename(factory, chat, "read.quick", old)
    assert "Покази прийнято" in await chat.send("так")
    assert [r.values for r in factory.data.submitted.values()] == [{Zone.DAY: 8480}]


async def test_a_photo_offer_saved_with_the_old_keys(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    old = {"a": account_id(factory), "zones": ["day"], "v": {}, "m": "submit", "r": 8480}
    stored_before_the_rename(factory, chat, "read.photo", old)
    assert "Покази прийнято" in await chat.send("так")
    assert [r.values for r in factory.data.submitted.values()] == [{Zone.DAY: 8480}]


async def test_a_payment_amount_step_saved_with_the_old_key(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    stored_before_the_rename(factory, chat, "pay.amount", {"a": account_id(factory)})
    await chat.send("700,50")
    [order] = factory.data.orders.values()
    assert order.amount == Decimal("700.50")
    await chat.send("Сплатити")
    assert saved(factory, chat).data.get("account") == account_id(factory)
