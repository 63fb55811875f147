"""Several accounts on one balance screen, through the Telegram, Viber and Messenger fakes:
each account with its money state and this period's readings, the total, and a button per
account that opens its full balance."""

from __future__ import annotations

from tests.channels.conftest import Harness
from tests.channels.fake_graph import MessengerHarness
from tests.channels.fake_viber import ViberHarness
from tests.channels.test_viber_flows import EIC_777, NUMBER_777, Chat, link, linked


async def scenario_several_accounts(user: Chat) -> None:
    await linked(user)
    assert "Рахунок додано" in await link(user, NUMBER_777, EIC_777)
    # Typed words, not the account card's own "Баланс" button (which opens that account).
    screen = await user.say("скільки платити?")
    assert screen.startswith("Баланс за вашими 2 рахунками:")
    first, second = screen.split("\n\n")[1:3]
    assert first.startswith("2010000232 — вул. Кузьми Скрябіна, 39")
    assert "Заборгованості немає, до сплати нічого." in first
    assert second.startswith("2010000777 — просп. Перемоги, 12")
    assert "Переплата 41,28 грн" in second
    for block in (first, second):
        assert "Покази за цей період ще не передано — їх приймають до 03.12.2026." in block
    assert "За жодним рахунком нічого сплачувати не потрібно." in screen
    labels = user.labels()
    assert any("Детально: 2010000232" in label for label in labels), labels
    assert any("Детально: 2010000777" in label for label in labels), labels
    detail = await user.press("Детально: 2010000777")
    assert detail.startswith("Стан рахунку 2010000777 — просп. Перемоги, 12:")
    assert "Останній рахунок за жовтень 2026 — 1 008,72 грн, сплачено." in detail


async def test_telegram(tg: Harness) -> None:
    await scenario_several_accounts(tg.user())
    # The overview's buttons are inline buttons with short payloads.
    last = tg.fake.calls_of("sendMessage")[-2]
    assert any(b["callback_data"].startswith("bal:") for b in last.buttons)


async def test_viber(vb: ViberHarness) -> None:
    await scenario_several_accounts(vb.user())


async def test_messenger(fb: MessengerHarness) -> None:
    await scenario_several_accounts(fb.user())
