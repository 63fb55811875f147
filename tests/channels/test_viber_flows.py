"""Every flow of the bot through Viber: signed callbacks to the real route, real HTTP out.

Callbacks are real Viber JSON, signed with the auth token and posted to /webhook/viber of
`build_web_app`; the bot's send_message calls land on the local fake Viber, which fetches
picture and file URLs from the bot's media route like Viber does.

The `scenario_*` functions speak to any chat with `say`, `press`, `labels`, `text`,
`files`, `share_phone` and `send_picture`; the Messenger flows reuse them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from PIL import Image
from pypdf import PdfReader

from tests.channels.conftest import OUTSIDE_WINDOW
from tests.channels.fake_viber import (
    ViberHarness,
    conversation_started,
)
from tests.ocr.conftest import blank_photo, kept_photos, meter_photo

NUMBER_232, EIC_232 = "2010000232", "62Z000000000232T"
NUMBER_777, EIC_777 = "2010000777", "62Z000000000777O"


class Chat(Protocol):
    """What a scenario needs of a person in a messenger."""

    @property
    def text(self) -> str: ...
    def labels(self) -> list[str]: ...
    def files(self, kind: str) -> list[bytes]: ...
    def can_share_phone(self) -> bool: ...
    async def say(self, text: str) -> str: ...
    async def press(self, label: str) -> str: ...
    async def share_phone(self, phone: str) -> str: ...
    async def send_picture(self, content: bytes) -> str: ...


# ---- scenarios (channel-neutral) --------------------------------------------------------


async def consent(user: Chat) -> None:
    text = await user.say("старт")
    assert "згода на обробку персональних даних" in text
    assert "Погоджуюсь" in user.labels()
    assert "згоду збережено" in await user.press("Погоджуюсь")


async def link(user: Chat, number: str = NUMBER_232, eic: str = EIC_232) -> str:
    if not any("Додати" in label for label in user.labels()):
        await user.say("мої рахунки")  # the second account: from "My accounts"
    await user.press("Додати")
    assert "номер особового рахунку" in user.text.lower()
    await user.say(number)
    assert "EIC" in user.text
    return await user.say(eic)


async def linked(user: Chat) -> None:
    await consent(user)
    card = await link(user)
    assert "Іваненко Іван Іванович" in card and "вул. Кузьми Скрябіна, 39" in card


def last_billing(text: str, zone: str = "день") -> int:
    """A zone's last billing reading in the reading question ("день 26 175, ніч 13 826"; a
    one-zone meter's value has no zone name)."""
    head = r"Останні розрахункові покази \([\d.]+\): "
    pattern = head + r"(?:день )?([\d  ]+)" if zone == "день" else zone + r" ([\d  ]+)"
    match = re.search(pattern, text)
    assert match, text
    return int(re.sub(r"\D", "", match.group(1)))


async def scenario_main(user: Chat) -> None:
    """Consent, link, a reading, the balance."""
    await linked(user)
    prompt = await user.press("Внести покази")
    accepted = await user.say(str(last_billing(prompt) + 130))
    assert "Покази прийнято" in accepted
    assert "130 кВт·год" in accepted and "561,60 грн" in accepted
    balance = await user.press("Баланс")
    assert "Стан рахунку 2010000232" in balance and "Остання оплата:" in balance


async def scenario_link_errors(user: Chat) -> None:
    await consent(user)
    assert "У EIC-коді помилка" in await link(user, NUMBER_232, "62Z000000000232X")
    await user.say("меню")
    unknown = await link(user, "2010099999", EIC_232)
    assert "Не знайшли рахунку" in unknown
    await user.say("меню")
    assert await link(user, NUMBER_232, EIC_777) == unknown


async def scenario_accounts(user: Chat) -> None:
    await consent(user)
    await link(user, NUMBER_232, EIC_232)
    await link(user, NUMBER_777, EIC_777)
    await user.say("Мої рахунки")
    assert any(NUMBER_777 in label for label in user.labels())
    card = await user.press(NUMBER_777)
    assert NUMBER_777 in card and EIC_777 in card
    assert NUMBER_777 in await user.press("Відв")
    done = await user.press("Так")
    assert NUMBER_777 in done and "відв" in done.lower()


async def scenario_two_zone(user: Chat) -> None:
    await consent(user)
    await link(user, NUMBER_777, EIC_777)
    prompt = await user.press("Внести покази")
    day, night = last_billing(prompt), last_billing(prompt, "ніч")
    assert "покази нічної зони" in await user.say(str(day + 100))
    result = await user.say(str(night + 100))
    assert "спожито 100 кВт·год × 2,16 грн" in result and "648,00 грн" in result


async def scenario_cabinet(user: Chat) -> None:
    """Info, payments with a receipt PDF, consumption, meter, chart, bill PDF."""
    await linked(user)
    await user.press("Баланс")
    info = await user.press("Персональна")
    assert "EIC код: 62Z000000000232T" in info and "Тариф: однозонний" in info
    history = await user.say("Історія оплат")
    assert "Усього сплачено за рік:" in history
    await user.press("Квитанція")
    (receipt,) = user.files("file")
    text = PdfReader(io.BytesIO(receipt)).pages[0].extract_text()
    assert "2010000232" in text
    consumption = await user.say("Споживання")
    assert "10.2026: " in consumption and "Усього за 10 місяців:" in consumption
    meter = await user.say("Лічильник")
    assert "Тип: ЛЕО" in meter and "Дата встановлення: 01.11.2019" in meter
    await user.say("Графік споживання")
    (chart,) = user.files("picture") or user.files("file") or user.files("image")
    assert Image.open(io.BytesIO(chart)).size == (1080, 1080)
    await user.say("Архів рахунків")
    bill_text = await user.press("10.2026")
    assert "Рахунок за жовтень 2026" in bill_text
    (bill,) = user.files("file")
    assert "жовтень 2026" in PdfReader(io.BytesIO(bill)).pages[0].extract_text()


async def scenario_requests(user: Chat) -> None:
    """Call centre, free services, support."""
    await linked(user)
    await user.say("Звернення до кол-центру")
    await user.press("Нове звернення")
    await user.press("Незрозумілий рахунок")
    assert "Текст збережено" in await user.say("Поясніть рахунок")
    assert "прийнято" in await user.press("Надіслати")
    await user.say("Безкоштовні послуги")
    await user.press("Замовити послугу")
    await user.press("Шум у електролічильнику")
    assert "0994455889" in await user.say("099 445 58 89")
    assert "прийнято" in await user.press("Замовити")
    await user.say("Технічна підтримка")
    for answer in ("Іван Іваненко", "0994444444"):
        await user.say(answer)
    await user.press("Додавання особових рахунків")
    await user.say("Не бачу свій рахунок")
    assert "підтримки № " in await user.press("Надіслати")


async def scenario_outages_and_menu_words(user: Chat) -> None:
    await linked(user)
    outages = await user.say("Відключення")
    assert "Черга відключень: 3.2" in outages
    assert "Графік відключень" in user.labels() and "Меню" in user.labels()
    menu = await user.say("меню")
    assert menu and "💰 Баланс" in user.labels() and "✉️ Звернення" in user.labels()
    assert "не зрозумів" in await user.say("котики")
    assert "Такої команди немає" in await user.say("/teleport")


async def scenario_settings(user: Chat) -> None:
    """Notifications, profile phone by the share button, language."""
    await consent(user)
    await user.say("Налаштування")
    await user.press("Сповіщення")
    saved = await user.press("паперовому")
    assert "Збережено" in saved and "29.11.2026" in saved
    await user.say("Налаштування")
    await user.press("Профіль")
    await user.press("Вказати телефон")
    assert user.can_share_phone()
    assert "Телефон: +380501234567" in await user.share_phone("+380501234567")
    await user.say("Налаштування")
    await user.press("Мова")
    assert "Language changed" in await user.press("English")
    assert "Main menu" in await user.say("menu") or "menu" in user.text.lower()


def grouped(value: int) -> str:
    """A number as the bot writes it: thousands apart, no leading zeros."""
    return f"{value:,}".replace(",", " ")


async def scenario_photo(user: Chat, events: list[Any]) -> None:
    """A meter photo read by the real pipeline and taken with one tap; an unreadable one
    says why, how to retake it, and takes the typed reading."""
    await linked(user)
    previous = last_billing(await user.press("Внести покази"))
    reading = previous + 123
    photo = meter_photo(str(reading).zfill(6))
    answer = await user.send_picture(photo)
    assert events[-1].photo == photo
    assert (
        f"Розпізнано: {grouped(reading)} кВт·год. Попередні покази {grouped(previous)}, "
        "спожито 123 кВт·год. Правильно?"
    ) in answer
    assert "Так" in user.labels() and "Ні, ввести вручну" in user.labels()
    accepted = await user.press("Так")
    assert "Покази прийнято" in accepted and "123 кВт·год" in accepted
    await user.say("покази")  # the accepted reading offers its history, not a new one
    answer = await user.send_picture(blank_photo())
    assert "підійдіть ближче, тримайте телефон рівно навпроти табло" in answer
    assert "ввести покази вручну" in answer
    assert "Покази прийнято" in await user.say(str(reading + 7))


async def scenario_pay(user: Chat) -> str:
    """Pay: the link to the payment page; returns the text."""
    await linked(user)
    await user.say("Сплатити")
    if any(label.startswith("Сплатити ") for label in user.labels()):  # "Сплатити 721,44 грн"
        return await user.press("Сплатити ")
    return await user.say("100,00")


# ---- Viber ------------------------------------------------------------------------------

Factory = Callable[..., Awaitable[ViberHarness]]


async def test_main_flow_on_sqlite(vb: ViberHarness) -> None:
    await scenario_main(vb.user())


async def test_main_flow_on_postgresql(make_viber: Factory, postgres_demo_url: str) -> None:
    harness = await make_viber(postgres_demo_url)
    await scenario_main(harness.user())
    await scenario_cabinet(harness.user())


async def test_link_errors(vb: ViberHarness) -> None:
    await scenario_link_errors(vb.user())


async def test_accounts(vb: ViberHarness) -> None:
    await scenario_accounts(vb.user())


async def test_two_zone_reading(vb: ViberHarness) -> None:
    await scenario_two_zone(vb.user())


async def test_cabinet_sections_with_pictures_and_pdfs_by_media_url(vb: ViberHarness) -> None:
    user = vb.user()
    await scenario_cabinet(user)
    media = [c for c in vb.fake.calls if c.type in ("picture", "file")]
    assert media and all(
        c.body["media"].startswith(vb.channel.media.public_base_url) for c in media
    )
    assert all(c.fetched is not None for c in media)
    assert {c.fetched_type for c in media} >= {"application/pdf", "image/png"}
    files = [c for c in media if c.type == "file"]
    assert all(c.body["file_name"].endswith(".pdf") and c.body["size"] > 0 for c in files)


async def test_requests(vb: ViberHarness) -> None:
    await scenario_requests(vb.user())


async def test_outages_menu_words_and_unknown_text(vb: ViberHarness) -> None:
    await scenario_outages_and_menu_words(vb.user())


async def test_settings_share_phone_and_language(vb: ViberHarness) -> None:
    user = vb.user()
    await scenario_settings(user)
    shared = [
        c
        for c in vb.fake.sent_to(user.user_id)
        if any(b["ActionType"] == "share-phone" for b in c.buttons)
    ]
    assert shared and shared[-1].body["min_api_version"] == 3


async def test_photo_is_read_offered_and_kept(
    make_viber: Factory, sqlite_demo_url: str, tmp_path: Path
) -> None:
    harness = await make_viber(sqlite_demo_url, photos_dir=str(tmp_path))
    await scenario_photo(harness.user(), harness.events)
    assert len(kept_photos(tmp_path)) == 1


async def test_pay_link_is_an_open_url_button_and_a_url_message(vb: ViberHarness) -> None:
    user = vb.user()
    text = await scenario_pay(user)
    assert "pay.example/checkout/" in " ".join(
        c.body.get("media", "") for c in user.last if c.type == "url"
    ), text
    assert any(b["ActionType"] == "open-url" for b in user.buttons)


async def test_outside_the_window(make_viber: Factory, sqlite_demo_url: str) -> None:
    harness = await make_viber(sqlite_demo_url, now=OUTSIDE_WINDOW)
    user = harness.user()
    await linked(user)
    closed = await user.press("Внести покази")
    assert "29.11.2026" in closed and "03.12.2026" in closed


async def test_conversation_started_gets_the_welcome_with_the_main_keyboard(
    vb: ViberHarness,
) -> None:
    response = await vb.post(conversation_started("vb-welcome=="))
    assert response.status == 200
    welcome = await response.json()
    assert welcome["type"] == "text" and welcome["sender"]["name"] == "Kabinet Test"
    assert "Вітаємо" in welcome["text"]
    labels = [b["Text"] for b in welcome["keyboard"]["Buttons"]]
    # The short menu, for someone not known yet: adding an account first.
    assert labels[0] == "➕ Додати особовий рахунок"
    assert "📟 Покази" in labels and "💰 Баланс" in labels and len(labels) <= 8
    assert vb.events == []  # nothing handled, nothing stored for a mere visit


async def test_telegram_person_joins_on_viber_with_the_one_time_code(
    make_harness: Any, make_viber: Factory, sqlite_demo_url: str
) -> None:
    tg = await make_harness(sqlite_demo_url)
    tg_user = tg.user()
    await tg_user.say("/start")
    await tg_user.press("Погоджуюсь")
    await tg_user.press("Додати особовий рахунок")
    await tg_user.say(NUMBER_777)
    await tg_user.say(EIC_777)
    await tg_user.say("/settings")
    shown = await tg_user.press("Підключити інший месенджер")
    code = re.search(r"код: (\d{10})", shown).group(1)

    vb = await make_viber(sqlite_demo_url)
    user = vb.user()
    await user.say("привіт")
    await user.press("Погоджуюсь")
    await user.say("Налаштування")
    await user.press("У мене є код")
    assert "підключено до вашого профілю" in await user.say(code)
    await user.say("Мої рахунки")
    assert any(NUMBER_777 in label for label in user.labels())


async def test_a_deep_link_code_becomes_a_join_button_in_the_welcome(
    make_harness: Any, make_viber: Factory, sqlite_demo_url: str
) -> None:
    tg = await make_harness(sqlite_demo_url)
    tg_user = tg.user()
    await tg_user.say("/start")
    await tg_user.press("Погоджуюсь")
    await tg_user.press("Додати особовий рахунок")
    await tg_user.say(NUMBER_232)
    await tg_user.say(EIC_232)
    code = re.search(r"код: (\d{10})", await tg_user.say("/join")).group(1)

    vb = await make_viber(sqlite_demo_url)
    user = vb.user()
    response = await vb.post(conversation_started(user.user_id, context=code))
    welcome = await response.json()
    first = welcome["keyboard"]["Buttons"][0]
    assert first["Text"] == "Підключити мій профіль"
    user.buttons, user.tracking = welcome["keyboard"]["Buttons"], welcome["tracking_data"]
    await user.press("Підключити мій профіль")
    assert "згода" in user.text
    assert "підключено до вашого профілю" in await user.press("Погоджуюсь")
    await user.say("Мої рахунки")
    assert any(NUMBER_232 in label for label in user.labels())
