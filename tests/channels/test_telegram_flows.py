"""Every flow of the bot through Telegram: real aiogram, real HTTP, the real webhook route.

Updates are real Update JSON posted to /webhook/telegram of `build_web_app`; the bot's
calls land on the local fake Bot API server, and the assertions read what the person
would see there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.channels.conftest import OUTSIDE_WINDOW, Harness, HarnessFactory, TgUser
from tests.ocr.conftest import blank_photo, kept_photos, meter_photo

NUMBER_232, EIC_232 = "2010000232", "62Z000000000232T"
NUMBER_777, EIC_777 = "2010000777", "62Z000000000777O"


async def consent(user: TgUser) -> None:
    text = await user.say("/start")
    assert "згода на обробку персональних даних" in text
    assert "Погоджуюсь" in user.labels()
    text = await user.press("Погоджуюсь")
    assert "згоду збережено" in text


async def link(user: TgUser, number: str, eic: str) -> str:
    if not any("Додати особовий рахунок" in label for label in user.labels()):
        await user.say("мої рахунки")  # the second account: from "My accounts"
    await user.press("Додати особовий рахунок")
    assert "номер особового рахунку" in user.text.lower()
    await user.say(number)
    assert "EIC" in user.text
    return await user.say(eic)


def last_billing(text: str, zone: str = "день") -> int:
    """A zone's last billing reading in the reading question ("день 26 175, ніч 13 826"; a
    one-zone meter's value has no zone name)."""
    head = r"Останні розрахункові покази \([\d.]+\): "
    pattern = head + r"(?:день )?([\d  ]+)" if zone == "день" else zone + r" ([\d  ]+)"
    match = re.search(pattern, text)
    assert match, text
    return int(re.sub(r"\D", "", match.group(1)))


async def run_main_flow(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    card = await link(user, NUMBER_232, EIC_232)
    assert "Іваненко Іван Іванович" in card and "вул. Кузьми Скрябіна, 39" in card
    prompt = await user.press("Внести покази")
    previous = last_billing(prompt)
    accepted = await user.say(str(previous + 130))
    assert "Покази прийнято" in accepted
    assert "130 кВт·год" in accepted and "561,60 грн" in accepted
    balance = await user.say("Баланс")
    assert "Стан рахунку 2010000232" in balance
    assert "Остання оплата:" in balance and "Останній рахунок за жовтень 2026" in balance
    # Every callback query was answered, so no button kept spinning.
    callbacks = tg.fake.calls_of("answerCallbackQuery")
    assert len(callbacks) == 3


async def test_consent_link_reading_balance_on_sqlite(tg: Harness) -> None:
    await run_main_flow(tg)


async def test_consent_link_reading_balance_on_postgresql(
    make_harness: HarnessFactory, postgres_demo_url: str
) -> None:
    await run_main_flow(await make_harness(postgres_demo_url))


async def test_replies_render_as_inline_keyboards_of_short_payloads(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    menu = user.last[-1]
    assert {b["text"] for b in menu.buttons} >= {"📟 Покази", "💰 Баланс"}
    for button in menu.buttons:
        assert 0 < len(button["callback_data"].encode()) <= 64


async def test_deep_link_start_and_english(tg: Harness) -> None:
    user = tg.user(language="en")
    text = await user.say("/start from-bill-qr")
    assert "personal data" in text.lower()
    assert "згоду" not in text


async def test_link_mistakes_each_have_their_answer(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    wrong_check = await link(user, NUMBER_232, "62Z000000000232X")
    assert "У EIC-коді помилка" in wrong_check
    await user.say("меню")
    unknown = await link(user, "2010099999", EIC_232)
    assert "Не знайшли рахунку" in unknown
    await user.say("меню")
    mismatch = await link(user, NUMBER_232, EIC_777)
    assert mismatch == unknown
    await user.say("/link")
    bad_number = await user.say("12ab")
    assert "номер" in bad_number.lower()


async def test_my_accounts_choose_and_unlink(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    await link(user, NUMBER_777, EIC_777)
    listing = await user.say("👤 Мої рахунки")  # as its reply-keyboard key sends it
    assert "2" in listing
    assert any(NUMBER_232 in label for label in user.labels())
    assert any(NUMBER_777 in label for label in user.labels())
    card = await user.press(NUMBER_777)
    assert NUMBER_777 in card and EIC_777 in card
    confirm = await user.press("Відв")
    assert NUMBER_777 in confirm
    done = await user.press("Так")
    assert NUMBER_777 in done and "відв" in done.lower()
    listing = await user.say("/accounts")
    assert not any(NUMBER_777 in label for label in user.labels())
    assert any(NUMBER_232 in label for label in user.labels())


async def test_two_zone_reading(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_777, EIC_777)
    prompt = await user.say("/readings")
    day = last_billing(prompt, "день")
    night = last_billing(prompt, "ніч")
    assert "покази нічної зони" in await user.say(str(day + 100))
    result = await user.say(str(night + 100))
    assert "спожито 100 кВт·год × 4,32 грн" in result
    assert "спожито 100 кВт·год × 2,16 грн" in result
    assert "648,00 грн" in result


async def test_a_jump_is_confirmed_with_a_button(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    previous = last_billing(await user.say("/readings"))
    asked = await user.say(str(previous + 9000))
    assert "9 000 кВт·год" in asked or "9000 кВт·год" in asked
    assert len(user.labels()) >= 2
    accepted = await user.press(user.labels()[0])
    assert "Покази прийнято" in accepted


async def test_outside_the_window_says_when_it_opens(
    make_harness: HarnessFactory, sqlite_demo_url: str
) -> None:
    tg = await make_harness(sqlite_demo_url, now=OUTSIDE_WINDOW)
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    closed = await user.say("/readings")
    assert "29.11.2026" in closed and "03.12.2026" in closed


async def test_menu_words_help_unknown_text_and_commands(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    menu = await user.say("меню")
    assert "💰 Баланс" in user.labels() and menu
    help_text = await user.say("/help")
    assert "«📟 Покази»" in help_text and "«✉️ Звернення»" in help_text
    unknown = await user.say("котики")
    assert "не зрозумів" in unknown
    no_such = await user.say("/teleport")
    assert "Такої команди немає" in no_such
    nothing_linked = await user.say("/balance")
    assert "рахун" in nothing_linked.lower()


async def test_unsupported_content_gets_a_polite_answer_and_the_menu(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    sticker = {
        "file_id": "st1",
        "file_unique_id": "ust1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    text = await user.send(sticker=sticker)
    assert "не підтримує" in text
    assert "💰 Баланс" in user.labels()
    assert tg.events[-1].unsupported == "sticker"
    await user.send(location={"latitude": 50.45, "longitude": 30.52})
    assert tg.events[-1].unsupported == "location"
    assert "не підтримує" in user.text


async def test_payment_history_pages_edit_the_message(tg: Harness) -> None:
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    first = await user.say("/payments")
    assert "грн" in first
    page_buttons = [b for b in user.buttons if b.get("callback_data", "").startswith("pays")]
    assert page_buttons, user.labels()
    shown = user.last[-1].message_id
    before = len(tg.fake.calls_of("sendMessage", user.user_id))
    await user.press(page_buttons[-1]["text"])
    edits = tg.fake.calls_of("editMessageText", user.user_id)
    assert edits and int(edits[-1].params["message_id"]) == shown
    assert len(tg.fake.calls_of("sendMessage", user.user_id)) == before
    assert "грн" in edits[-1].text


@pytest.mark.parametrize("command", ["/menu", "/readings", "/balance", "/help"])
async def test_menu_commands_answer(tg: Harness, command: str) -> None:
    user = tg.user()
    await consent(user)
    assert await user.say(command)


async def send_photo(tg: Harness, user: TgUser, content: bytes, file_id: str) -> str:
    """A photo message as Telegram sends it: one size, downloaded by the adapter."""
    tg.fake.add_file(content, file_id, f"photos/{file_id}.jpg")
    size = {
        "file_id": file_id,
        "file_unique_id": "u" + file_id,
        "width": 900,
        "height": 700,
        "file_size": len(content),
    }
    return await user.send(photo=[size])


async def test_photo_reading_is_offered_for_one_tap(
    make_harness: HarnessFactory, sqlite_demo_url: str, tmp_path: Path
) -> None:
    tg = await make_harness(sqlite_demo_url, photos_dir=str(tmp_path))
    user = tg.user()
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    previous = last_billing(await user.press("Внести покази"))
    reading = previous + 123
    text = await send_photo(tg, user, meter_photo(str(reading).zfill(6)), "meter-1")
    shown, before = f"{reading:,}".replace(",", " "), f"{previous:,}".replace(",", " ")
    assert (
        f"Розпізнано: {shown} кВт·год. Попередні покази {before}, спожито 123 кВт·год. Правильно?"
    ) in text
    assert user.labels()[:2] == ["Так", "Ні, ввести вручну"]
    accepted = await user.press("Так")
    assert "Покази прийнято" in accepted and "123 кВт·год" in accepted
    await user.say("покази")  # the accepted reading offers its history, not a new one
    text = await send_photo(tg, user, blank_photo(), "blank-1")
    assert "підійдіть ближче, тримайте телефон рівно навпроти табло" in text
    assert "ввести покази вручну" in text
    assert "Покази прийнято" in await user.say(str(reading + 7))
    # The confirmed photo was kept as evidence; the unreadable one was not.
    assert len(kept_photos(tmp_path)) == 1
