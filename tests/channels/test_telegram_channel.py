"""The Telegram channel's own duties: secret, duplicates, files, contacts, rendering, retries,
blocked users, start-up registration and polling — against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging

import pytest

from app.compose import build_app, build_channels
from bot.channels import send_gate
from bot.channels.base import DeliveryStatus, Push
from bot.channels.send_gate import GateRefused, SendGate
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram.channel import derived_secret
from bot.channels.telegram.inbound import PHOTO_LIMIT_BYTES
from bot.messages import Attachment, Button, Incoming, Reply
from core.model import Channel
from tests.channels.conftest import (
    Harness,
    HarnessFactory,
    jpeg_bytes,
    telegram_settings,
)
from tests.channels.fake_telegram import FakeTelegram, message_update, next_update_id

MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# ---- start-up ---------------------------------------------------------------------------


async def test_start_registers_commands_in_both_languages_and_the_webhook(tg: Harness) -> None:
    commands = {
        call.params.get("language_code"): call.params["commands"]
        for call in tg.fake.calls_of("setMyCommands")
    }
    assert set(commands) == {"uk", "en", None}
    names = [command["command"] for command in commands["en"]]
    # The sections of the main menu, as commands.
    assert names == [
        "start",
        "menu",
        "readings",
        "balance",
        "pay",
        "schedule",
        "accounts",
        "requests",
        "settings",
        "help",
    ]
    assert commands["uk"][3]["description"] == "Баланс: переплата чи борг"
    assert commands["en"][3]["description"] == "Balance: overpayment or debt"
    assert commands[None] == commands["uk"]
    (webhook,) = tg.fake.calls_of("setWebhook")
    assert webhook.params["url"] == "https://kabinet.example/webhook/telegram"
    assert webhook.params["secret_token"] == "test-secret_123"
    assert webhook.params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]


async def test_build_channels_turns_telegram_on_only_with_a_token(sqlite_demo_url: str) -> None:
    with_token = await build_app(telegram_settings(sqlite_demo_url, "http://127.0.0.1:9"))
    without = await build_app(
        telegram_settings(sqlite_demo_url, "http://127.0.0.1:9", telegram_bot_token=None)
    )
    try:
        channels = build_channels(with_token)
        assert [type(channel) for channel in channels] == [TelegramChannel]
        assert build_channels(without) == []
        await channels[0].stop()
    finally:
        await with_token.close()
        await without.close()


def test_a_missing_secret_is_derived_from_the_token() -> None:
    secret = derived_secret("42:TEST")
    assert secret == derived_secret("42:TEST") != derived_secret("43:TEST")
    assert len(secret) == 64 and secret.isalnum()


# ---- webhook ----------------------------------------------------------------------------


async def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_processed(tg: Harness) -> None:
    update = message_update(7_100_001, text="/start")
    assert await tg.post(update, secret="wrong") == 401
    assert await tg.post(update, secret=None) == 401
    assert tg.events == []
    assert tg.fake.calls_of("sendMessage") == []
    # The same update with the right secret is still new: nothing was recorded before.
    assert await tg.post(update) == 200
    assert len(tg.fake.calls_of("sendMessage", 7_100_001)) == 1


async def test_malformed_json_is_refused(tg: Harness) -> None:
    response = await tg.client.post(
        "/webhook/telegram",
        data=b"{not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": "test-secret_123"},
    )
    assert response.status == 400


async def test_a_redelivered_update_is_answered_once(tg: Harness) -> None:
    update = message_update(7_100_002, text="/start", update_id=next_update_id())
    assert await tg.post(update) == 200
    assert await tg.post(update) == 200
    assert len(tg.fake.calls_of("sendMessage", 7_100_002)) == 1
    assert [event.update_key for event in tg.events] == [str(update["update_id"])] * 2


async def test_concurrent_redeliveries_are_answered_once(tg: Harness) -> None:
    update = message_update(7_100_003, text="/start", update_id=next_update_id())
    statuses = await asyncio.gather(*(tg.post(update) for _ in range(3)))
    assert statuses == [200, 200, 200]
    assert len(tg.fake.calls_of("sendMessage", 7_100_003)) == 1


async def test_group_chats_are_ignored(tg: Harness) -> None:
    update = message_update(7_100_004, text="/balance", chat_type="group", chat_id=-100123)
    assert await tg.post(update) == 200
    assert tg.events == []
    assert tg.fake.calls_of("sendMessage") == []


async def test_a_failing_handler_is_logged_with_the_update_id_and_apologised_for(
    make_harness: HarnessFactory, sqlite_demo_url: str, caplog
) -> None:
    def wrap(handle):
        async def broken(event: Incoming) -> list[Reply]:
            raise RuntimeError("boom")

        return broken

    tg = await make_harness(sqlite_demo_url, wrap=wrap)
    update = message_update(7_100_005, text="Баланс")
    with caplog.at_level(logging.ERROR):
        assert await tg.post(update) == 200
    (sent,) = tg.fake.calls_of("sendMessage", 7_100_005)
    assert "Вибачте, сталася помилка" in sent.text
    assert str(update["update_id"]) in caplog.text


# ---- inputs -----------------------------------------------------------------------------


def photo_sizes(file_ids: list[str], sizes: list[int]) -> list[dict]:
    return [
        {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "width": 90 * (n + 1),
            "height": 60 * (n + 1),
            "file_size": size,
        }
        for n, (file_id, size) in enumerate(zip(file_ids, sizes, strict=True))
    ]


async def test_a_photo_downloads_the_largest_size_under_the_limit(tg: Harness) -> None:
    small, large = jpeg_bytes((90, 60)), jpeg_bytes((640, 480))
    tg.fake.add_file(small, "ph-small", "photos/small.jpg")
    tg.fake.add_file(large, "ph-large", "photos/large.jpg")
    user = tg.user()
    sizes = photo_sizes(
        ["ph-small", "ph-large", "ph-huge"], [len(small), len(large), PHOTO_LIMIT_BYTES + 1]
    )
    await user.send(photo=sizes, caption="мій лічильник")
    assert tg.fake.downloads == ["photos/large.jpg"]
    event = tg.events[-1]
    assert event.photo == large and event.photo[:2] == b"\xff\xd8"
    assert event.channel is Channel.TELEGRAM and event.user_id == str(user.user_id)
    assert user.last, "the dialog answered the photo"


async def test_only_too_large_photo_sizes_are_not_downloaded(tg: Harness) -> None:
    user = tg.user()
    await user.send(photo=photo_sizes(["ph-x"], [PHOTO_LIMIT_BYTES + 1]))
    assert tg.fake.downloads == []
    assert tg.events[-1].unsupported == "photo_too_large"


async def test_an_image_sent_as_a_document_is_read_as_a_photo(tg: Harness) -> None:
    image = jpeg_bytes((800, 600))
    tg.fake.add_file(image, "doc-1", "documents/meter.jpg")
    user = tg.user()
    document = {
        "file_id": "doc-1",
        "file_unique_id": "udoc-1",
        "file_name": "meter.jpg",
        "mime_type": "image/jpeg",
        "file_size": len(image),
    }
    await user.send(document=document)
    assert tg.events[-1].photo == image
    pdf = {**document, "file_id": "doc-2", "mime_type": "application/pdf", "file_name": "a.pdf"}
    text = await user.send(document=pdf)
    assert tg.events[-1].unsupported == "document"
    assert "не підтримує" in text


async def test_a_failed_download_is_apologised_for(tg: Harness) -> None:
    user = tg.user()
    text = await user.send(photo=photo_sizes(["missing"], [1000]))
    assert "Вибачте, сталася помилка" in text
    assert tg.events == []


async def test_a_shared_contact_counts_only_when_it_is_the_senders_own(tg: Harness) -> None:
    user = tg.user()
    own = {"phone_number": "+380501234567", "first_name": "Іван", "user_id": user.user_id}
    await user.send(contact=own)
    assert tg.events[-1].contact_phone == "+380501234567"
    assert tg.events[-1].contact_is_own is True
    foreign = {"phone_number": "+380671112233", "first_name": "Петро", "user_id": 1}
    await user.send(contact=foreign)
    assert tg.events[-1].contact_is_own is False
    card_without_user = {"phone_number": "+380671112233", "first_name": "Петро"}
    await user.send(contact=card_without_user)
    assert tg.events[-1].contact_is_own is False
    assert user.last, "the dialog answered"


async def test_typing_is_shown_while_a_slow_turn_runs(
    make_harness: HarnessFactory, sqlite_demo_url: str
) -> None:
    def wrap(handle):
        async def slow(event: Incoming) -> list[Reply]:
            await asyncio.sleep(0.3)
            return await handle(event)

        return slow

    tg = await make_harness(sqlite_demo_url, wrap=wrap, typing_after=0.05)
    user = tg.user()
    await user.say("/start")
    (action,) = tg.fake.calls_of("sendChatAction", user.user_id)
    assert action.params["action"] == "typing"


async def test_a_quick_turn_sends_no_chat_action(tg: Harness) -> None:
    user = tg.user()
    await user.say("/start")
    assert tg.fake.calls_of("sendChatAction") == []


# ---- rendering --------------------------------------------------------------------------


async def test_long_texts_are_split_and_the_keyboard_rides_on_the_last_piece(tg: Harness) -> None:
    line = "Рядок довгого тексту про покази лічильника. " * 3
    text = "\n".join([line] * 60)
    assert len(text) > 4096
    result = await tg.channel.send("7100010", Push([Reply(text, [[Button("Меню", "menu")]])]))
    assert result.status is DeliveryStatus.SENT
    pieces = tg.fake.calls_of("sendMessage", 7_100_010)
    assert len(pieces) == 2
    assert all(len(piece.text) <= 4096 for piece in pieces)
    assert "".join(piece.text for piece in pieces).replace("\n", "") == text.replace("\n", "")
    assert pieces[0].buttons == [] and pieces[1].buttons[0]["callback_data"] == "menu"


async def test_images_and_pdfs_are_uploaded(tg: Harness) -> None:
    image = jpeg_bytes((200, 100))
    reply = Reply(
        "Графік споживання",
        [[Button("Оплатити", url="https://pay.example/x")]],
        image=Attachment("consumption.jpg", image, "image/jpeg"),
        document=Attachment("bill-2026-10.pdf", MINIMAL_PDF, "application/pdf"),
    )
    assert (await tg.channel.send("7100011", Push([reply]))).status is DeliveryStatus.SENT
    (photo,) = tg.fake.calls_of("sendPhoto", 7_100_011)
    (document,) = tg.fake.calls_of("sendDocument", 7_100_011)
    assert photo.params["photo"].content == image
    assert photo.params["caption"] == "Графік споживання"
    assert document.params["document"].content == MINIMAL_PDF
    assert document.params["document"].filename == "bill-2026-10.pdf"
    assert document.buttons == [{"text": "Оплатити", "url": "https://pay.example/x"}]


async def test_a_long_caption_goes_as_text_before_the_file(tg: Harness) -> None:
    reply = Reply("х" * 1500, image=Attachment("a.jpg", jpeg_bytes(), "image/jpeg"))
    await tg.channel.send("7100012", Push([reply]))
    methods = [c.method for c in tg.fake.calls if c.chat_id == 7_100_012]
    assert methods == ["sendMessage", "sendPhoto"]
    assert "caption" not in tg.fake.calls_of("sendPhoto", 7_100_012)[0].params


async def test_phone_sharing_uses_a_reply_keyboard_and_labels_map_back(tg: Harness) -> None:
    user = tg.user()
    # Pushes go to people who wrote: their chat's memory lives in their dialog state.
    await user.say("/start")
    reply = Reply(
        "Поділіться номером телефону",
        [[Button("Надіслати мій номер", request_phone=True)], [Button("Меню", "menu")]],
    )
    await tg.channel.send(str(user.user_id), Push([reply]))
    sent = tg.fake.calls_of("sendMessage", user.user_id)[-1]
    keyboard = sent.params["reply_markup"]
    assert keyboard["keyboard"][0][0] == {"text": "Надіслати мій номер", "request_contact": True}
    assert keyboard["one_time_keyboard"] is True
    await user.say("Меню")
    assert tg.events[-1].payload == "menu"
    # The next reply without buttons of its own hides the reply keyboard.
    await tg.channel.send(str(user.user_id), Push([Reply("Готово")]))
    last = tg.fake.calls_of("sendMessage", user.user_id)[-1]
    assert last.params["reply_markup"] == {"remove_keyboard": True}


async def test_replacing_falls_back_to_a_new_message_when_editing_fails(tg: Harness) -> None:
    user = tg.user()
    await tg.channel.send(str(user.user_id), Push([Reply("сторінка 1", [[Button(">", "p:2")]])]))
    pressed = tg.fake.calls_of("sendMessage", user.user_id)[-1].message_id
    tg.fake.fail("editMessageText", status=400, retry_after=None)
    page = Reply("сторінка 2", [[Button("<", "p:1")]], replaces_previous=True)
    # As a paging press answers: the message whose button was pressed is edited.
    result = await tg.channel.deliver(user.user_id, [page], edit_message_id=pressed)
    assert result.status is DeliveryStatus.SENT
    assert len(tg.fake.calls_of("editMessageText", user.user_id)) == 1
    assert tg.fake.calls_of("sendMessage", user.user_id)[-1].text == "сторінка 2"


# ---- retries and blocked users ----------------------------------------------------------


async def test_429_waits_retry_after_and_retries(tg: Harness) -> None:
    user = tg.user()
    tg.fake.fail("sendMessage", retry_after=3, times=2)
    text = await user.say("/start")
    assert "згода" in text
    assert tg.sleeps == [3, 3]
    assert len(tg.fake.calls_of("sendMessage", user.user_id)) == 3  # two refused, one sent


async def test_429_for_too_long_is_left_to_the_pushes_retry_loop(tg: Harness) -> None:
    tg.fake.fail("sendMessage", retry_after=120)
    result = await tg.channel.send("7100020", Push([Reply("Нагадування")]))
    assert result.status is DeliveryStatus.RETRY_LATER and result.retry_after == 120
    assert tg.sleeps == []


async def test_a_push_hands_a_429_to_delivery_at_once(tg: Harness) -> None:
    # Delivery pauses the channel and puts the push back: a retry here would go out past
    # the rate limit the workers keep.
    tg.fake.fail("sendMessage", retry_after=3)
    result = await tg.channel.send("7100021", Push([Reply("Нагадування")]))
    assert result.status is DeliveryStatus.RETRY_LATER and result.retry_after == 3
    assert tg.sleeps == []
    assert (await tg.channel.send("7100021", Push([Reply("x")]))).status is DeliveryStatus.SENT


async def _gated_send(tg: Harness, gate: SendGate, push_id: int, push: Push) -> asyncio.Task:
    context = contextvars.copy_context()
    context.run(send_gate.CURRENT.set, (gate, push_id))
    return asyncio.create_task(tg.channel.send("7100021", push), context=context)


async def test_a_gated_push_is_held_at_its_body_until_the_gate_opens(tg: Harness) -> None:
    # Delivery marks the row `sending` between the gate's arrival and its opening: by then
    # the request is built and only its write is left.
    gate = SendGate(1)
    sending = await _gated_send(tg, gate, 1, Push([Reply("Відключення о 14:00"), Reply("Друге")]))
    assert await gate.arrived(5)
    await asyncio.sleep(0.05)
    assert tg.fake.calls_of("sendMessage") == []
    gate.open([1])
    result = await sending
    # Both messages of the push went (the second call finds the gate open).
    assert result.status is DeliveryStatus.SENT
    assert [call.params["text"] for call in tg.fake.calls_of("sendMessage")] == [
        "Відключення о 14:00",
        "Друге",
    ]


async def test_a_push_refused_at_the_gate_reaches_no_one(tg: Harness) -> None:
    gate = SendGate(1)
    sending = await _gated_send(tg, gate, 1, Push([Reply("Відключення о 14:00")]))
    assert await gate.arrived(5)
    gate.open([])
    with pytest.raises(GateRefused):
        await sending
    assert tg.fake.calls_of("sendMessage") == []
    assert tg.sleeps == []  # not taken for a network error and retried


async def test_network_errors_back_off_and_retry(tg: Harness) -> None:
    user = tg.user()
    tg.fake.drop("sendMessage", times=2)
    text = await user.say("/start")
    assert "згода" in text
    assert tg.sleeps == pytest.approx([0.5, 1.0], rel=0.2)  # jittered


async def test_network_errors_are_bounded(tg: Harness) -> None:
    tg.fake.drop("sendMessage", times=5)
    result = await tg.channel.send("7100021", Push([Reply("Нагадування")]))
    assert result.status is DeliveryStatus.RETRY_LATER
    assert tg.sleeps == pytest.approx([0.5, 1.0], rel=0.2)  # jittered


async def test_a_blocked_bot_marks_the_person_unreachable(tg: Harness) -> None:
    user = tg.user()
    await user.say("/start")
    tg.fake.forbid(user.user_id)
    await user.say("Баланс")  # the answer is refused with 403
    async with tg.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.TELEGRAM, str(user.user_id))
    assert identity is not None and identity.reachable is False
    result = await tg.channel.send(str(user.user_id), Push([Reply("Нагадування")]))
    assert result.status is DeliveryStatus.UNREACHABLE
    # Writing again makes them reachable (the dialog's rule), once Telegram lets us answer.
    tg.fake.forbidden_chats.clear()
    await user.say("меню")
    async with tg.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.TELEGRAM, str(user.user_id))
    assert identity is not None and identity.reachable is True


async def test_blocking_the_bot_is_learned_from_my_chat_member(tg: Harness) -> None:
    user = tg.user()
    await user.say("/start")
    member = {"user": {"id": 42, "is_bot": True, "first_name": "Kabinet"}}
    update = {
        "update_id": next_update_id(),
        "my_chat_member": {
            "chat": {"id": user.user_id, "type": "private"},
            "from": {"id": user.user_id, "is_bot": False, "first_name": "Іван"},
            "date": 1764400000,
            "old_chat_member": {**member, "status": "member"},
            "new_chat_member": {**member, "status": "kicked", "until_date": 0},
        },
    }
    assert await tg.post(update) == 200
    async with tg.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.TELEGRAM, str(user.user_id))
    assert identity is not None and identity.reachable is False


async def test_pushes_to_a_bad_user_id_fail_cleanly(tg: Harness) -> None:
    result = await tg.channel.send("not-a-number", Push([Reply("x")]))
    assert result.status is DeliveryStatus.FAILED


# ---- polling ----------------------------------------------------------------------------


async def test_polling_mode_reads_updates_and_answers(
    make_harness: HarnessFactory, sqlite_demo_url: str
) -> None:
    tg = await make_harness(sqlite_demo_url, telegram_mode="polling", public_base_url=None)
    assert tg.fake.calls_of("deleteWebhook")
    assert tg.fake.calls_of("setWebhook") == []
    # No webhook route in polling mode.
    assert await tg.post(message_update(7_100_030, text="/start")) == 404
    tg.fake.push_update(message_update(7_100_031, text="/start"))
    for _ in range(100):
        if tg.fake.calls_of("sendMessage", 7_100_031):
            break
        await asyncio.sleep(0.05)
    (sent,) = tg.fake.calls_of("sendMessage", 7_100_031)
    assert "згода на обробку" in sent.text


async def test_the_fake_serves_getme(tg: Harness) -> None:
    me = await tg.channel.bot.get_me()
    assert me.username == "kabinet_test_bot"
    assert isinstance(tg.fake, FakeTelegram)


def test_json_calls_fill_in_bot_defaults_and_leave_out_nones() -> None:
    import json

    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.methods import SendChatAction, SendMessage

    from bot.channels.telegram.session import json_body

    plain = Bot("42:TEST")
    html = Bot("42:TEST", default=DefaultBotProperties(parse_mode="HTML"))
    message = SendMessage(chat_id=5, text="Баланс")
    assert json.loads(json_body(plain, message)) == {"chat_id": 5, "text": "Баланс"}
    assert json.loads(json_body(html, message))["parse_mode"] == "HTML"
    assert json.loads(json_body(plain, SendChatAction(chat_id=5, action="typing"))) == {
        "chat_id": 5,
        "action": "typing",
    }


def test_a_sent_message_is_read_for_its_id_only() -> None:
    from bot.channels.telegram.session import SentMessage, sent_message

    answer = {
        "ok": True,
        "result": {"message_id": 77, "date": 0, "chat": {"id": 5, "type": "private"}},
    }
    assert sent_message(json.dumps(answer)) == SentMessage(77)
    # Anything else goes to aiogram's own reading (errors, `true` for inline edits, junk).
    assert sent_message(json.dumps({"ok": True, "result": True})) is None
    assert sent_message(json.dumps({"ok": False, "error_code": 400, "description": "x"})) is None
    assert sent_message(json.dumps({"ok": True, "result": {"message_id": "77"}})) is None
    assert sent_message("<html>bad gateway</html>") is None
    assert sent_message("[1, 2]") is None


# ---- files too large (issue 18, point 7) --------------------------------------------------


async def test_a_file_of_unknown_size_is_cut_off_at_the_limit(tg: Harness) -> None:
    """A self-hosted Bot API serves files up to 2 GB and a photo's update may declare no
    size: the download stops at the limit and the person hears the photo is too large."""
    size = 90 * 1024 * 1024
    tg.fake.add_stream("ph-endless", "photos/endless.jpg", size)
    user = tg.user()
    sizes = photo_sizes(["ph-endless"], [0])
    del sizes[0]["file_size"]  # not declared in the update either
    text = await user.send(photo=sizes)
    assert tg.fake.downloads == ["photos/endless.jpg"]
    # Read up to the limit; the kernel's socket buffers took some more (tcp_rmem allows
    # up to 32 MB here; about 12 MB in practice), not 90 MB.
    assert tg.fake.streamed["photos/endless.jpg"] < PHOTO_LIMIT_BYTES + 20 * 1024 * 1024
    assert tg.events[-1].unsupported == "photo_too_large" and tg.events[-1].photo is None
    assert "Фото завелике" in text and "10 МБ" in text
    assert "не підтримує" not in text


async def test_a_photo_declared_too_large_is_answered_so(tg: Harness) -> None:
    user = tg.user(language="en")
    text = await user.send(photo=photo_sizes(["ph-big"], [PHOTO_LIMIT_BYTES + 1]))
    assert tg.fake.downloads == []
    assert "The photo is too large" in text and "cannot read this kind" not in text
    document = {
        "file_id": "doc-big",
        "file_unique_id": "udoc-big",
        "file_name": "meter.jpg",
        "mime_type": "image/jpeg",
        "file_size": 11 * 1024 * 1024,
    }
    assert "The photo is too large" in await user.send(document=document)


async def test_a_file_getfile_declares_too_large_is_not_downloaded(tg: Harness) -> None:
    tg.fake.add_stream("ph-told", "photos/told.jpg", 12 * 1024 * 1024, declared=True)
    sizes = photo_sizes(["ph-told"], [0])
    del sizes[0]["file_size"]
    text = await tg.user().send(photo=sizes)
    assert tg.fake.downloads == []
    assert "Фото завелике" in text
