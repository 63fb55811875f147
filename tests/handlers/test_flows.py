"""The foundation flows through the real dialog, on fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest

from bot.handlers.dialog import Dialog
from core.clock import FrozenClock
from core.model import TariffPlan, TariffRate, Zone
from tests.chat import Chat
from tests.fakes import FakeTariffs, FakeUnitOfWorkFactory
from tests.handlers.conftest import consented, linked


async def test_start_asks_consent_and_stores_it(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    text = await chat.send("/start")
    assert "Вітаємо, Іван" in text and "згод" in text
    assert chat.labels() == ["Погоджуюсь", "Не погоджуюсь"]
    assert not factory.data.consents
    text = await chat.press("Погоджуюсь")
    assert "згоду збережено" in text
    assert len(factory.data.consents) == 1
    assert factory.data.consents[0].given_at == datetime.fromisoformat("2026-11-29T10:00:00+02:00")


async def test_nothing_works_before_consent(chat: Chat) -> None:
    await chat.send("/start")
    text = await chat.send("Баланс")
    assert "згод" in text
    assert "Погоджуюсь" in chat.labels()


async def test_link_shows_holder_and_address(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await consented(chat)
    await chat.send("Додати особовий рахунок")
    assert "номер особового рахунку" in chat.text
    await chat.send("2010000232")
    assert "EIC" in chat.text
    text = await chat.send("62z000000000232t")
    assert "Іваненко Іван Іванович" in text and "вул. Кузьми Скрябіна, 39" in text
    assert len(factory.data.links) == 1


async def test_eic_typo_is_named_and_not_counted(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await consented(chat)
    await chat.send("/link")
    await chat.send("2010000232")
    text = await chat.send("62Z000000000232X")
    assert "У EIC-коді помилка" in text and "контрольний символ" in text
    assert not factory.data.failures and not factory.data.links
    text = await chat.send("62Z00000000232T")
    assert "16 символів" in text


async def test_unknown_and_mismatch_get_the_same_answer(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await consented(chat)
    await chat.send("/link")
    await chat.send("2010009999")
    unknown = await chat.send("62Z000000000232T")
    await chat.send("/link")
    await chat.send("2010000232")
    mismatch = await chat.send("62Z000000000777O")
    assert unknown == mismatch and "Не знайшли рахунку" in unknown
    # Each failure counts against the identity and against the number tried.
    assert not factory.data.links and len(factory.data.failures) == 4


async def test_sixth_failed_attempt_must_wait(
    chat: Chat, factory: FakeUnitOfWorkFactory, clock: FrozenClock
) -> None:
    await consented(chat)
    for _ in range(5):
        await chat.send("/link")
        await chat.send("2010009999")
        assert "Не знайшли" in await chat.send("62Z000000000232T")
    text = await chat.send("/link")
    assert "Забагато невдалих спроб" in text and "60 хв" in text
    clock.set(clock.now() + timedelta(minutes=45))
    assert "15 хв" in await chat.send("/link")
    clock.set(clock.now() + timedelta(minutes=16))
    assert "номер особового рахунку" in await chat.send("/link")
    assert not factory.data.links


async def test_reading_accepted_with_consumption_and_charge(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    text = await chat.send("Внести покази")
    assert "8 350" in text  # the last billing reading
    text = await chat.send("8480")
    assert "Покази прийнято" in text
    assert "130 кВт·год" in text and "561,60 грн" in text
    [stored] = factory.data.submitted.values()
    assert stored.values == {Zone.DAY: 8480}
    assert stored.source.value == "console"


async def test_second_reading_in_window_replaces_first(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("/readings")
    await chat.send("8480")
    await chat.send("/readings")
    text = await chat.send("8490")
    assert "замінено" in text and "140 кВт·год" in text
    assert [r.values for r in factory.data.submitted.values()] == [{Zone.DAY: 8490}]


async def test_bad_readings_each_get_their_answer(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("/readings")
    assert "ціле число" in await chat.send("84a0")
    assert "не можуть бути меншими" in await chat.send("8000")
    assert "8 350" in chat.text
    assert not factory.data.submitted


async def test_implausible_jump_asks_to_confirm(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    await chat.send("/readings")
    text = await chat.send("9900")
    assert "більше, ніж зазвичай" in text
    assert not factory.data.submitted
    text = await chat.press("Так, правильно")
    assert "Покази прийнято" in text and "1 550 кВт·год" in text
    assert len(factory.data.submitted) == 1


async def test_reading_outside_window_names_next_window(
    chat: Chat, clock: FrozenClock, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    clock.set(datetime.fromisoformat("2026-12-10T10:00:00+02:00"))
    text = await chat.send("/readings")
    assert "з 30.12.2026 по 03.01.2027" in text
    assert not factory.data.submitted


async def test_two_zone_asks_both_and_night_is_half_price(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat, "2010000777", "62Z000000000777O")
    text = await chat.send("/readings")
    assert "Введіть поточні покази денної зони" in text
    assert "через «/», у такому порядку: день / ніч" in text
    text = await chat.send("8450")
    assert "Введіть поточні покази нічної зони" in text
    text = await chat.send("8450")
    assert "• день: 8 450 → спожито 100 кВт·год × 4,32 грн = 432,00 грн" in text
    assert "• ніч: 8 450 → спожито 100 кВт·год × 2,16 грн = 216,00 грн" in text
    assert "Разом: 200 кВт·год, орієнтовна сума до сплати 648,00 грн." in text


async def test_balance(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Баланс")
    assert "Заборгованості немає" in text
    assert "Остання оплата: 648,00 грн від 09.11.2026" in text
    assert "Останній рахунок за жовтень 2026" in text
    assert "Споживання за жовтень 2026: 150 кВт·год" in text


async def test_several_accounts_choose_and_unlink(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("Додати особовий рахунок")
    await chat.send("2010000777")
    await chat.send("62Z000000000777O")
    text = await chat.send("Баланс")
    assert "Баланс за вашими 2 рахунками" in text
    await chat.press("Детально: 2010000777")
    assert "Стан рахунку 2010000777" in chat.text
    await chat.send("Мої рахунки")
    await chat.press("2010000232")
    await chat.press("Відв'язати")
    text = await chat.press("Так, відв'язати")
    assert "відв'язано" in text
    assert len(factory.data.links) == 1


async def test_menu_word_leaves_any_flow_and_unknown_gets_hint(chat: Chat) -> None:
    await linked(chat)
    await chat.send("/readings")
    assert "Головне меню" in await chat.send("меню")
    text = await chat.send("абракадабра")
    assert "не зрозумів" in text and "💰 Баланс" in chat.labels()
    assert "Такої команди немає" in await chat.send("/foo")


async def test_english_is_complete(dialog: Dialog) -> None:
    chat = Chat(dialog, "en-user", locale="en-GB", profile_name="")
    assert "consent" in await chat.send("/start")
    await chat.press("I agree")
    await chat.send("Add an account")
    await chat.send("2010000232")
    await chat.send("62Z000000000232T")
    await chat.send("Submit reading")
    text = await chat.send("8480")
    assert "130 kWh" in text and "UAH 561.60" in text


async def test_duplicate_update_is_ignored(chat: Chat) -> None:
    await consented(chat)
    assert await chat.send("Баланс", update_key="u-1")
    assert await chat.send("Баланс", update_key="u-1") == ""


async def test_a_submission_is_checked_once(
    chat: Chat, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking a reading reads the tariffs once; a second check would read them again."""
    reads: list[date] = []
    original = FakeTariffs.rates_in_force

    async def counted(self: FakeTariffs, plan: TariffPlan, on: date) -> Sequence[TariffRate]:
        reads.append(on)
        return await original(self, plan, on)

    await linked(chat)
    await chat.send("/readings")
    monkeypatch.setattr(FakeTariffs, "rates_in_force", counted)
    assert "Покази прийнято" in await chat.send("8480")
    assert len(reads) == 1
    reads.clear()
    await chat.send("/readings")
    assert "більше, ніж зазвичай" in await chat.send("9900")
    assert len(reads) == 1
    reads.clear()
    assert "Покази прийнято" in await chat.press("Так, правильно")
    assert len(reads) == 1


async def _fail_link(chat: Chat, number: str = "2010009999", eic: str = "62Z000000000232T") -> str:
    await chat.send("/link")
    await chat.send(number)
    return await chat.send(eic)


async def _erase(chat: Chat) -> None:
    await chat.send("/settings")
    await chat.press("Видалити мої дані")
    assert "видалено" in await chat.press("Так, видалити")


async def test_deleting_my_data_keeps_the_link_limit(chat: Chat) -> None:
    """Issue 18: the counters are the identity's, not the erased person's."""
    await consented(chat)
    for _ in range(5):
        assert "Не знайшли" in await _fail_link(chat)
    await _erase(chat)
    await consented(chat)
    assert "Забагато невдалих спроб" in await chat.send("/link")


async def test_two_people_share_the_tries_at_one_account(dialog: Dialog) -> None:
    """Five wrong EICs for an account between everyone, then even the right one waits."""
    first, second = Chat(dialog, "first"), Chat(dialog, "second")
    for chat in (first, second):
        await consented(chat)
    for chat in (first, first, first, second, second):
        assert "Не знайшли" in await _fail_link(chat, "2010000232", "62Z000000000777O")
    assert "Забагато невдалих спроб" in await _fail_link(second, "2010000232", "62Z000000000232T")
    # Another account is still open to the second person (their own tries: 2 of 5).
    await second.send("/link")
    await second.send("2010000777")
    assert "Рахунок додано" in await second.send("62Z000000000777O")
