"""Issue 14, points 6–11: the short menu, free words and numbers, never thrown out of a step,
consent that resumes what was asked for, the last used account, what was already submitted.

Conversations through the real dialog on fakes; the same conversations run through the
console and the messenger fakes elsewhere (tests/e2e, tests/channels).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.handlers.dialog import Dialog
from core.clock import FrozenClock
from core.model import ReadingSource
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import consented, linked

OUTSIDE = datetime.fromisoformat("2026-11-15T10:00:00+02:00")
TOP = [
    "📟 Покази",
    "💰 Баланс",
    "💳 Сплатити",
    "💡 Графік відключень",
    "👤 Мої рахунки",
    "✉️ Звернення",
    "⚙️ Налаштування",
    "❓ Довідка",
]
STANDING = ["📟 Покази", "💰 Баланс", "💳 Сплатити", "💡 Графік відключень", "Меню"]


async def two_accounts(chat: Chat) -> Chat:
    await linked(chat)
    await chat.send("/link")
    await chat.send("2010000777")
    assert "Рахунок додано" in await chat.send("62Z000000000777O")
    return chat


# ---- 6. the short menu and the standing keyboard -----------------------------------------


async def test_the_menu_is_short_and_not_sent_after_every_answer(chat: Chat) -> None:
    await linked(chat)
    await chat.send("меню")
    assert chat.labels() == TOP
    balance = await chat.send("баланс")
    assert "Стан рахунку 2010000232" in balance
    # The answer offers its own next steps, not the menu again: nothing is owed, so no
    # "Сплатити" here; the reading window is open and nothing was sent, so "Внести покази".
    assert chat.labels() == [
        "Внести покази",
        "Історія оплат",
        "Архів рахунків",
        "Персональна інформація",
        "Меню",
    ]
    assert chat.standing() == STANDING


async def test_a_newcomer_is_offered_to_add_an_account_first(chat: Chat) -> None:
    await consented(chat)
    assert "спершу додайте" in chat.text
    assert chat.labels()[0] == "➕ Додати особовий рахунок"
    assert "👤 Мої рахунки" not in chat.labels() and len(chat.labels()) <= 8


async def test_the_standing_keyboard_comes_with_consent_and_goes_with_the_data(
    chat: Chat,
) -> None:
    await chat.send("/start")
    assert chat.standing() == []  # nothing to press before consent
    await chat.press("Погоджуюсь")
    assert chat.standing() == STANDING
    await chat.send("/delete")
    await chat.press("Так, видалити")
    assert chat.replies[-1].keyboard is not None and chat.replies[-1].keyboard.rows == ()


async def test_standing_keys_lead_to_their_sections(chat: Chat) -> None:
    await linked(chat)
    assert "Введіть поточні покази" in await chat.tap("Покази")
    assert "Стан рахунку" in await chat.tap("Баланс")
    assert "сплатити" in await chat.tap("Сплатити")
    assert "Графік відключень" in await chat.tap("Графік")
    assert "Головне меню" in await chat.tap("Меню")


async def test_requests_and_help_describe_the_new_entries(chat: Chat) -> None:
    await linked(chat)
    await chat.send("меню")
    text = await chat.press("✉️ Звернення")
    assert "• «Звернення до кол-центру»" in text
    assert chat.labels()[:3] == [
        "Звернення до кол-центру",
        "Безкоштовні послуги",
        "Технічна підтримка",
    ]
    help_text = await chat.send("допомога")
    for entry in TOP[:-1]:
        assert f"«{entry}»" in help_text, entry
    assert "/requests" in help_text


# ---- 6. the measure: a reading and the balance in at most two actions, from anywhere --------


class Walker:
    """Counts what a person does; presses only what is in view (the last buttons or the
    standing keyboard) or types."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.actions = 0

    async def press(self, label: str) -> str:
        self.actions += 1
        if any(label == key for key in self.chat.standing()):
            return await self.chat.tap(label)
        assert label in self.chat.labels(), (label, self.chat.labels(), self.chat.standing())
        return await self.chat.press(label)

    async def type(self, text: str) -> str:
        self.actions += 1
        return await self.chat.send(text)


async def _somewhere(chat: Chat, where: str) -> None:
    """Put the conversation somewhere: idle, mid-way through a flow, after a wrong value."""
    steps = {
        "idle": ["меню"],
        "call-centre message": ["/callcenter", "#new", "Незрозумілий рахунок"],
        "adding an account": ["/link", "2010000999"],
        "wrong reading": ["/readings", "12ab"],
        "pay amount": ["/pay"],
        "settings": ["/settings"],
        "schedule": ["графік"],
        "profile name": ["/profile", "Змінити ім'я"],
    }[where]
    for step in steps:
        if step == "#new":
            await chat.press("Нове звернення")
            if "Щодо якого рахунку" in chat.text:  # several accounts: which one first
                await chat.press("2010000232")
        elif step.startswith("/") or step in ("меню", "графік", "12ab", "2010000999"):
            await chat.send(step)
        else:
            await chat.press(step)


PLACES = [
    "idle",
    "call-centre message",
    "adding an account",
    "wrong reading",
    "pay amount",
    "settings",
    "schedule",
    "profile name",
]


@pytest.mark.parametrize("accounts", [1, 2])
@pytest.mark.parametrize("where", PLACES)
async def test_a_reading_takes_two_actions_from_anywhere(
    chat: Chat, accounts: int, where: str
) -> None:
    await (two_accounts(chat) if accounts == 2 else linked(chat))
    await _somewhere(chat, where)
    walk = Walker(chat)
    prompt = await walk.press("📟 Покази")
    assert "Покази для рахунку" in prompt
    # The last used account is preselected: with two, the two-zone one added last, whose
    # zones go in one message.
    two_zones = "у такому порядку: день / ніч" in prompt
    accepted = await walk.type("8480 / 8450" if two_zones else "8480")
    assert "Покази прийнято" in accepted and "130 кВт·год" in accepted
    assert walk.actions <= 2


@pytest.mark.parametrize("accounts", [1, 2])
@pytest.mark.parametrize("where", PLACES)
async def test_the_balance_takes_two_actions_from_anywhere(
    chat: Chat, accounts: int, where: str
) -> None:
    await (two_accounts(chat) if accounts == 2 else linked(chat))
    await _somewhere(chat, where)
    walk = Walker(chat)
    text = await walk.press("💰 Баланс")
    if accounts == 2:  # one screen for both
        assert "Баланс за вашими 2 рахунками" in text
        assert "2010000232" in text and "2010000777" in text
    else:
        assert "Стан рахунку 2010000232" in text
    assert walk.actions <= 2


async def test_with_two_accounts_the_last_used_is_preselected_and_switchable(chat: Chat) -> None:
    await two_accounts(chat)  # 2010000777 was added last: it is the last used
    prompt = await chat.send("покази")
    assert "Покази для рахунку 2010000777" in prompt
    assert "Інший рахунок: 2010000232" in chat.labels()
    prompt = await chat.press("Інший рахунок: 2010000232")
    assert "Покази для рахунку 2010000232" in prompt
    assert "Покази прийнято" in await chat.send("8480")
    # Remembered across turns and flows: the next time it is offered first.
    assert "Покази для рахунку 2010000232" in await chat.send("покази")
    await chat.send("/payments")
    assert "2010000232" in chat.labels()[0] and "2010000777" in chat.labels()[1]
    await chat.press("2010000777")
    await chat.send("/bills")
    assert "2010000777" in chat.labels()[0]


# ---- 7. free words and numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("покази", "Введіть поточні покази"),
        ("Показники!", "Введіть поточні покази"),
        ("показання лічильника", "Введіть поточні покази"),
        ("ПОКАЗИ", "Введіть поточні покази"),
        ("баланс", "Стан рахунку"),
        ("Скільки платити?", "Стан рахунку"),
        ("борг", "Стан рахунку"),
        ("графік", "Графік відключень"),
        ("графік відключень", "Графік відключень"),
        ("Коли світло?", "Графік відключень"),
        ("світло", "Графік відключень"),
        ("оплатити", "сплатити"),
        ("допомога", "Що вміє бот"),
        ("readings", "Введіть поточні покази"),
        ("balance", "Стан рахунку"),
        ("how much to pay", "Стан рахунку"),
        ("schedule", "Графік відключень"),
        ("pay", "сплатити"),
        ("help", "Що вміє бот"),
        ("«Баланс»", "Стан рахунку"),
    ],
)
async def test_free_words_lead_to_their_sections(chat: Chat, typed: str, expected: str) -> None:
    await linked(chat)
    assert expected in await chat.send(typed)


async def test_a_section_word_leaves_a_step_that_does_not_expect_words(chat: Chat) -> None:
    await linked(chat)
    await chat.send("/link")
    assert "Стан рахунку" in await chat.send("баланс")
    await chat.send("/pay")
    assert "Графік відключень" in await chat.send("графік")


async def test_a_step_that_expects_words_keeps_them_but_lets_the_person_leave(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("/callcenter")
    await chat.press("Нове звернення")
    await chat.press("Незрозумілий рахунок")
    assert "Текст збережено" in await chat.send("Графік")
    assert "прийнято" in await chat.press("Надіслати")
    assert factory.data.call_center[-1].text == "Графік"
    await chat.send("/callcenter")
    await chat.press("Нове звернення")
    await chat.press("Незрозумілий рахунок")
    assert "Стан рахунку" in await chat.tap("Баланс")  # a standing-keyboard key leaves
    await chat.send("/callcenter")
    await chat.press("Нове звернення")
    await chat.press("Незрозумілий рахунок")
    assert "Головне меню" in await chat.send("Скасувати")
    assert len(factory.data.call_center) == 1


async def test_a_bare_number_is_a_reading_after_one_confirmation(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    asked = await chat.send("8 480")
    assert "Передати покази 8 480 для рахунку 2010000232" in asked
    assert chat.labels()[:2] == ["Так, передати", "Ні"]
    assert not factory.data.submitted
    accepted = await chat.press("Так, передати")
    assert "Покази прийнято" in accepted and "130 кВт·год" in accepted
    (stored,) = factory.data.submitted.values()
    assert list(stored.values.values()) == [8480]
    # "ні" typed: nothing is submitted.
    assert "Ви вже передали покази" in await chat.send("8490")
    assert "нічого не передаю" in await chat.send("ні")
    assert len(factory.data.submitted) == 1


async def test_a_bare_number_for_two_accounts_and_for_a_two_zone_meter(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await two_accounts(chat)
    asked = await chat.send("8480")
    assert "покази: день 8 480? Решту зон спитаю далі." in asked and "2010000777" in asked
    asked = await chat.press("Інший рахунок: 2010000232")
    assert "Передати покази 8 480 для рахунку 2010000232" in asked
    await chat.send("покази")  # the switch made 232 the last used one
    assert "Покази для рахунку 2010000232" in chat.text
    await chat.send("меню")
    await chat.send("/accounts")
    await chat.press("2010000777")
    await chat.send("меню")
    asked = await chat.send("8500")
    assert "2010000777" in asked
    assert "покази нічної зони" in await chat.send("так")
    result = await chat.send("8400")
    assert "Покази прийнято" in result and "50 кВт·год × 2,16 грн" in result


async def test_a_bare_number_outside_the_window_says_when_and_offers_an_estimate(
    dialog: Dialog, clock: FrozenClock, factory: FakeUnitOfWorkFactory
) -> None:
    clock.set(OUTSIDE)
    chat = await linked(Chat(dialog))
    text = await chat.send("8480")
    assert "з 29.11.2026 по 03.12.2026" in text
    estimate = await chat.press("Розрахувати для 8 480")
    assert "Розрахунок" in estimate and "130 кВт·год" in estimate and "561,60 грн" in estimate
    assert not factory.data.submitted


async def test_numbers_that_are_not_readings(chat: Chat) -> None:
    await consented(chat)
    assert "Натисніть «Додати особовий рахунок»" in await chat.send("8480")
    await linked(Chat(chat.dialog, "other"))
    await chat.send("/link")
    await chat.send("2010000232")
    await chat.send("62Z000000000232T")
    text = await chat.send("2010000232")
    assert "не схоже на покази" in text and "6 цифр" in text
    assert "Додати особовий рахунок" in chat.labels()


# ---- 8. never thrown out of a step --------------------------------------------------------


async def test_a_wrong_reading_is_asked_again_and_the_next_value_taken(chat: Chat) -> None:
    await linked(chat)
    await chat.send("покази")
    too_long = await chat.send("1234567")
    assert "6 цифр" in too_long and "Введіть поточні покази" in too_long
    letters = await chat.send("19a00")
    assert "ціле число" in letters
    below = await chat.send("8000")
    assert "не можуть бути меншими" in below and "8 350" in below
    assert "Покази прийнято" in await chat.send("8480")


async def test_a_wrong_two_zone_value_asks_that_zone_again(chat: Chat) -> None:
    await two_accounts(chat)
    await chat.send("покази")
    assert "Введіть поточні покази нічної зони" in await chat.send("8450")
    night = await chat.send("1234567")
    assert "6 цифр" in night and "Введіть поточні покази нічної зони" in night
    assert "Покази прийнято" in await chat.send("8400")


async def test_text_where_the_jump_confirmation_is_expected(chat: Chat) -> None:
    await linked(chat)
    await chat.send("покази")
    assert "значно більше" in await chat.send("19000")
    again = await chat.send("котики")
    assert "«так» чи «ні»" in again and "значно більше" in again
    # a corrected value typed instead of "no"
    accepted = await chat.send("8480")
    assert "Покази прийнято" in accepted and "130 кВт·год" in accepted


async def test_yes_typed_confirms_the_jump(chat: Chat) -> None:
    await linked(chat)
    await chat.send("покази")
    await chat.send("19000")
    assert "Покази прийнято" in await chat.send("Так")


async def test_linking_mistakes_keep_the_question(chat: Chat) -> None:
    await consented(chat)
    await chat.send("/link")
    assert "від 6 до 13 цифр" in await chat.send("12ab")
    assert "EIC" in await chat.send("2010000232")
    assert "Не знайшли рахунку" in await chat.send("62Z000000000777O")
    # still asking for the EIC of the same number
    assert "Рахунок додано" in await chat.send("62Z000000000232T")


@pytest.mark.parametrize(
    ("opening", "wrong", "question", "right"),
    [
        (["/callcenter", "Нове звернення"], "котики", "Оберіть тип", "Незрозумілий рахунок"),
        (["/services", "Замовити послугу"], "котики", "послугу", None),
        (["/accounts", "2010000232", "Відв'язати рахунок"], "котики", "Відв'язати рахунок", None),
        (["/language"], "котики", "Оберіть мову", "English"),
        (["/delete"], "котики", "видалено", None),
    ],
)
async def test_text_where_a_button_is_expected_asks_again(
    chat: Chat, opening: list[str], wrong: str, question: str, right: str | None
) -> None:
    await linked(chat)
    for step in opening:
        await (chat.send(step) if step.startswith("/") else chat.press(step))
    buttons = chat.labels()
    text = await chat.send(wrong)
    assert "оберіть один із варіантів кнопкою" in text.lower()
    assert question.lower() in text.lower()
    assert chat.labels() == buttons
    if right is not None:
        assert await chat.press(right)


async def test_support_and_free_service_steps_ask_again(chat: Chat) -> None:
    await linked(chat)
    await chat.send("/support")
    await chat.send("Іван")
    assert "номер" in (await chat.send("123")).lower()
    await chat.send("0501234567")
    types = chat.labels()
    assert "оберіть один із варіантів" in (await chat.send("щось")).lower()
    assert chat.labels() == types
    await chat.send("/services")
    await chat.press("Замовити послугу")
    await chat.press(chat.labels()[0])
    assert "номер" in (await chat.send("12")).lower()
    await chat.send("0501234567")
    assert "оберіть один із варіантів" in (await chat.send("може")).lower()
    assert "прийнято" in (await chat.send("так")).lower()


async def test_a_typed_account_number_answers_the_account_question(chat: Chat) -> None:
    await two_accounts(chat)
    await chat.send("/payments")
    assert "Оберіть особовий рахунок" in chat.text
    assert "Такого рахунку немає" in await chat.send("12345")
    assert "Оплати, рахунок 2010000232" in await chat.send("232")


# ---- 9. consent resumes what was asked for ------------------------------------------------


async def test_adding_an_account_before_consent_continues_after_it(chat: Chat) -> None:
    await chat.send("Додати особовий рахунок")
    assert "згод" in chat.text
    text = await chat.press("Погоджуюсь")
    assert "згоду збережено" in text and "номер особового рахунку" in text
    assert "Головне меню" not in text


@pytest.mark.parametrize(
    ("asked", "after"),
    [("баланс", "немає доданих особових рахунків"), ("/settings", "Налаштування"), ("графік", "")],
)
async def test_any_action_is_resumed_after_consent(chat: Chat, asked: str, after: str) -> None:
    await chat.send(asked)
    text = await chat.press("Погоджуюсь")
    assert "згоду збережено" in text and after in text
    assert "Головне меню" not in text


async def test_a_photo_before_consent_leads_to_the_reading_question_after_it(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await chat.send(photo=b"\xff\xd8 a meter photo")
    assert "згод" in chat.text
    text = await chat.press("Погоджуюсь")
    # No account yet: the reading question says so and offers to add one.
    assert "згоду збережено" in text and "немає доданих особових рахунків" in text
    assert "Додати особовий рахунок" in chat.labels()


async def test_declining_then_agreeing_still_resumes(chat: Chat) -> None:
    await chat.send("/link")
    await chat.press("Не погоджуюсь")
    assert "номер особового рахунку" in await chat.press("Погоджуюсь")


# ---- 11. what was already submitted -------------------------------------------------------


async def test_the_reading_prompt_shows_what_was_submitted_and_it_can_be_corrected(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("покази")
    await chat.send("8480")
    prompt = await chat.send("покази")
    assert "Ви вже передали покази 29.11.2026 о 10:00 (Чат-бот): 8 480" in prompt
    assert "введіть правильні до 03.12.2026" in prompt
    replaced = await chat.send("8470")
    assert "замінено" in replaced and "120 кВт·год" in replaced
    (stored,) = factory.data.submitted.values()
    assert list(stored.values.values()) == [8470] and stored.source == ReadingSource.CONSOLE


async def test_outside_the_window_the_last_submission_is_shown_and_cannot_be_changed(
    dialog: Dialog, clock: FrozenClock
) -> None:
    chat = await linked(Chat(dialog))
    await chat.send("покази")
    await chat.send("8480")
    clock.set(datetime.fromisoformat("2026-12-10T10:00:00+02:00"))
    closed = await chat.send("покази")
    assert "з 30.12.2026 по 03.01.2027" in closed
    assert "Ви вже передали покази 29.11.2026 о 10:00 (Чат-бот): 8 480" in closed
    assert "Виправити їх уже не можна" in closed
    assert "Розрахувати" in chat.labels()


async def test_help_and_the_closed_window_name_the_configured_window(
    factory: FakeUnitOfWorkFactory, clock: FrozenClock
) -> None:
    from bot.handlers import WORDS, build_router
    from bot.handlers.context import DialogRules
    from bot.i18n import Catalogues
    from core.readings import ReadingRules

    rules = DialogRules(readings=ReadingRules(last_days=1, first_days=5))
    dialog = Dialog(factory, clock, Catalogues(), build_router(), rules, WORDS)
    chat = await linked(Chat(dialog))
    assert "(в останній день та перші 5 днів місяця)" in await chat.send("допомога")
    clock.set(datetime.fromisoformat("2026-11-20T10:00:00+02:00"))
    closed = await chat.send("покази")
    assert "Покази приймаються в останній день та перші 5 днів місяця." in closed


async def test_personal_information_offers_paying_only_when_something_is_owed(
    chat: Chat,
) -> None:
    await linked(chat)  # 2010000232 is settled in the fakes
    info = await chat.send("/info")
    assert "Персональна інформація" in info
    assert "Сплатити" not in chat.labels()
    assert "Історія оплат" in chat.labels()


async def test_an_account_number_typed_before_linking_starts_the_link(chat: Chat) -> None:
    """A newcomer types the number from their bill at the menu: it is taken as the account
    number and the EIC is asked next; a reading-sized number is not."""
    await consented(chat)
    assert "немає доданих особових рахунків" in await chat.send("19800")
    assert "EIC" in await chat.send("2010000232")
    assert "Рахунок додано" in await chat.send("62Z000000000232T")
    # Once an account is linked, a long number is a reading question again, not a link.
    assert "EIC" not in await chat.send("2010000777")
