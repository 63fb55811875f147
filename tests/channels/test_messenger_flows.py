"""Every flow of the bot through Facebook Messenger: signed webhooks to the real route,
the Send API on a local fake Graph API (which fetches attachment URLs like Meta does).

The scenarios are the Viber ones (tests/channels/test_viber_flows.py): one script, two
messengers, the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.channels.conftest import OUTSIDE_WINDOW
from tests.channels.fake_graph import MessengerHarness
from tests.channels.test_viber_flows import (
    EIC_777,
    NUMBER_777,
    linked,
    scenario_accounts,
    scenario_cabinet,
    scenario_link_errors,
    scenario_main,
    scenario_outages_and_menu_words,
    scenario_pay,
    scenario_photo,
    scenario_requests,
    scenario_settings,
    scenario_two_zone,
)
from tests.ocr.conftest import kept_photos

Factory = Callable[..., Awaitable[MessengerHarness]]


async def test_main_flow_on_sqlite(fb: MessengerHarness) -> None:
    user = fb.user()
    await scenario_main(user)
    sent = fb.fake.sent_to(user.psid)
    assert sent and all(c.body["messaging_type"] == "RESPONSE" for c in sent)


async def test_main_flow_on_postgresql(make_messenger: Factory, postgres_demo_url: str) -> None:
    harness = await make_messenger(postgres_demo_url)
    await scenario_main(harness.user())
    await scenario_cabinet(harness.user())


async def test_link_errors(fb: MessengerHarness) -> None:
    await scenario_link_errors(fb.user())


async def test_accounts(fb: MessengerHarness) -> None:
    await scenario_accounts(fb.user())


async def test_two_zone_reading(fb: MessengerHarness) -> None:
    await scenario_two_zone(fb.user())


async def test_cabinet_sections_with_images_and_pdfs_by_media_url(fb: MessengerHarness) -> None:
    await scenario_cabinet(fb.user())
    media = [c for c in fb.fake.calls if c.attachment.get("type") in ("image", "file")]
    base = fb.channel.media.public_base_url
    assert media and all(c.attachment["payload"]["url"].startswith(base) for c in media)
    assert {c.fetched_type for c in media} >= {"application/pdf", "image/png"}


async def test_requests(fb: MessengerHarness) -> None:
    await scenario_requests(fb.user())


async def test_outages_menu_words_and_unknown_text(fb: MessengerHarness) -> None:
    await scenario_outages_and_menu_words(fb.user())


async def test_settings_phone_quick_reply_and_language(fb: MessengerHarness) -> None:
    user = fb.user()
    await scenario_settings(user)
    phone = [e for e in fb.events if e.contact_phone]
    assert phone and phone[-1].contact_is_own and phone[-1].contact_phone == "+380501234567"


async def test_photo_is_read_offered_and_kept(
    make_messenger: Factory, sqlite_demo_url: str, tmp_path: Path
) -> None:
    harness = await make_messenger(sqlite_demo_url, photos_dir=str(tmp_path))
    await scenario_photo(harness.user(), harness.events)
    assert len(kept_photos(tmp_path)) == 1


async def test_pay_link_is_a_url_button_of_a_template(fb: MessengerHarness) -> None:
    user = fb.user()
    await scenario_pay(user)
    urls = [b for b in user.buttons if b.get("type") == "web_url"]
    assert urls and urls[0]["url"].startswith("https://pay.example/checkout/")
    assert len(urls[0]["title"]) <= 20


async def test_outside_the_window(make_messenger: Factory, sqlite_demo_url: str) -> None:
    harness = await make_messenger(sqlite_demo_url, now=OUTSIDE_WINDOW)
    user = harness.user()
    await linked(user)
    closed = await user.press("Внести покази")
    assert "29.11.2026" in closed and "03.12.2026" in closed


async def test_telegram_person_joins_on_messenger_with_an_m_me_ref(
    make_harness: Any, make_messenger: Factory, sqlite_demo_url: str
) -> None:
    from tests.channels.fake_graph import messaging, mid, page_event

    tg = await make_harness(sqlite_demo_url)
    tg_user = tg.user()
    await tg_user.say("/start")
    await tg_user.press("Погоджуюсь")
    await tg_user.press("Додати особовий рахунок")
    await tg_user.say(NUMBER_777)
    await tg_user.say(EIC_777)
    code = re.search(r"код: (\d{10})", await tg_user.say("/join")).group(1)

    fb = await make_messenger(sqlite_demo_url)
    user = fb.user()
    get_started = messaging(
        user.psid,
        postback={
            "mid": mid(),
            "title": "Get Started",
            "payload": "start",
            "referral": {"ref": code, "source": "SHORTLINK", "type": "OPEN_THREAD"},
        },
    )
    assert "згода" in await user.post(page_event(get_started))
    assert "підключено до вашого профілю" in await user.press("Погоджуюсь")
    await user.say("Мої рахунки")
    assert any(NUMBER_777 in label for label in user.labels())
