"""Issue 14, points 6–10, through Telegram, Viber and Messenger: real adapters and libraries
against the local fake platforms over real HTTP, the same conversations on each.

`tap` presses what each messenger keeps in view: a key of Telegram's persistent reply
keyboard (it sends its label as text), a button of Viber's keyboard (the top actions ride on
every message), an item of Messenger's persistent menu (a postback).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Protocol

import pytest

from tests.channels.conftest import (
    Harness,
    HarnessFactory,
    MessengerFactory,
    TgUser,
    ViberFactory,
)
from tests.channels.fake_graph import MessengerHarness
from tests.channels.fake_viber import (
    ViberHarness,
    conversation_started,
    wait_for,
)
from tests.channels.test_viber_flows import EIC_777, NUMBER_777, consent, link, linked
from tests.handlers.test_conversation import TOP


class Person(Protocol):
    """What the scenarios need of a person in a messenger."""

    @property
    def text(self) -> str: ...
    def labels(self) -> list[str]: ...
    def standing(self) -> list[str]: ...
    async def say(self, text: str) -> str: ...
    async def press(self, label: str) -> str: ...
    async def tap(self, label: str) -> str: ...


def previous_reading(prompt: str) -> int:
    match = re.search(r"Останні розрахункові покази \([\d.]+\): (?:день )?([\d  ]+)", prompt)
    assert match, prompt
    return int(re.sub(r"\D", "", match.group(1)))


async def in_a_call_centre_message(user: Person) -> None:
    """Half-way through writing to the call centre: the step takes any words."""
    await user.say("звернення")
    await user.press("Звернення до кол-центру")
    await user.press("Нове звернення")
    await user.press("Незрозумілий рахунок")
    assert "текст" in user.text.lower() or "опишіть" in user.text.lower()


# ---- scenarios ----------------------------------------------------------------------------


async def scenario_short_menu(user: Person) -> None:
    """6: the menu is short, answers do not repeat it, the top actions stay in view."""
    await linked(user)
    await user.say("меню")
    assert [label for label in user.labels() if label in TOP] == TOP
    balance = await user.tap("Баланс")
    assert "Стан рахунку 2010000232" in balance
    assert "Історія оплат" in user.labels() and "Архів рахунків" in user.labels()
    assert "✉️ Звернення" not in user.labels()  # the menu was not sent again
    assert any("Покази" in key for key in user.standing())


async def scenario_two_actions(user: Person) -> None:
    """6: a reading and the balance in at most two actions, from the middle of a step."""
    await linked(user)
    await in_a_call_centre_message(user)
    actions = 0
    prompt = await user.tap("Покази")
    actions += 1
    accepted = await user.say(str(previous_reading(prompt) + 130))
    actions += 1
    assert "Покази прийнято" in accepted and "130 кВт·год" in accepted and actions == 2
    await in_a_call_centre_message(user)
    assert "Стан рахунку 2010000232" in await user.tap("Баланс")  # one action


async def scenario_words_and_numbers(user: Person) -> None:
    """7: free words lead to their sections; a bare number is a reading after a yes."""
    await linked(user)
    assert "Стан рахунку" in await user.say("Скільки платити?")
    assert "Графік відключень" in await user.say("коли світло")
    assert "Що вміє бот" in await user.say("допомога")
    prompt = await user.say("Покази!")
    value = previous_reading(prompt) + 130
    await user.say("меню")
    asked = await user.say(str(value))
    assert "Передати покази" in asked and "2010000232" in asked
    assert "Покази прийнято" in await user.say("так")


async def scenario_asks_again(user: Person) -> None:
    """8: a wrong value and text where a button is expected: the same question again."""
    await linked(user)
    prompt = await user.say("покази")
    too_long = await user.say("1234567")
    assert "6 цифр" in too_long and "Введіть поточні покази" in too_long
    assert "Покази прийнято" in await user.say(str(previous_reading(prompt) + 130))
    await user.say("/language")
    again = await user.say("котики")
    assert "оберіть один із варіантів кнопкою" in again.lower()
    assert "Language changed" in await user.press("English")


async def scenario_consent_resumes(user: Person) -> None:
    """9: "add an account" before consent leads, after it, to the account question."""
    asked = await user.say("Додати особовий рахунок")
    assert "згода на обробку персональних даних" in asked
    resumed = await user.press("Погоджуюсь")
    assert "згоду збережено" in resumed and "номер особового рахунку" in resumed
    await user.say("2010000232")
    assert "Рахунок додано" in await user.say("62Z000000000232T")


async def scenario_last_used(user: Person) -> None:
    """10: with two accounts, the last used one is preselected and offered first."""
    await consent(user)
    await link(user)
    await link(user, NUMBER_777, EIC_777)
    prompt = await user.tap("Покази")
    assert "Покази для рахунку 2010000777" in prompt
    prompt = await user.press("Інший рахунок: 2010000232")
    assert "Покази для рахунку 2010000232" in prompt
    assert "Покази прийнято" in await user.say(str(previous_reading(prompt) + 130))
    assert "Покази для рахунку 2010000232" in await user.tap("Покази")
    await user.say("Історія оплат")
    accounts = [label for label in user.labels() if "20100007" in label or "2010000232" in label]
    assert "2010000232" in accounts[0] and NUMBER_777 in accounts[1]


SCENARIOS = [
    scenario_short_menu,
    scenario_two_actions,
    scenario_words_and_numbers,
    scenario_asks_again,
    scenario_consent_resumes,
    scenario_last_used,
]


# ---- Telegram -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_telegram(tg: Harness, scenario: Callable[[Person], Awaitable[None]]) -> None:
    await scenario(tg.user())


async def test_telegram_keeps_the_top_actions_on_a_persistent_reply_keyboard(tg: Harness) -> None:
    user = tg.user()
    await user.say("/start")
    assert user.standing() == []  # before consent there is nothing to press
    await user.press("Погоджуюсь")
    thanks = user.last[0]  # text only: it carries the keyboard
    markup = thanks.params["reply_markup"]
    assert markup["is_persistent"] is True and markup["resize_keyboard"] is True
    assert user.standing() == [
        "📟 Покази",
        "💰 Баланс",
        "💳 Сплатити",
        "💡 Графік відключень",
        "Меню",
    ]
    assert "inline_keyboard" in user.last[-1].params["reply_markup"]  # the menu itself


async def test_telegram_brings_the_keyboard_back_after_sharing_a_phone(
    tg: Harness,
) -> None:
    user = tg.user()
    await consent_tg(user)
    await user.say("/profile")
    await user.press("Вказати телефон")
    assert user.standing() == []  # the share-phone keyboard took its place
    contact = {"phone_number": "+380501234567", "first_name": "Іван", "user_id": user.user_id}
    card = await user.send(contact=contact)
    assert "Телефон: +380501234567" in card
    # Every reply had inline buttons: a short line carries the keyboard back, first.
    assert user.last[0].text == "Основні розділи — на клавіатурі внизу."
    assert user.standing()[0] == "📟 Покази"
    await user.say("/profile")  # shown already: no second hint
    assert "Основні розділи" not in user.text


async def test_telegram_takes_the_keyboard_away_with_the_data(tg: Harness) -> None:
    user = tg.user()
    await consent_tg(user)
    await user.say("/delete")
    await user.press("Так, видалити")
    assert user.last[-1].params["reply_markup"] == {"remove_keyboard": True}
    assert user.standing() == []


async def consent_tg(user: TgUser) -> None:
    await user.say("/start")
    await user.press("Погоджуюсь")


async def test_telegram_on_postgresql(make_harness: HarnessFactory, postgres_demo_url: str) -> None:
    harness = await make_harness(postgres_demo_url)
    for scenario in SCENARIOS:
        await scenario(harness.user())


# ---- Viber --------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_viber(vb: ViberHarness, scenario: Callable[[Person], Awaitable[None]]) -> None:
    await scenario(vb.user())


async def test_viber_adds_the_top_actions_to_every_keyboard(vb: ViberHarness) -> None:
    user = vb.user()
    await linked(user)
    await user.say("баланс")
    labels = user.labels()
    # Nothing is owed (no "Сплатити" here); "Внести покази" shows while the window is open
    # and nothing was sent (other tests of this module share the database and may have).
    sections = [label for label in labels if label != "Внести покази"]
    assert sections[:3] == ["Історія оплат", "Архів рахунків", "Персональна інформація"]
    assert labels[-5:] == ["Меню", "📟 Покази", "💰 Баланс", "💳 Сплатити", "💡 Графік відключень"]
    assert labels.count("Меню") == 1


async def test_viber_welcome_keyboard_add_account_resumes_after_consent(vb: ViberHarness) -> None:
    user = vb.user()
    response = await vb.post(conversation_started(user.user_id))
    welcome = await response.json()
    user.buttons = welcome["keyboard"]["Buttons"]
    user.tracking = welcome.get("tracking_data")
    assert user.labels()[0] == "➕ Додати особовий рахунок"
    asked = await user.press("Додати особовий рахунок")
    assert "згода на обробку персональних даних" in asked
    resumed = await user.press("Погоджуюсь")
    assert "номер особового рахунку" in resumed and "Головне меню" not in resumed


async def test_viber_on_postgresql(make_viber: ViberFactory, postgres_demo_url: str) -> None:
    harness = await make_viber(postgres_demo_url)
    for scenario in SCENARIOS:
        await scenario(harness.user())


# ---- Messenger ----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_messenger(
    fb: MessengerHarness, scenario: Callable[[Person], Awaitable[None]]
) -> None:
    await scenario(fb.user())


async def test_messenger_persistent_menu_is_the_short_menu(fb: MessengerHarness) -> None:
    await wait_for(lambda: fb.fake.calls_of("me/messenger_profile"))  # set at start-up
    assert fb.user().standing() == TOP


async def test_messenger_on_postgresql(
    make_messenger: MessengerFactory, postgres_demo_url: str
) -> None:
    harness = await make_messenger(postgres_demo_url)
    for scenario in SCENARIOS:
        await scenario(harness.user())
