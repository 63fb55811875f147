"""Through the Telegram webhook on PostgreSQL: names and texts PostgreSQL cannot store (NUL,
lone surrogates, over 300 characters) are cleaned on the way in, so they never lock a person
out (issue 18, point 9); the erasing turn leaves no dialog state (point 11)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.orm import DialogStateRow, PersonRow
from tests.channels.conftest import HarnessFactory
from tests.channels.fake_telegram import message_update, user_json

BAD_NAME = "Оле\x00на \ud83d" + "я" * 400


async def test_a_profile_name_postgresql_refuses_is_cleaned_and_cut(
    make_harness: HarnessFactory, postgres_demo_url: str
) -> None:
    harness = await make_harness(postgres_demo_url)
    user = harness.user()
    sender = {"from": {**user_json(user.user_id), "first_name": BAD_NAME}}
    text = await user.post(message_update(user.user_id, text="/start", **sender))
    assert "згода на обробку персональних даних" in text
    assert "згоду збережено" in await user.press("Погоджуюсь")
    async with harness.app.engine.connect() as connection:
        names = (await connection.scalars(select(PersonRow.name))).all()
    [stored] = [name for name in names if name.startswith("Оле")]
    assert stored.startswith("Олена ") and len(stored) <= 300 and "\x00" not in stored


async def test_a_typed_name_with_nul_is_stored_without_it(
    make_harness: HarnessFactory, postgres_demo_url: str
) -> None:
    harness = await make_harness(postgres_demo_url)
    user = harness.user()
    await user.say("/start")
    await user.press("Погоджуюсь")
    await user.say("/profile")
    await user.press("Змінити ім'я")
    card = await user.say("Оле\x00на \udc80Петренко")
    assert "Ім'я: Олена Петренко" in card
    await user.press("Змінити ім'я")
    assert "300" in await user.say("я" * 301)  # too long: said so politely, asked again
    assert "Олена Петренко" in await user.say("Олена Петренко")


async def test_the_erasing_turn_leaves_no_dialog_state(
    make_harness: HarnessFactory, postgres_demo_url: str
) -> None:
    """Issue 18, point 11: the turn that erases does not write the state back."""
    harness = await make_harness(postgres_demo_url)
    user = harness.user()
    await user.say("/start")
    await user.press("Погоджуюсь")
    await user.say("/delete")
    assert "видалено" in await user.press("Так, видалити")
    async with harness.app.engine.connect() as connection:
        left = await connection.scalar(
            select(func.count())
            .select_from(DialogStateRow)
            .where(DialogStateRow.user_id == str(user.user_id))
        )
    assert left == 0
