"""The rest of the cabinet through Telegram: every command answers, and the flows that send
files, ask for the phone or take a contact render as Telegram would show them."""

from __future__ import annotations

from bot.handlers import build_router
from tests.channels.conftest import Harness
from tests.channels.test_telegram_flows import EIC_232, NUMBER_232, consent, link

APOLOGY = "Вибачте, сталася помилка"


async def linked_user(tg: Harness):
    user = tg.user()
    await consent(user)
    card = await link(user, NUMBER_232, EIC_232)
    assert "Рахунок додано" in card
    return user


async def test_every_command_of_the_dialog_answers_through_telegram(tg: Harness) -> None:
    user = await linked_user(tg)
    silent, failed = [], []
    for command in sorted(build_router().commands):
        if command in ("delete",):  # would end the conversation for the rest of the loop
            continue
        text = await user.say(f"/{command}")
        if not user.last:
            silent.append(command)
        elif APOLOGY in text:
            failed.append(command)
        await user.say("/menu")
    assert silent == [] and failed == []


async def test_a_bill_pdf_is_uploaded_as_a_document(tg: Harness) -> None:
    user = await linked_user(tg)
    await user.say("/bills")
    period_buttons = [b for b in user.buttons if b.get("callback_data", "").startswith("bill:")]
    assert period_buttons, user.labels()
    await user.press(period_buttons[0]["text"])
    (document,) = tg.fake.calls_of("sendDocument", user.user_id)
    upload = document.params["document"]
    assert upload.content.startswith(b"%PDF") and upload.filename.endswith(".pdf")


async def test_the_consumption_chart_is_uploaded_as_a_photo(tg: Harness) -> None:
    user = await linked_user(tg)
    await user.say("/chart")
    (photo,) = tg.fake.calls_of("sendPhoto", user.user_id)
    assert photo.params["photo"].content.startswith(b"\x89PNG")


async def test_the_phone_is_asked_with_a_contact_button_and_only_ones_own_is_taken(
    tg: Harness,
) -> None:
    user = await linked_user(tg)
    t = tg.app.catalogues.translator("uk")
    await user.say("/phone")
    keyboard = user.last[-1].params["reply_markup"]["keyboard"]
    assert keyboard[0][0] == {"text": t("profile.share_phone"), "request_contact": True}
    someone_else = {"phone_number": "+380671112233", "first_name": "Петро", "user_id": 1}
    assert t("profile.not_own_contact") in await user.send(contact=someone_else)
    own = {"phone_number": "+380501234567", "first_name": "Іван", "user_id": user.user_id}
    profile = await user.send(contact=own)
    assert "0501234567" in profile.replace(" ", "") or "501234567" in profile.replace(" ", "")
