"""A new channel added from the test tree only (issue 15, point 2): one policy row and an
adapter written here, then a whole conversation through it and a push routed to it by the
outbox's SQL and sent by the real delivery workers, on the demo database (SQLite).

Nothing in the production modules names this channel: its `Channel` value, its reading
source, its place in the delivery ranking and its default rate all come from the row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy import select

from app.compose import App, build_app
from app.settings import load_settings
from bot.channels.base import CollectingChannel, DeliveryResult, Handle, Push, run_turn
from bot.messages import Incoming, Reply
from bot.pushes import PushRenderer
from core.channels import ChannelPolicy, policy_of, register_channel, unregister_channel
from core.clock import FrozenClock
from core.delivery import RANK_FREE, rank
from core.model import Channel, ReadingSource, Topic
from core.notifications import notify_call_center_answer
from scheduler.delivery import DeliveryWorkers, default_limit
from storage.orm import SubmittedReadingRow
from storage.outbox import OutboxQueue, outbox
from tests.channels.conftest import IN_WINDOW
from tests.channels.test_viber_flows import EIC_232, NUMBER_232, last_billing

KYIV = ZoneInfo("Europe/Kyiv")
PAGER = "pager"


class PagerChannel(CollectingChannel):
    """A pager network's adapter: its webhook posts {"from": ..., "text" | "button": ...};
    the turn's replies and the pushes are kept (the network has no send API to fake)."""

    def __init__(self, handle: Handle) -> None:
        super().__init__(Channel(PAGER))
        self._handle = handle
        self.answers: dict[str, list[Reply]] = {}

    def register_routes(self, app: web.Application) -> None:
        async def webhook(request: web.Request) -> web.Response:
            await self.receive(await request.json())
            return web.json_response({"ok": True})

        app.router.add_post("/webhook/pager", webhook)

    async def receive(self, body: dict[str, Any]) -> None:
        """Translate one webhook body into a neutral input and run the shared turn."""
        event = Incoming(
            self.channel,
            str(body["from"]),
            text=body.get("text"),
            payload=body.get("button"),
            locale="uk",
        )
        await run_turn(self.channel, self._handle, event, self._answer, _apology)

    async def _answer(self, user_id: str, replies: list[Reply]) -> DeliveryResult:
        self.answers[user_id] = replies
        return await self.send(user_id, Push(replies))


def _apology(event: Incoming) -> list[Reply]:
    return [Reply("Вибачте, сталася помилка.")]


class Pager:
    """A person with a pager: types text, presses buttons of the last answer by label."""

    def __init__(self, channel: PagerChannel, number: str) -> None:
        self.channel = channel
        self.number = number

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.channel.answers.get(self.number, []))

    def labels(self) -> list[str]:
        return [
            button.label
            for reply in self.channel.answers.get(self.number, [])
            for row in reply.buttons
            for button in row
        ]

    async def say(self, text: str) -> str:
        await self.channel.receive({"from": self.number, "text": text})
        return self.text

    async def press(self, label: str) -> str:
        [payload] = [
            button.payload
            for reply in self.channel.answers[self.number]
            for row in reply.buttons
            for button in row
            if label in button.label
        ][:1]
        await self.channel.receive({"from": self.number, "button": payload})
        return self.text


@pytest.fixture
def pager_policy() -> Iterator[ChannelPolicy]:
    """The channel's one row; gone again after the test (no other test sees it)."""
    yield register_channel(ChannelPolicy(PAGER, rate=5.0))
    unregister_channel(PAGER)


@pytest.fixture
async def app(sqlite_demo_url: str, pager_policy: ChannelPolicy) -> AsyncIterator[App]:
    settings = load_settings(database_url=sqlite_demo_url, ocr_workers=0, kabinet_now=None)
    built = await build_app(settings, clock=FrozenClock(IN_WINDOW))
    yield built
    await built.close()


def test_the_row_is_all_a_channel_needs(pager_policy: ChannelPolicy) -> None:
    channel = Channel(PAGER)
    assert policy_of(channel) == pager_policy
    assert ReadingSource(channel.value) == ReadingSource(PAGER)
    assert rank(channel, Topic.OUTAGES_PLANNED, None, IN_WINDOW) == RANK_FREE
    assert default_limit(channel) == 5.0


async def test_a_conversation_and_a_routed_push_through_a_new_channel(app: App) -> None:
    pager = PagerChannel(app.handle)
    user = Pager(pager, "555-0101")
    # Consent, an account, a reading: the flows written once, through the new adapter.
    assert "згода на обробку персональних даних" in await user.say("старт")
    assert "згоду збережено" in await user.press("Погоджуюсь")
    await user.press("Додати")
    await user.say(NUMBER_232)
    card = await user.say(EIC_232)
    assert "Іваненко Іван Іванович" in card
    assert "Стан рахунку 2010000232" in await user.say("баланс")
    prompt = await user.say("покази")
    assert "Покази для рахунку 2010000232" in prompt
    assert "Покази прийнято" in await user.say(str(last_billing(prompt) + 120))
    async with app.engine.connect() as connection:
        source = await connection.scalar(
            select(SubmittedReadingRow.source).order_by(SubmittedReadingRow.id.desc()).limit(1)
        )
    assert source == PAGER  # the row's reading source

    # A push to this person: routed to the pager by the outbox's SQL (its only channel)
    # and sent by the delivery workers, with its topic on the envelope.
    async with app.uow_factory() as uow:
        identity = await uow.persons.identity(Channel(PAGER), user.number)
        assert identity is not None
        assert await notify_call_center_answer(
            uow, 77, identity.person_id, "Лічильник замінять.", IN_WINDOW
        )
        await uow.commit()
    async with app.engine.connect() as connection:
        [queued] = (
            await connection.execute(
                select(outbox.c.channel).where(outbox.c.event == "cc-answer:77")
            )
        ).all()
    assert queued.channel == PAGER
    pushes_before = len(pager.sent)
    workers = DeliveryWorkers(
        OutboxQueue(app.engine, "pager-test"),
        {pager.channel: pager},
        PushRenderer(app.uow_factory, app.catalogues, KYIV),
        app.uow_factory,
    )
    handled, _ = await workers.run_once(pager.channel)
    assert handled == 1
    [(to, push)] = pager.sent[pushes_before:]
    assert to == user.number and push.topic == Topic.ANSWERS
    assert "Лічильник замінять." in "\n".join(reply.text for reply in push.replies)
    async with app.engine.connect() as connection:
        statuses = await connection.scalars(
            select(outbox.c.status).where(outbox.c.event == "cc-answer:77")
        )
        assert list(statuses) == ["sent"]
