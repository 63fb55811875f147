"""The Messenger channel's own duties: verification, signatures, batches, duplicates,
rendering limits, typing, the profile on start, the 24-hour rule and Graph errors —
against the fake Graph API over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.compose import build_app, build_channels, messenger_channel
from app.settings import load_settings
from bot.channels.base import DeliveryStatus, Push
from bot.channels.media import MediaStore
from bot.channels.messenger import (
    MessengerChannel,
    render,
    shorten,
    signature_valid,
)
from bot.channels.viber import ViberChannel
from bot.i18n import Catalogues
from bot.messages import Attachment, Button, Reply
from core.model import Channel, Topic
from tests.channels.conftest import IN_WINDOW, jpeg_bytes
from tests.channels.fake_graph import (
    APP_SECRET,
    PAGE_TOKEN,
    VERIFY_TOKEN,
    MessengerHarness,
    encode,
    messaging,
    mid,
    page_event,
    sign,
    text_message,
)
from tests.channels.fake_viber import TOKEN as VIBER_TOKEN
from tests.channels.fake_viber import table_counts, wait_for

Factory = Callable[..., Awaitable[MessengerHarness]]


@pytest.fixture(scope="module")
def t() -> Any:
    return Catalogues().translator("uk")


async def reachable(harness: MessengerHarness, psid: str) -> bool | None:
    async with harness.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.MESSENGER, psid)
    return None if identity is None else identity.reachable


# ---- verification and signatures --------------------------------------------------------


async def test_verification_answers_the_challenge_only_with_the_right_token(
    fb: MessengerHarness,
) -> None:
    ok = await fb.client.get(
        "/webhook/messenger",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42x"},
    )
    assert ok.status == 200 and await ok.text() == "42x"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ):
        refused = await fb.client.get("/webhook/messenger", params=params)
        assert refused.status == 403


def test_signature_check() -> None:
    body = encode(page_event(text_message("1", "привіт")))
    assert signature_valid(APP_SECRET, body, sign(body))
    assert not signature_valid(APP_SECRET, body + b" ", sign(body))
    assert not signature_valid(APP_SECRET, body, sign(body)[len("sha256=") :])
    assert not signature_valid(APP_SECRET, body, "sha1=" + sign(body)[7:])


async def test_forged_or_missing_signatures_get_403_and_change_nothing(
    fb: MessengerHarness,
) -> None:
    user = fb.user()
    body = page_event(text_message(user.psid, "привіт"))
    before = await table_counts(fb.app.engine)
    assert (await fb.post(body, signature=None)).status == 403
    assert (await fb.post(body, signature="sha256=" + "0" * 64)).status == 403
    assert (await fb.post(body, signature=sign(encode(body), "other secret"))).status == 403
    assert await table_counts(fb.app.engine) == before
    assert fb.events == [] and fb.fake.sent_to(user.psid) == []
    assert "згода" in await user.post(body)


async def test_a_signed_body_that_is_not_json_is_refused(fb: MessengerHarness) -> None:
    assert (await fb.post(b"{oops", signature=sign(b"{oops"))).status == 400


# ---- events ------------------------------------------------------------------------------


async def test_every_event_of_every_entry_is_handled_and_mids_deduplicate(
    fb: MessengerHarness,
) -> None:
    first, second = fb.user(), fb.user()
    one = text_message(first.psid, "привіт", message_id="m_dup_1")
    body = page_event(
        one,
        text_message(second.psid, "привіт"),
        messaging(first.psid, delivery={"mids": ["x"], "watermark": 1}),
        messaging(first.psid, read={"watermark": 1}),
        messaging(first.psid, message={"mid": mid(), "is_echo": True, "text": "ехо"}),
        entries=2,
    )
    assert (await fb.post(body)).status == 200
    assert len(fb.fake.sent_to(first.psid)) == 1 and len(fb.fake.sent_to(second.psid)) == 1
    assert (await fb.post(page_event(one))).status == 200  # the same mid again
    assert len(fb.fake.sent_to(first.psid)) == 1
    registry = fb.app.metrics.registry
    for kind in ("delivery", "read", "echo"):
        assert registry.get_sample_value("kabinet_messenger_events_total", {"kind": kind}) == 1.0


async def test_stickers_and_other_attachments_get_a_polite_answer(fb: MessengerHarness) -> None:
    user = fb.user()
    await user.say("привіт")
    await user.press("Погоджуюсь")
    sticker = {
        "mid": mid(),
        "attachments": [
            {
                "type": "image",
                "payload": {"sticker_id": 369239263222822, "url": "https://cdn.example/s.png"},
            }
        ],
    }
    assert "не підтримує" in await user.post(page_event(messaging(user.psid, message=sticker)))
    assert fb.events[-1].unsupported == "sticker"
    audio = {
        "mid": mid(),
        "attachments": [{"type": "audio", "payload": {"url": "https://cdn.example/a.mp4"}}],
    }
    assert "не підтримує" in await user.post(page_event(messaging(user.psid, message=audio)))
    assert fb.events[-1].unsupported == "audio"


async def test_get_started_and_persistent_menu_postbacks_are_payloads(fb: MessengerHarness) -> None:
    user = fb.user()
    started = messaging(
        user.psid, postback={"mid": mid(), "title": "Get Started", "payload": "start"}
    )
    assert "згода" in await user.post(page_event(started))
    await user.press("Погоджуюсь")
    menu = messaging(user.psid, postback={"mid": mid(), "title": "Баланс", "payload": "bal"})
    await user.post(page_event(menu))
    assert fb.events[-1].payload == "bal" and "рахун" in user.text.lower()


async def test_a_photo_that_cannot_be_downloaded_is_apologised_for(fb: MessengerHarness) -> None:
    user = fb.user()
    await user.say("привіт")
    gone = {
        "mid": mid(),
        "attachments": [{"type": "image", "payload": {"url": fb.fake.base + "/cdn/gone.jpg"}}],
    }
    assert "сталася помилка" in await user.post(page_event(messaging(user.psid, message=gone)))
    ok = await user.send_picture(jpeg_bytes())
    assert ok and fb.events[-1].photo is not None


async def test_typing_on_while_a_slow_turn_runs(
    make_messenger: Factory, sqlite_demo_url: str
) -> None:
    harness = await make_messenger(sqlite_demo_url, typing_after=0.0)
    user = harness.user()
    await user.say("привіт")
    await wait_for(lambda: harness.fake.actions_to(user.psid))
    assert harness.fake.actions_to(user.psid)[0] == "typing_on"


# ---- start-up ------------------------------------------------------------------------


async def test_start_sets_get_started_and_the_persistent_menu(fb: MessengerHarness) -> None:
    await wait_for(lambda: fb.fake.calls_of("me/messenger_profile"))
    (call,) = fb.fake.calls_of("me/messenger_profile")
    assert call.auth == f"Bearer {PAGE_TOKEN}"
    assert call.body["get_started"] == {"payload": "start"}
    menus = {menu["locale"]: menu["call_to_actions"] for menu in call.body["persistent_menu"]}
    assert set(menus) == {"default", "en_US", "en_GB"}
    assert len(menus["default"]) <= 20
    assert all(len(item["title"]) <= 30 for item in menus["default"])
    # The main menu's top entries, frequent ones first.
    assert [item["payload"] for item in menus["default"]] == [
        "read",
        "bal",
        "pay",
        "sched",
        "accs",
        "reqs",
        "set",
        "help",
    ]
    assert {"title": "💰 Баланс", "type": "postback", "payload": "bal"} in menus["default"]
    assert {"title": "💰 Balance", "type": "postback", "payload": "bal"} in menus["en_US"]


async def test_build_channels_with_both_shares_one_media_route(sqlite_demo_url: str) -> None:
    settings = load_settings(
        database_url=sqlite_demo_url,
        telegram_bot_token=None,
        viber_auth_token=VIBER_TOKEN,
        messenger_page_token=PAGE_TOKEN,
        messenger_app_secret=APP_SECRET,
        messenger_verify_token=VERIFY_TOKEN,
        public_base_url="https://kabinet.example",
    )
    app = await build_app(settings)
    try:
        channels = build_channels(app)
        assert [type(c) for c in channels] == [ViberChannel, MessengerChannel]
        assert channels[0].media is channels[1].media
        from app.server import build_web_app

        web_app = build_web_app(app, channels)
        paths = {r.resource.canonical for r in web_app.router.routes() if r.resource}
        assert {"/media/{token}", "/webhook/viber", "/webhook/messenger"} <= paths
        for channel in channels:
            await channel.stop()
    finally:
        await app.close()


def test_messenger_without_its_secrets_does_not_start() -> None:
    settings = load_settings(messenger_page_token=PAGE_TOKEN, telegram_bot_token=None)
    with pytest.raises(ValueError, match="MESSENGER_APP_SECRET"):
        messenger_channel(
            settings,
            handle=None,  # type: ignore[arg-type]
            mark_unreachable=None,  # type: ignore[arg-type]
            catalogues=None,  # type: ignore[arg-type]
            media=MediaStore(b"k", "https://k.example"),
            clock=None,  # type: ignore[arg-type]
        )


# ---- rendering -----------------------------------------------------------------------


def test_shortening_keeps_words_and_fits() -> None:
    assert shorten("Баланс") == "Баланс"
    short = shorten("Звернення до кол-центру")
    assert len(short) <= 20 and short.endswith("…") and short.startswith("Звернення")


def test_many_choices_are_quick_replies_paged_with_numbered_long_labels(t: Any) -> None:
    media = MediaStore(b"k", "https://k.example")
    buttons = [[Button(f"Вибір номер {i}", f"c:{i}")] for i in range(20)]
    buttons.append([Button("Дуже довга назва кнопки, що не влазить", "long")])
    rendered = render(Reply("Оберіть", buttons), media, t)
    (message,) = rendered.messages
    quick = message["quick_replies"]
    assert len(quick) == 13 and quick[-1]["payload"] == "~more"
    assert all(len(q["title"]) <= 20 for q in quick)
    assert [q["payload"] for q in quick[:12]] == [f"c:{i}" for i in range(12)]
    rest = [b.payload for page in rendered.more for b in page]
    assert rest == [f"c:{i}" for i in range(12, 20)] + ["long"]
    assert "1. Дуже довга назва кнопки, що не влазить" in message["text"]


def test_few_choices_and_links_are_a_button_template(t: Any) -> None:
    media = MediaStore(b"k", "https://k.example")
    reply = Reply(
        "До сплати 100,00 грн",
        [[Button("Сплатити 100,00 грн", url="https://pay.example/x")], [Button("Меню", "menu")]],
    )
    (message,) = render(reply, media, t).messages
    payload = message["attachment"]["payload"]
    assert payload["template_type"] == "button" and payload["text"] == "До сплати 100,00 грн"
    assert [b["type"] for b in payload["buttons"]] == ["web_url", "postback"]
    many_links = Reply("x", [[Button(f"Лінк {i}", url=f"https://e.example/{i}")] for i in range(4)])
    templates = render(many_links, media, t).messages
    assert [len(m["attachment"]["payload"]["buttons"]) for m in templates] == [3, 1]


def test_images_and_documents_are_attachments_by_media_url(t: Any) -> None:
    media = MediaStore(b"k", "https://k.example")
    reply = Reply(
        "Рахунок",
        [[Button("Меню", "menu")]],
        image=Attachment("c.png", b"png", "image/png"),
        document=Attachment("b.pdf", b"%PDF", "application/pdf"),
    )
    messages = render(reply, media, t).messages
    kinds = [m.get("attachment", {}).get("type") or "text" for m in messages]
    assert kinds == ["text", "image", "file", "template"]
    assert messages[1]["attachment"]["payload"]["url"].startswith("https://k.example/media/")
    phone = Reply("Телефон?", [[Button("📱", request_phone=True)], [Button("Меню", "menu")]])
    (asked,) = render(phone, media, t).messages
    assert asked["quick_replies"][0] == {"content_type": "user_phone_number"}


async def test_more_pages_are_sent_by_the_adapter(fb: MessengerHarness) -> None:
    user = fb.user()
    await user.say("привіт")
    await user.press("Погоджуюсь")
    # The short menu fits in one page; a longer choice (an operator's list of types, say)
    # is paged by the adapter. Such a reply is sent as a push here.
    await user.say("меню")
    assert not any(b.get("payload") == "~more" for b in user.buttons)
    choices = [[Button(f"Варіант {n}", "help" if n == 17 else "menu")] for n in range(1, 21)]
    await fb.channel.send(user.psid, Push([Reply("Оберіть:", choices)]))
    user.last = fb.fake.sent_to(user.psid)[-1:]
    user.buttons = user.last[-1].message.get("quick_replies") or []
    assert any(b.get("payload") == "~more" for b in user.buttons)
    handled = len(fb.events)
    await user.press("Варіант 17")  # on the second page
    assert len(fb.events) == handled + 1 and fb.events[-1].payload == "help"


# ---- the 24-hour rule and errors ------------------------------------------------------


async def test_pushes_follow_the_24_hour_rule(fb: MessengerHarness, caplog) -> None:
    caplog.set_level(logging.INFO)
    user = fb.user()
    await user.say("привіт")
    inside = await fb.channel.send(user.psid, Push([Reply("Нагадування")]))
    assert inside.status == DeliveryStatus.SENT
    assert fb.fake.sent_to(user.psid)[-1].body["messaging_type"] == "UPDATE"
    fb.clock.at = IN_WINDOW + timedelta(hours=25)
    bill = await fb.channel.send(user.psid, Push([Reply("Новий рахунок")], Topic.NEW_BILLS))
    assert bill.status == DeliveryStatus.SENT
    last = fb.fake.sent_to(user.psid)[-1].body
    assert last["messaging_type"] == "MESSAGE_TAG" and last["tag"] == "ACCOUNT_UPDATE"
    sent = len(fb.fake.sent_to(user.psid))
    reminder = await fb.channel.send(user.psid, Push([Reply("Час передати покази")]))
    assert reminder.status == DeliveryStatus.UNREACHABLE and "24-hour" in reminder.detail
    assert len(fb.fake.sent_to(user.psid)) == sent
    assert "24-hour" in caplog.text
    assert await reachable(fb, user.psid) is True  # they can still write: not blocked
    never = await fb.channel.send("999", Push([Reply("x")], Topic.OUTAGES_PLANNED))
    assert never.status == DeliveryStatus.UNREACHABLE


async def test_graph_errors_map_to_delivery_results(fb: MessengerHarness) -> None:
    user = fb.user()
    await user.say("привіт")
    fb.fake.fail(10, 2018278)
    result = await fb.channel.send(user.psid, Push([Reply("x")]))
    assert result.status == DeliveryStatus.UNREACHABLE and "outside window" in result.detail
    assert await reachable(fb, user.psid) is True
    fb.fake.fail(4, times=2)
    assert (await fb.channel.send(user.psid, Push([Reply("x")]))).status == DeliveryStatus.SENT
    assert fb.sleeps[-2:] == pytest.approx([1.0, 2.0], rel=0.2)  # jittered
    fb.fake.fail(613, times=3)
    limited = await fb.channel.send(user.psid, Push([Reply("x")]))
    assert limited.status == DeliveryStatus.RETRY_LATER and limited.retry_after > 0
    fb.fake.fail(100)
    assert (await fb.channel.send(user.psid, Push([Reply("x")]))).status == DeliveryStatus.FAILED
    fb.fake.blocked[user.psid] = (551, 1545041)
    gone = await fb.channel.send(user.psid, Push([Reply("x")]))
    assert gone.status == DeliveryStatus.UNREACHABLE
    assert await reachable(fb, user.psid) is False


async def test_a_forgotten_more_page_shows_the_menu(fb: MessengerHarness) -> None:
    user = fb.user()  # no pages remembered for them, as after a restart
    await user.post(page_event(text_message(user.psid, "Ще ▶", quick="~more")))
    assert fb.events[-1].payload == "menu"


async def test_an_m_me_referral_in_an_open_thread_starts_over(fb: MessengerHarness) -> None:
    user = fb.user()
    referral = messaging(user.psid, referral={"ref": "campaign", "source": "SHORTLINK"})
    assert "згода" in await user.post(page_event(referral))
    assert fb.events[-1].payload == "start"
    assert (await fb.post({"object": "instagram", "entry": []})).status == 200


async def test_the_profile_gives_the_language_and_name_once(fb: MessengerHarness) -> None:
    user = fb.user()
    fb.fake.locales[user.psid] = "en_US"
    text = await user.say("hello")
    assert "personal data" in text.lower() and "Іван" in text
    await user.press("I agree")
    choices = [[Button(f"Choice {n}", "menu")] for n in range(1, 21)]
    await fb.channel.send(user.psid, Push([Reply("Choose:", choices)]))
    quick = fb.fake.sent_to(user.psid)[-1].message.get("quick_replies") or []
    assert any(b.get("title") == "More ▶" for b in quick)
    profile_calls = [c for c in fb.fake.calls if c.path == f"GET {user.psid}"]
    assert len(profile_calls) == 1 and profile_calls[0].body["fields"] == "first_name,locale"


async def test_a_refused_profile_is_logged_once_and_the_bot_still_answers(
    fb: MessengerHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fb.fake.profiles_refused = True
    for _ in range(2):
        assert "згода" in await fb.user().say("привіт")
    assert caplog.text.count("User Profile API refused") == 1


async def test_a_large_body_is_refused_before_it_is_read(fb: MessengerHarness) -> None:
    """Issue 18, point 1: an unknown sender cannot make the server hold a large body."""
    from bot.channels.base import WEBHOOK_BODY_LIMIT

    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    before = await table_counts(fb.app.engine)
    assert (await fb.post(big, signature=None)).status == 403
    assert (await fb.post(big, signature="sha256=xyz")).status == 403
    assert (await fb.post(big, signature="sha256=" + "0" * 64)).status == 413

    async def chunked() -> Any:
        for _ in range(WEBHOOK_BODY_LIMIT // 4096 + 2):
            yield b" " * 4096

    response = await fb.client.post(
        "/webhook/messenger",
        data=chunked(),
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert response.status == 413
    assert await table_counts(fb.app.engine) == before


async def test_an_image_over_the_limit_is_answered_too_large(fb: MessengerHarness) -> None:
    """Issue 18, point 7 (the same answer in every channel): not an apology."""
    from bot.channels.messenger.outbound import PHOTO_LIMIT_BYTES

    user = fb.user()
    await user.say("привіт")
    answer = await user.send_picture(b"\xff\xd8\xff" + bytes(PHOTO_LIMIT_BYTES))
    assert "Фото завелике" in answer and "сталася помилка" not in answer
    assert fb.events[-1].unsupported == "photo_too_large"
