"""The call centre asks which account a request is about, the last used first, through the
real Telegram, Viber and Messenger adapters against their local fake platforms."""

from __future__ import annotations

import re
from typing import Protocol

from tests.channels.conftest import Harness
from tests.channels.fake_graph import MessengerHarness
from tests.channels.fake_viber import ViberHarness

ACCOUNTS = (("2010000232", "62Z000000000232T"), ("2010000777", "62Z000000000777O"))


class Person(Protocol):
    """What the scenario needs of a person in a messenger."""

    @property
    def text(self) -> str: ...
    def labels(self) -> list[str]: ...
    async def say(self, text: str) -> str: ...
    async def press(self, label: str) -> str: ...


def accounts_offered(person: Person) -> list[str]:
    """Account numbers on the buttons, in order (Messenger numbers long titles "1. …")."""
    found = (re.search(r"20100\d{5}", label) for label in person.labels())
    return [match.group(0) for match in found if match]


async def scenario_call_centre_asks_which_account(person: Person) -> None:
    await person.say("/start")
    await person.press("Погоджуюсь")
    for number, eic in ACCOUNTS:  # 2010000777 is linked last: the last used
        await person.say("/add")
        await person.say(number)
        assert "Рахунок додано" in await person.say(eic)
    await person.say("/callcenter")
    text = await person.press("Нове звернення")
    assert "Щодо якого рахунку звернення?" in text
    assert accounts_offered(person) == ["2010000777", "2010000232"]
    text = await person.press("2010000232")
    assert "Звернення щодо рахунку 2010000232" in text
    await person.press("Незрозумілий рахунок")
    assert "Текст збережено" in await person.say("Поясніть, будь ласка, рахунок за жовтень")
    assert "прийнято" in await person.press("Надіслати")
    listing = await person.press("Мої звернення")
    assert "Рахунок: 2010000232" in listing and "Поясніть, будь ласка" in listing
    # The account of the last request is offered first now.
    await person.press("Нове звернення")
    assert accounts_offered(person) == ["2010000232", "2010000777"]


async def test_telegram(tg: Harness) -> None:
    await scenario_call_centre_asks_which_account(tg.user())


async def test_viber(vb: ViberHarness) -> None:
    await scenario_call_centre_asks_which_account(vb.user())


async def test_messenger(fb: MessengerHarness) -> None:
    await scenario_call_centre_asks_which_account(fb.user())
