"""One person's burst of messages on parallel connections is handled in the platform's order
(issue 18 point 14): Telegram's update_id, Viber's and Messenger's timestamp.

Each test holds the person's turn (as a slow turn would) in the first queue their input
meets — the Telegram and Messenger adapters' per-chat queue (it guards the chat's memory),
the dialog's for Viber — posts the burst through the real adapter in a shuffled order (each
post waits in the queue before the next is sent, so the arrival order is the shuffled one),
then lets the turns go and records the order in which the dialog finished them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from bot.handlers.turn_order import TurnQueue
from bot.messages import Incoming, Reply
from core.model import Channel
from tests.channels.conftest import HarnessFactory, MessengerFactory, ViberFactory
from tests.channels.fake_graph import messaging, mid, page_event
from tests.channels.fake_telegram import message_update, next_update_id
from tests.channels.fake_viber import message_event, next_token, wait_for

Handle = Callable[[Incoming], Awaitable[list[Reply]]]
BURST = 12


def _recorder(handled: list[int | None]) -> Callable[[Handle], Handle]:
    """Wrap the channel's handle: note each event's sequence as its turn ends."""

    def wrap(handle: Handle) -> Handle:
        async def recorded(event: Incoming) -> list[Reply]:
            replies = await handle(event)
            handled.append(event.sequence)
            return replies

        return recorded

    return wrap


async def _burst(
    turns: TurnQueue,
    key: object,
    sequences: list[int],
    post: Callable[[int], Awaitable[Any]],
) -> None:
    """Post one message per sequence, shuffled, while the person's turn is held."""
    shuffled = list(sequences)
    random.Random(14).shuffle(shuffled)
    async with turns.hold(key, sequences[0] - 1):
        posts = []
        for number, sequence in enumerate(shuffled, start=1):
            posts.append(asyncio.create_task(post(sequence)))
            await wait_for(lambda number=number: turns.waiting(key) == number)
    for status in await asyncio.gather(*posts):
        assert status == 200


async def test_telegram_burst_is_handled_in_update_id_order(
    make_harness: HarnessFactory, sqlite_demo_url: str
) -> None:
    handled: list[int | None] = []
    tg = await make_harness(sqlite_demo_url, wrap=_recorder(handled))
    user = tg.user()
    first = next_update_id()
    sequences = [first + n for n in range(BURST)]
    for _ in range(BURST):
        next_update_id()  # keep them for this test

    async def post(update_id: int) -> int:
        return await tg.post(message_update(user.user_id, update_id=update_id, text="привіт"))

    await _burst(tg.channel.chat_turns, str(user.user_id), sequences, post)
    assert handled == sequences


async def test_viber_burst_is_handled_in_timestamp_order(
    make_viber: ViberFactory, sqlite_demo_url: str
) -> None:
    handled: list[int | None] = []
    vb = await make_viber(sqlite_demo_url, wrap=_recorder(handled))
    user = vb.user()
    sequences = [1_765_000_000_000 + 7 * n for n in range(BURST)]

    async def post(timestamp: int) -> int:
        event = message_event(user.user_id, {"type": "text", "text": "привіт"}, token=next_token())
        event["timestamp"] = timestamp
        return (await vb.post(event)).status

    await _burst(vb.app.dialog.turns, (Channel.VIBER, user.user_id), sequences, post)
    assert handled == sequences


async def test_messenger_burst_is_handled_in_timestamp_order(
    make_messenger: MessengerFactory, sqlite_demo_url: str
) -> None:
    handled: list[int | None] = []
    fb = await make_messenger(sqlite_demo_url, wrap=_recorder(handled))
    user = fb.user()
    sequences = [1_765_000_000_000 + 3 * n for n in range(BURST)]

    async def post(timestamp: int) -> int:
        event = messaging(user.psid, message={"mid": mid(), "text": "привіт"})
        event["timestamp"] = timestamp
        return (await fb.post(page_event(event))).status

    await _burst(fb.channel.chat_turns, user.psid, sequences, post)
    assert handled == sequences
