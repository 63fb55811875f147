"""The per-person turn queue (issue 18 point 14): one turn at a time, waiting turns in the
platform's order, whatever order they arrived in."""

from __future__ import annotations

import asyncio
import random

from bot.handlers.turn_order import TurnQueue

KEY = ("telegram", "42")


async def _until(predicate: object) -> None:
    """Let the loop run until `predicate()` holds (no clock involved)."""
    for _ in range(10_000):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def _turn(queue: TurnQueue, sequence: int | None, ran: list[int | None]) -> None:
    async with queue.hold(KEY, sequence):
        ran.append(sequence)
        await asyncio.sleep(0)  # a turn awaits the database: others must still wait


async def _holding(queue: TurnQueue, sequence: int | None) -> tuple[asyncio.Task, asyncio.Event]:
    """A turn that holds the queue until the returned event is set (a slow turn)."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with queue.hold(KEY, sequence):
            inside.set()
            await release.wait()

    task = asyncio.create_task(slow())
    await inside.wait()
    return task, release


async def test_waiting_turns_run_in_sequence_order_whatever_their_arrival() -> None:
    queue = TurnQueue()
    ran: list[int | None] = []
    sequences = list(range(101, 121))
    random.Random(18).shuffle(sequences)
    holder, release = await _holding(queue, 100)
    tasks = []
    for number, sequence in enumerate(sequences, start=1):
        tasks.append(asyncio.create_task(_turn(queue, sequence, ran)))
        await _until(lambda number=number: queue.waiting(KEY) == number)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert ran == sorted(sequences)
    assert queue.waiting(KEY) == 0


async def test_without_a_sequence_turns_run_in_arrival_order() -> None:
    queue = TurnQueue()
    ran: list[int | None] = []
    order: list[int | None] = []

    async def tagged(tag: int) -> None:
        async with queue.hold(KEY):
            ran.append(tag)
            await asyncio.sleep(0)

    holder, release = await _holding(queue, None)
    tasks = []
    for number, tag in enumerate((5, 1, 3), start=1):
        order.append(tag)
        tasks.append(asyncio.create_task(tagged(tag)))
        await _until(lambda number=number: queue.waiting(KEY) == number)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert ran == order


async def test_turns_of_one_person_never_overlap_and_others_are_not_held() -> None:
    queue = TurnQueue()
    inside: dict[object, int] = {}
    most: dict[object, int] = {}

    async def turn(key: object, sequence: int) -> None:
        async with queue.hold(key, sequence):
            inside[key] = inside.get(key, 0) + 1
            most[key] = max(most.get(key, 0), inside[key])
            await asyncio.sleep(0)
            inside[key] -= 1

    keys = [("viber", str(n)) for n in range(5)]
    await asyncio.gather(*(turn(key, s) for key in keys for s in range(10)))
    assert most == dict.fromkeys(keys, 1)
    assert all(queue.waiting(key) == 0 for key in keys)


async def test_a_cancelled_waiter_or_holder_passes_the_turn_on() -> None:
    queue = TurnQueue()
    ran: list[int | None] = []
    holder, _release = await _holding(queue, 1)
    gone = asyncio.create_task(_turn(queue, 2, ran))
    stays = asyncio.create_task(_turn(queue, 3, ran))
    await _until(lambda: queue.waiting(KEY) == 2)
    gone.cancel()
    holder.cancel()
    await asyncio.gather(gone, holder, return_exceptions=True)
    await stays
    assert ran == [3]
    async with queue.hold(KEY, 4):  # free again
        pass


async def test_settling_lets_an_earlier_message_that_arrives_later_go_first() -> None:
    settled = asyncio.Event()
    asleep = asyncio.Event()

    async def sleep(_seconds: float) -> None:
        asleep.set()
        await settled.wait()

    queue = TurnQueue(settle=0.05, sleep=sleep)
    ran: list[int | None] = []
    later = asyncio.create_task(_turn(queue, 8, ran))
    await asleep.wait()  # the later message reached the idle queue first and settles
    earlier = asyncio.create_task(_turn(queue, 7, ran))
    await _until(lambda: queue.waiting(KEY) == 2)
    settled.set()
    await asyncio.gather(later, earlier)
    assert ran == [7, 8]
