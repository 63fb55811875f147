"""Requests on the fakes: the call centre asks which account (the last used first), long
texts are taken in one message or several and never lost, answers to every kind of request
are shown, and long names fit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.model import RequestStatus
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import consented, linked

ANSWERED = datetime.fromisoformat("2026-11-30T12:15:00+02:00")


async def link_another(chat: Chat, number: str, eic: str) -> None:
    await chat.send("/add")
    await chat.send(number)
    assert "Рахунок додано" in await chat.send(eic)


def account_ids(factory: FakeUnitOfWorkFactory) -> dict[str, int]:
    return {account.number: account.id for account in factory.data.accounts.values()}


async def call_centre_request(chat: Chat, text: str) -> str:
    await chat.press("Незрозумілий рахунок")
    await chat.send(text)
    return await chat.press("Надіслати")


async def test_with_two_accounts_the_call_centre_asks_which_the_last_used_first(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await link_another(chat, "2010000777", "62Z000000000777O")  # used last
    ids = account_ids(factory)
    await chat.send("/callcenter")
    text = await chat.press("Нове звернення")
    assert "Щодо якого рахунку звернення?" in text
    assert [label.split(" — ")[0] for label in chat.labels()[:2]] == [
        "2010000777",
        "2010000232",
    ]
    text = await chat.press("2010000232")
    assert "Звернення щодо рахунку 2010000232 — вул. Кузьми Скрябіна, 39." in text
    assert "прийнято" in await call_centre_request(chat, "Чому рахунок такий великий?")
    [request] = factory.data.call_center
    assert request.account_id == ids["2010000232"]
    # The account just used is offered first next time.
    await chat.send("/callcenter")
    await chat.press("Нове звернення")
    assert chat.labels()[0].startswith("2010000232 — ")
    text = await chat.send("/callcenter")
    assert "Рахунок: 2010000232" in text


async def test_with_one_account_no_question_and_without_one_none(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await consented(chat)
    await chat.send("/callcenter")
    assert "Оберіть тип звернення" in await chat.press("Нове звернення")
    await call_centre_request(chat, "Загальне питання")
    await link_another(chat, "2010000232", "62Z000000000232T")
    await chat.send("/callcenter")
    text = await chat.press("Нове звернення")
    assert "Звернення щодо рахунку 2010000232" in text and "Оберіть тип" in text
    await call_centre_request(chat, "Питання про рахунок")
    first, second = factory.data.call_center
    assert first.account_id is None
    assert second.account_id == account_ids(factory)["2010000232"]


async def test_long_texts_in_one_message_or_several_are_kept(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("/callcenter")
    await chat.press("Нове звернення")
    await chat.press("Незрозумілий рахунок")
    long = "Рахунок за листопад. " * 238  # 4,998 characters: over the old 1,000
    assert "Текст збережено (4 997 символів)" in await chat.send(long)
    # Telegram splits a long paste: the next part is added, not taken as a new question.
    assert "Текст збережено (5 017 символів)" in await chat.send("Дякую за відповідь.")
    assert "прийнято" in await chat.press("Надіслати")
    [request] = factory.data.call_center
    assert request.text == long.strip() + "\nДякую за відповідь."


async def test_a_text_over_the_limit_is_kept_with_a_choice(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await consented(chat)
    await chat.send("/support")
    await chat.press("Іван")
    await chat.send("0501234567")
    await chat.press("Інше")
    too_long = "а" * 10_250
    text = await chat.send(too_long)
    assert "Текст задовгий: 10 250 символів, а можна до 10 000 символів" in text
    assert "скоротіть на 250 символів" in text
    assert chat.labels()[:2] == ["Надіслати перші 10 000 символів", "Написати заново"]
    # Nothing typed was lost: the draft is still there for either choice.
    assert "прийнято" in await chat.press("Надіслати перші")
    [request] = factory.data.support
    assert request.text == "а" * 10_000


async def test_answers_of_every_kind_are_listed(chat: Chat, factory: FakeUnitOfWorkFactory) -> None:
    await linked(chat)
    await chat.send("/phone")
    await chat.send(contact_phone="+380994455889", contact_is_own=True)
    await chat.send("/services")
    await chat.press("Замовити послугу")
    await chat.press("Шум у електролічильнику")
    await chat.press("Так, 0994455889")
    await chat.press("Замовити")
    text = await chat.send("/services")
    assert "Статус: Нове" in text and "Відповіді ще немає." in text
    [order] = factory.data.free_services
    await factory().operator.answer_free_service(
        order.id, "Майстер прийде 2 грудня з 9:00 до 13:00", RequestStatus.IN_PROGRESS, ANSWERED
    )
    text = await chat.send("/services")
    assert f"№ {order.id} від 29.11.2026 о 10:00 — Шум у електролічильнику" in text
    assert "Телефон: 0994455889" in text and "Статус: В роботі" in text
    assert "Відповідь (30.11.2026 о 12:15): Майстер прийде 2 грудня з 9:00 до 13:00" in text

    # Support: the new request is listed with its answer afterwards.
    await chat.send("/support")
    await chat.press("Іван")
    await chat.press("Так, +380994455889")
    await chat.press("Помилка в роботі бота")
    await chat.send("Не відкривається графік")
    accepted = await chat.press("Надіслати")
    assert "«Технічна підтримка»" in accepted
    [request] = factory.data.support
    factory.data.support = [
        replace(request, status=RequestStatus.DONE, answer="Виправили.", answered_at=ANSWERED)
    ]
    text = await chat.send("/support")
    assert "Ваші звернення до технічної підтримки:" in text
    assert "Помилка в роботі бота" in text and "Текст: Не відкривається графік" in text
    assert "Статус: Виконано" in text and "Відповідь (30.11.2026 о 12:15): Виправили." in text
    assert "Нове звернення" in chat.labels()


async def test_long_names_fit_and_longer_ones_say_what_to_shorten(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await consented(chat)
    await chat.send("/profile")
    await chat.press("Змінити ім'я")
    name = "Олександра-Вікторія " * 7 + "Ковальчук-Старицька"  # 159 characters
    text = await chat.send(name)
    assert f"Ім'я: {name}" in text
    await chat.press("Змінити ім'я")
    text = await chat.send("Я" * 301)
    assert "Ім'я задовге: 301 символ, а можна до 300 символів" in text
    await chat.send("/support")
    text = await chat.send("Б" * 320)
    assert "Ім'я задовге: 320 символів" in text
    assert not factory.data.support


async def test_a_wrong_phone_asks_again_with_the_profiles_number_still_offered(
    chat: Chat, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    await chat.send("/phone")
    await chat.send("0994455889")
    await chat.send("/support")
    await chat.press("Іван")
    text = await chat.send("ivan@example.com")  # what the old form called a login
    assert "не схоже на номер" in text and "телефону для зв'язку" in text
    assert "Так, +380994455889" in chat.labels()
    await chat.press("Так, +380994455889")
    await chat.send("/services")
    await chat.press("Замовити послугу")
    await chat.press("Перевірка пломб")
    text = await chat.send("12")
    assert "не схоже на номер" in text and "10 цифр" in text
    assert "Так, 0994455889" in chat.labels()
