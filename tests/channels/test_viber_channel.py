"""The Viber channel's own duties: signatures, parsing, events, rendering, status codes,
set_webhook, the media route — against the fake Viber over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.compose import build_app, build_channels
from app.settings import load_settings
from bot.channels.base import DeliveryStatus, Push
from bot.channels.media import MediaStore
from bot.channels.viber import ViberChannel, keyboard_for, render, signature, signature_valid
from bot.messages import Attachment, Button, Reply
from core.model import Channel
from tests.channels.fake_viber import (
    TOKEN,
    ViberHarness,
    encode,
    message_event,
    next_token,
    simple_event,
    table_counts,
    wait_for,
)

MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
Factory = Callable[..., Awaitable[ViberHarness]]


async def identity_reachable(harness: ViberHarness, user_id: str) -> bool | None:
    async with harness.app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel.VIBER, user_id)
    return None if identity is None else identity.reachable


# ---- signatures -----------------------------------------------------------------------


def test_the_public_signature_test_vector() -> None:
    body = b'{"event":"webhook","timestamp":4977069964384421269,"message_token":1478683725125}'
    expected = "d21b343448c8aee33b8e93768ef6ceb64a6ba6163099973a2b8bd028fea510ef"
    assert signature(TOKEN, body) == expected
    assert signature_valid(TOKEN, body, expected)
    assert not signature_valid(TOKEN, body + b" ", expected)
    assert not signature_valid(TOKEN, body, "")


async def test_forged_or_missing_signatures_get_403_and_change_nothing(vb: ViberHarness) -> None:
    user = vb.user()
    body = message_event(user.user_id, {"type": "text", "text": "старт"})
    before = await table_counts(vb.app.engine)
    assert (await vb.post(body, sig="0" * 64)).status == 403
    assert (await vb.post(body, signed=False)).status == 403
    tampered = encode(body).replace("старт".encode(), "меню".encode())
    assert (await vb.post(tampered, sig=signature(TOKEN, encode(body)))).status == 403
    assert (await vb.post(simple_event("unsubscribed", user.user_id), sig="x")).status == 403
    assert await table_counts(vb.app.engine) == before
    assert vb.events == [] and vb.fake.sent_to(user.user_id) == []
    # The same message, signed, is still new: nothing was recorded before.
    assert "згода" in await user.post(body)


async def test_a_signed_body_that_is_not_json_is_refused(vb: ViberHarness) -> None:
    raw = b"{not json"
    assert (await vb.post(raw, sig=signature(TOKEN, raw))).status == 400


async def test_a_redelivered_message_token_is_answered_once(vb: ViberHarness) -> None:
    user = vb.user()
    token = next_token()
    body = message_event(user.user_id, {"type": "text", "text": "старт"}, token=token)
    await user.post(body)
    await user.post(body)
    assert len(vb.fake.sent_to(user.user_id)) == 1
    assert [e.update_key for e in vb.events] == [str(token)] * 2


# ---- start-up ------------------------------------------------------------------------


async def test_start_sets_the_webhook_which_viber_checks(vb: ViberHarness) -> None:
    await wait_for(lambda: vb.fake.webhook_checks)
    (call,) = vb.fake.calls_of("set_webhook")
    assert call.body["url"] == vb.channel.media.public_base_url + "/webhook/viber"
    assert set(call.body["event_types"]) >= {"delivered", "seen", "failed", "unsubscribed"}
    assert "conversation_started" in call.body["event_types"]
    assert call.auth == TOKEN and "auth_token" not in call.body
    assert vb.fake.webhook_checks == [200]


async def test_without_a_public_url_no_webhook_is_set(
    make_viber: Factory, sqlite_demo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    harness = await make_viber(sqlite_demo_url, public=False)
    assert harness.fake.calls_of("set_webhook") == []
    assert "webhook not registered" in caplog.text


async def test_build_channels_turns_viber_on_only_with_a_token(sqlite_demo_url: str) -> None:
    base = {
        "database_url": sqlite_demo_url,
        "telegram_bot_token": None,
        "messenger_page_token": None,
        "public_base_url": "https://kabinet.example",
    }
    on = await build_app(load_settings(**base, viber_auth_token=TOKEN))
    off = await build_app(load_settings(**base, viber_auth_token=None))
    try:
        channels = build_channels(on)
        assert [type(c) for c in channels] == [ViberChannel]
        assert channels[0].media.public_base_url == "https://kabinet.example"
        assert build_channels(off) == []
        await channels[0].stop()
    finally:
        await on.close()
        await off.close()


# ---- events --------------------------------------------------------------------------


async def test_unsubscribed_marks_the_identity_unreachable(vb: ViberHarness) -> None:
    user = vb.user()
    await user.say("старт")
    assert await identity_reachable(vb, user.user_id) is True
    assert (await vb.post(simple_event("unsubscribed", user.user_id))).status == 200
    assert await identity_reachable(vb, user.user_id) is False
    await user.say("меню")  # writing again makes them reachable
    assert await identity_reachable(vb, user.user_id) is True


async def test_receipts_are_logged_masked_and_counted(
    vb: ViberHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    user_id = "vbRECEIPT123456=="
    for event in ("delivered", "seen"):
        assert (await vb.post(simple_event(event, user_id))).status == 200
    failed = simple_event("failed", user_id, desc="some failure")
    assert (await vb.post(failed)).status == 200
    assert (await vb.post(simple_event("subscribed", user_id))).status == 200
    assert user_id not in caplog.text and "*6==" in caplog.text
    assert "some failure" in caplog.text
    registry = vb.app.metrics.registry
    for event in ("delivered", "seen", "failed", "subscribed"):
        value = registry.get_sample_value("kabinet_viber_callbacks_total", {"event": event})
        assert value == 1.0, event


async def test_location_sticker_and_unknown_kinds_get_a_polite_answer(vb: ViberHarness) -> None:
    user = vb.user()
    await user.say("старт")
    await user.press("Погоджуюсь")
    location = {"type": "location", "location": {"lat": 50.45, "lon": 30.52}}
    assert "не підтримує" in await user.send(location)
    assert vb.events[-1].unsupported == "location"
    assert "не підтримує" in await user.send({"type": "sticker", "sticker_id": 46105})
    assert vb.events[-1].unsupported == "sticker"
    assert "не підтримує" in await user.send({"type": "hologram", "text": "?"})
    assert vb.events[-1].unsupported == "hologram"


async def test_a_contact_outside_the_share_button_is_not_taken_as_their_own(
    vb: ViberHarness,
) -> None:
    user = vb.user()
    await user.say("старт")
    user.tracking = None
    await user.share_phone("+380671234567")
    assert vb.events[-1].contact_phone == "+380671234567"
    assert vb.events[-1].contact_is_own is False


async def test_an_image_sent_as_a_file_is_a_photo(vb: ViberHarness) -> None:
    from tests.channels.conftest import jpeg_bytes

    user = vb.user()
    await user.say("старт")
    photo = jpeg_bytes()
    url = vb.fake.add_picture("meter-file.jpg", photo)
    await user.send({"type": "file", "media": url, "file_name": "IMG_1.JPG", "size": len(photo)})
    assert vb.events[-1].photo == photo
    await user.send({"type": "file", "media": url, "file_name": "a.docx", "size": 10})
    assert vb.events[-1].unsupported == "file"


async def test_a_picture_that_cannot_be_downloaded_is_apologised_for(vb: ViberHarness) -> None:
    user = vb.user()
    await user.say("старт")
    answer = await user.send({"type": "picture", "media": vb.fake.base + "/media-src/gone.jpg"})
    assert "сталася помилка" in answer
    assert vb.events[-1].photo is None


# ---- rendering -----------------------------------------------------------------------


def test_keyboard_rows_columns_payload_map_and_share_phone() -> None:
    replies = [
        Reply("a", [[Button("Один", "one"), Button("Два", "two")], [Button("Меню", "menu")]]),
        Reply("b", [[Button("Меню", "menu")], [Button("Телефон", request_phone=True)]]),
        Reply("c", [[Button("Сплатити", url="https://pay.example/x")]]),
    ]
    keyboard = keyboard_for(replies)
    assert [(b["Text"], b["Columns"]) for b in keyboard.buttons] == [
        ("Один", 3),
        ("Два", 3),
        ("Меню", 6),
        ("Телефон", 6),
        ("Сплатити", 6),
    ]
    assert keyboard.tracking.payloads == {"Один": "one", "Два": "two", "Меню": "menu"}
    assert keyboard.tracking.phone_asked and keyboard.needs_api_3
    kinds = [b["ActionType"] for b in keyboard.buttons]
    assert kinds == ["reply", "reply", "reply", "share-phone", "open-url"]


def test_render_pictures_files_long_texts_and_one_keyboard_on_the_last_message() -> None:
    media = MediaStore(b"s", "https://k.example")
    png = Attachment("chart.png", b"\x89PNG" + b"0" * 100, "image/png")
    big = Attachment("big.png", b"0" * (1024 * 1024 + 1), "image/png")
    pdf = Attachment("bill.pdf", MINIMAL_PDF, "application/pdf")
    messages = render(
        [
            Reply("x" * 7500),
            Reply("Графік", image=png),
            Reply("Великий", image=big),
            Reply("Рахунок", [[Button("Меню", "menu")]], document=pdf),
        ],
        media,
    )
    dicts = [m.to_dict() for m in messages]
    assert [d["type"] for d in dicts] == ["text", "text", "picture", "text", "file", "text", "file"]
    assert len(dicts[0]["text"]) <= 7000 and len(dicts[0]["text"]) + len(dicts[1]["text"]) == 7500
    assert dicts[2]["media"].startswith("https://k.example/media/")
    assert dicts[2]["media"].endswith(".png") and dicts[2]["text"] == "Графік"
    assert dicts[4]["file_name"] == "big.png"
    assert dicts[6]["file_name"] == "bill.pdf" and dicts[6]["size"] == len(MINIMAL_PDF)
    assert "keyboard" in dicts[-1] and all("keyboard" not in d for d in dicts[:-1])
    assert all(d["tracking_data"] == dicts[-1]["tracking_data"] for d in dicts)


# ---- status codes and retries -----------------------------------------------------------


async def test_not_subscribed_is_unreachable_and_marked(vb: ViberHarness) -> None:
    user = vb.user()
    await user.say("старт")
    vb.fake.unsubscribed.add(user.user_id)
    result = await vb.channel.send(user.user_id, Push([Reply("Новий рахунок")]))
    assert result.status == DeliveryStatus.UNREACHABLE and "6" in result.detail
    assert await identity_reachable(vb, user.user_id) is False


async def test_too_many_requests_backs_off_then_gives_retry_later(vb: ViberHarness) -> None:
    vb.fake.answer_with(12, times=2)
    result = await vb.channel.send("vbX==", Push([Reply("раз")]))
    assert result.status == DeliveryStatus.SENT
    assert vb.sleeps[-2:] == pytest.approx([1.0, 2.0], rel=0.2)  # jittered
    vb.fake.answer_with(12, times=3)
    result = await vb.channel.send("vbX==", Push([Reply("два")]))
    assert result.status == DeliveryStatus.RETRY_LATER and result.retry_after > 0


async def test_other_statuses_fail_with_the_status_message_logged(
    vb: ViberHarness, caplog: pytest.LogCaptureFixture
) -> None:
    vb.fake.answer_with(3)
    result = await vb.channel.send("vbX==", Push([Reply("раз")]))
    assert result.status == DeliveryStatus.FAILED and "badData" in result.detail
    assert "badData" in caplog.text


async def test_dropped_connections_are_retried(vb: ViberHarness) -> None:
    await wait_for(lambda: vb.fake.webhook_checks)  # set_webhook must not take the drops
    vb.fake.drop(times=1)
    assert (await vb.channel.send("vbX==", Push([Reply("раз")]))).status == DeliveryStatus.SENT
    vb.fake.drop(times=3)
    assert (
        await vb.channel.send("vbX==", Push([Reply("два")]))
    ).status == DeliveryStatus.RETRY_LATER


async def test_sending_uses_the_auth_header_and_the_bot_name(vb: ViberHarness) -> None:
    await vb.channel.send("vbY==", Push([Reply("Привіт")]))
    (call,) = vb.fake.sent_to("vbY==")
    assert call.auth == TOKEN and "auth_token" not in call.body
    assert call.body["sender"] == {"name": "Kabinet Test"}


# ---- the media route -----------------------------------------------------------------


async def test_media_tokens_are_signed_expiring_and_unguessable(vb: ViberHarness) -> None:
    media = vb.channel.media
    token = media.put(Attachment("bill.pdf", MINIMAL_PDF, "application/pdf"))
    await media.save()
    ok = await vb.client.get(f"/media/{token}")
    assert ok.status == 200 and await ok.read() == MINIMAL_PDF
    assert ok.headers["Content-Type"] == "application/pdf"
    key, expires, mac = token.removesuffix(".pdf").split(".")
    forged = await vb.client.get(f"/media/{key}.{int(expires) + 999}.{mac}.pdf")
    assert forged.status == 403
    assert (await vb.client.get("/media/nonsense")).status == 403
    assert (await vb.client.get(f"/media/{key}.{expires}.{'A' * len(mac)}.pdf")).status == 403
    other = MediaStore(b"another secret", media.public_base_url)
    assert (
        await vb.client.get(f"/media/{other.put(Attachment('a.pdf', b'1', 'application/pdf'))}")
    ).status == 403


async def test_media_expiry_and_bounds() -> None:
    clock = [1000.0]
    store = MediaStore(b"k", "https://k.example", ttl_seconds=60, max_items=2, now=lambda: clock[0])
    first = store.put(Attachment("a.png", b"1", "image/png"))
    assert (await store.get(first)) == (404, None)  # named, not stored yet
    await store.save()
    assert (await store.get(first))[0] == 200
    clock[0] += 61
    assert (await store.get(first)) == (404, None)
    a = store.put(Attachment("a.png", b"1", "image/png"))
    store.put(Attachment("b.png", b"2", "image/png"))
    store.put(Attachment("c.png", b"3", "image/png"))
    await store.save()
    assert (await store.get(a)) == (404, None)  # evicted: at most two kept


async def test_the_welcome_speaks_the_persons_language(vb: ViberHarness) -> None:
    from tests.channels.fake_viber import conversation_started

    response = await vb.post(conversation_started("vbEN==", language="en-GB"))
    welcome = await response.json()
    assert "Welcome" in welcome["text"] or "Hello" in welcome["text"]
    assert "💰 Balance" in [b["Text"] for b in welcome["keyboard"]["Buttons"]]


async def test_a_large_body_is_refused_before_it_is_read(vb: ViberHarness) -> None:
    """Issue 18, point 1: an unknown sender cannot make the server hold a large body."""
    from bot.channels.base import WEBHOOK_BODY_LIMIT

    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    before = await table_counts(vb.app.engine)
    # No signature, or one of the wrong shape: refused on the headers alone.
    assert (await vb.post(big, signed=False)).status == 403
    assert (await vb.post(big, sig="not-hex")).status == 403
    # A signature of the right shape: the body is read only up to the cap.
    assert (await vb.post(big, sig="0" * 64)).status == 413

    async def chunked() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(WEBHOOK_BODY_LIMIT // 4096 + 2):
            yield b" " * 4096

    response = await vb.client.post(
        "/webhook/viber", data=chunked(), headers={"X-Viber-Content-Signature": "0" * 64}
    )
    assert response.status == 413
    assert await table_counts(vb.app.engine) == before


async def test_a_picture_over_the_limit_is_answered_too_large(vb: ViberHarness) -> None:
    """Issue 18, point 7 (the same answer in every channel): not an apology."""
    from bot.channels.viber import PHOTO_LIMIT_BYTES

    user = vb.user()
    await user.say("старт")
    url = vb.fake.add_picture("huge.jpg", b"\xff\xd8\xff" + bytes(PHOTO_LIMIT_BYTES))
    answer = await user.send({"type": "picture", "media": url})
    assert "Фото завелике" in answer and "сталася помилка" not in answer
    assert vb.events[-1].unsupported == "photo_too_large"
