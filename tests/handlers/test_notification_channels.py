"""Notification settings on the fakes: the channel a person talks in is always a choice,
channels that are off are not offered, turning every channel off asks first, and pushes
follow what the screen shows."""

from __future__ import annotations

from datetime import datetime

from bot.handlers import WORDS, build_router
from bot.handlers.context import DialogRules
from bot.handlers.dialog import Dialog
from bot.i18n import Catalogues
from core.clock import FrozenClock
from core.delivery import Topic
from core.model import Channel, NotificationPrefs
from core.notifications import notify_person
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import consented

NOW = datetime.fromisoformat("2026-11-29T10:00:00+02:00")
NO_SMTP = frozenset({Channel.CONSOLE, Channel.TELEGRAM, Channel.VIBER})
WITH_SMTP = NO_SMTP | {Channel.EMAIL}


def dialog_with(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues, on: frozenset[Channel]
) -> Dialog:
    factory.data.push_channels = on  # the fake outbox routes as storage does
    rules = DialogRules(push_channels=on)
    return Dialog(factory, FrozenClock(NOW), catalogues, build_router(), rules, WORDS)


def prefs_of(factory: FakeUnitOfWorkFactory) -> NotificationPrefs:
    return next(iter(factory.data.prefs.values()))


async def pushed_to(factory: FakeUnitOfWorkFactory, topic: Topic, key: str) -> Channel | None:
    person_id = next(iter(factory.data.prefs))
    await notify_person(factory(), person_id, topic, {"kind": "text", "text": "x"}, key, NOW)
    push = factory.data.outbox_rows.get((key, person_id))
    return push.channel if push else None


async def test_a_switch_pressed_in_the_console_keeps_the_console(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues
) -> None:
    chat = Chat(dialog_with(factory, catalogues, NO_SMTP))
    await consented(chat)
    text = await chat.send("/notifications")
    assert "Куди надсилаємо: Консоль." in text
    assert "✅ Консоль — цей чат" in chat.labels()
    await chat.press("Нові рахунки")
    assert prefs_of(factory).channels == {Channel.CONSOLE}
    assert prefs_of(factory).new_bills is False
    # Pushes still reach the person: an outage alert and a call-centre answer.
    assert await pushed_to(factory, Topic.OUTAGES_PLANNED, "o:1") == Channel.CONSOLE
    assert await pushed_to(factory, Topic.ANSWERS, "cc:1") == Channel.CONSOLE


async def test_email_is_offered_only_when_smtp_is_on(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues
) -> None:
    chat = Chat(dialog_with(factory, catalogues, NO_SMTP), "tg-1", channel=Channel.TELEGRAM)
    await consented(chat)
    await chat.send("/profile")
    await chat.press("Змінити e-mail")
    await chat.send("ivan@example.com")
    await chat.send("/notifications")
    assert not any("E-mail" in label for label in chat.labels())
    assert "✅ Telegram — цей чат" in chat.labels()

    smtp = Chat(dialog_with(factory, catalogues, WITH_SMTP), "tg-1", channel=Channel.TELEGRAM)
    await smtp.send("/notifications")
    assert "⬜ E-mail" in smtp.labels()
    text = await smtp.press("E-mail")
    assert "Куди надсилаємо: Telegram, E-mail." in text
    assert prefs_of(factory).channels == {Channel.TELEGRAM, Channel.EMAIL}


async def test_without_an_address_smtp_offers_to_add_one(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues
) -> None:
    chat = Chat(dialog_with(factory, catalogues, WITH_SMTP))
    await consented(chat)
    await chat.send("/notifications")
    assert not any(label.endswith("E-mail") for label in chat.labels())
    text = await chat.press("Вказати e-mail для сповіщень")
    assert "Введіть e-mail" in text


async def test_turning_every_channel_off_asks_and_says_what_stops(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues
) -> None:
    chat = Chat(dialog_with(factory, catalogues, NO_SMTP))
    await consented(chat)
    await chat.send("/notifications")
    await chat.press("Аварійні відключення")  # off; the others stay on
    text = await chat.press("Консоль — цей чат")
    assert "Вимкнути всі канали? Тоді не надходитимуть:" in text
    assert "• Планові відключення й графіки" in text and "• Нові рахунки" in text
    assert "Аварійні відключення" not in text  # already off: nothing to lose
    assert "Підтвердження оплат і відповіді на ваші звернення надходитимуть" in text
    assert prefs_of(factory).channels == {Channel.CONSOLE}  # nothing changed yet
    text = await chat.press("Ні, залишити")
    assert "✅ Консоль — цей чат" in chat.labels()

    await chat.press("Консоль — цей чат")
    text = await chat.press("Так, вимкнути всі")
    assert "Усі канали вимкнено" in text and "⬜ Консоль — цей чат" in chat.labels()
    assert prefs_of(factory).channels == frozenset()
    assert await pushed_to(factory, Topic.OUTAGES_PLANNED, "o:2") is None
    assert await pushed_to(factory, Topic.ANSWERS, "cc:2") == Channel.CONSOLE
    # A topic pressed now keeps the choice of no channel.
    await chat.press("Нові рахунки")
    assert prefs_of(factory).channels == frozenset()
    text = await chat.press("Консоль — цей чат")
    assert "Куди надсилаємо: Консоль." in text


async def test_a_choice_of_channels_now_off_shows_where_pushes_go(
    factory: FakeUnitOfWorkFactory, catalogues: Catalogues
) -> None:
    chat = Chat(dialog_with(factory, catalogues, NO_SMTP), "tg-2", channel=Channel.TELEGRAM)
    await consented(chat)
    person_id = next(iter(factory.data.persons))
    # Chosen when e-mail was on; SMTP is gone now.
    factory.data.prefs[person_id] = NotificationPrefs(person_id, frozenset({Channel.EMAIL}))
    text = await chat.send("/notifications")
    assert "Куди надсилаємо: Telegram." in text
    assert "Канал, який ви обрали раніше, зараз недоступний" in text
    assert await pushed_to(factory, Topic.NEW_BILLS, "b:1") == Channel.TELEGRAM
