"""Issue 16, point 3: what an adapter keeps of a chat lives in the dialog state, so a new
adapter instance (a restart, another replica) on the same database knows it: Telegram's
reply-keyboard labels and that a reply keyboard is shown; Messenger's "More"
pages and its 24-hour window. Two apps on one SQLite database, each with its own adapter
and fake platform, stand for two replicas."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels.base import DeliveryStatus, Push
from bot.messages import Button, Reply
from core.model import Channel, Topic
from storage.orm import DialogStateRow
from tests.channels.conftest import HarnessFactory, MessengerFactory, TgUser
from tests.channels.fake_graph import MessengerUser

SENT = DeliveryStatus.SENT


async def test_a_new_telegram_adapter_knows_the_reply_keyboard(
    make_harness: HarnessFactory, sqlite_demo_url: str
) -> None:
    first = await make_harness(sqlite_demo_url)
    user = first.user()
    await user.say("/start")
    # A reply keyboard (the share-phone one): its other button sends only its label back.
    offer = Reply(
        "Поділіться номером телефону",
        [[Button("Надіслати мій номер", request_phone=True)], [Button("Не зараз", "menu")]],
    )
    assert (await first.channel.send(str(user.user_id), Push([offer]))).status == SENT

    second = await make_harness(sqlite_demo_url)  # a restart, or another replica
    await TgUser(second, user.user_id).say("Не зараз")
    assert second.events[-1].payload == "menu"  # the label mapped back by the new adapter
    # It knows a reply keyboard is shown: the next reply without buttons takes it away.
    await second.channel.send(str(user.user_id), Push([Reply("Готово")]))
    hides = second.fake.calls_of("sendMessage", user.user_id)[-1]
    assert hides.params["reply_markup"] == {"remove_keyboard": True}


async def test_a_new_messenger_adapter_pages_on_and_judges_the_window(
    make_messenger: MessengerFactory, sqlite_demo_url: str
) -> None:
    first = await make_messenger(sqlite_demo_url)
    user = first.user()
    await user.say("Привіт")  # they wrote: the turn notes the time in the dialog state
    choices = [[Button(f"Варіант {n}", f"menu:{n}")] for n in range(1, 21)]
    assert (await first.channel.send(user.psid, Push([Reply("Оберіть", choices)]))).status == SENT
    assert first.fake.sent_to(user.psid)[-1].body["messaging_type"] == "UPDATE"

    second = await make_messenger(sqlite_demo_url)  # a restart, or another replica
    # Inside the 24-hour window as the database knows it: an UPDATE, not refused.
    reminder = await second.channel.send(
        user.psid, Push([Reply("Нагадування")], Topic.READING_REMINDERS)
    )
    assert reminder.status == SENT
    assert second.fake.sent_to(user.psid)[-1].body["messaging_type"] == "UPDATE"
    # "More ▶" pressed on the new adapter shows the page the first one kept.
    again = MessengerUser(second, user.psid)
    await again.tap_button({"content_type": "text", "title": "Ще ▶", "payload": "~more"})
    assert "Варіант 13" in again.labels() and "Варіант 20" in again.labels(), again.labels()
    async with second.app.engine.connect() as connection:
        kept = await connection.scalar(
            select(DialogStateRow.channel_memory).where(
                DialogStateRow.channel == Channel.MESSENGER.value,
                DialogStateRow.user_id == user.psid,
            )
        )
    assert "more" not in kept  # the last page was shown: nothing behind "more" any more
