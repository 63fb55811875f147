"""The dialog engine: ordering per user, failures, unsupported input, restart."""

from __future__ import annotations

import asyncio

from bot.handlers import WORDS, build_router
from bot.handlers.context import Context, DialogRules
from bot.handlers.dialog import Dialog
from bot.i18n import Catalogues
from bot.messages import Incoming
from core.clock import FrozenClock
from core.model import Channel
from tests.chat import Chat
from tests.fakes import FakeUnitOfWorkFactory
from tests.handlers.conftest import consented


def _dialog_with(
    factory: FakeUnitOfWorkFactory, clock: FrozenClock, catalogues: Catalogues, extra
) -> Dialog:
    router = build_router()
    router.actions.update(extra)
    return Dialog(factory, clock, catalogues, router, DialogRules(), WORDS)


async def test_inputs_of_one_user_never_interleave(factory, clock, catalogues) -> None:
    events: list[str] = []

    async def slow(ctx: Context, argument: str) -> None:
        events.append(f"enter {argument}")
        await asyncio.sleep(0.02)
        events.append(f"leave {argument}")
        ctx.say(argument)

    dialog = _dialog_with(factory, clock, catalogues, {"slow": slow})
    await consented(Chat(dialog, "same"))

    def press(user: str, argument: str) -> Incoming:
        return Incoming(Channel.CONSOLE, user, payload=f"slow:{argument}")

    await asyncio.gather(*(dialog.handle(press("same", str(i))) for i in range(3)))
    assert events == [f"{step} {i}" for i in range(3) for step in ("enter", "leave")]


async def test_a_failing_flow_apologises_and_is_not_marked_processed(
    factory, clock, catalogues
) -> None:
    async def broken(ctx: Context, argument: str) -> None:
        raise RuntimeError("boom")

    dialog = _dialog_with(factory, clock, catalogues, {"broken": broken})
    await consented(Chat(dialog, "u"))
    replies = await dialog.handle(
        Incoming(Channel.CONSOLE, "u", payload="broken", update_key="k1", locale="uk")
    )
    assert "Вибачте, сталася помилка" in replies[0].text
    assert replies[0].all_buttons()[0].payload == "menu"


async def test_unsupported_content_gets_polite_answer_and_menu(chat: Chat) -> None:
    await consented(chat)
    text = await chat.send(unsupported="sticker")
    assert "не підтримує" in text and "💰 Баланс" in chat.labels()


async def test_state_survives_a_new_dialog_instance(factory, clock, catalogues) -> None:
    first = Chat(Dialog(factory, clock, catalogues, build_router(), DialogRules(), WORDS))
    await consented(first)
    await first.send("/link")
    await first.send("2010000232")
    # A "restart": a brand-new engine over the same storage continues the flow.
    second = Chat(Dialog(factory, clock, catalogues, build_router(), DialogRules(), WORDS))
    assert "Рахунок додано" in await second.send("62Z000000000232T")


async def test_payload_too_long_for_telegram_is_refused() -> None:
    from bot.messages import Button

    try:
        Button("x", "a" * 65)
    except ValueError:
        return
    raise AssertionError("a 65-byte payload must be refused")
