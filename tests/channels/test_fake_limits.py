"""The local fake platforms enforce the limits the platforms document, over real HTTP: the
fake Bot API answers 429 with retry_after above 30 sends a second (1,000 with
allow_paid_broadcast) and refuses a paid send the Stars balance cannot pay; the fake Viber
answers status 12 above 500 calls in 10 s. (The fakes' clocks are frozen: no timing.)"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.channels.fake_telegram import TOKEN as TG_TOKEN
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_viber import TOKEN as VIBER_TOKEN
from tests.channels.fake_viber import FakeViber


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _sends(session, base: str, count: int, *, paid: bool = False) -> list[dict]:
    async def one(number: int) -> dict:
        body = {"chat_id": number, "text": "⚡"}
        if paid:
            body["allow_paid_broadcast"] = True
        async with session.post(f"{base}/bot{TG_TOKEN}/sendMessage", json=body) as response:
            answer = await response.json()
            assert (response.status == 200) == answer["ok"]
            return answer

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def test_fake_bot_api_answers_429_above_30_free_and_1000_paid_a_second() -> None:
    clock = Clock()
    fake = FakeTelegram(limits=True, clock=clock)
    base = await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            answers = await _sends(session, base, 31)
            refused = [a for a in answers if not a["ok"]]
            assert len(refused) == 1 and fake.too_many == 1
            assert refused[0]["error_code"] == 429
            assert refused[0]["parameters"]["retry_after"] >= 1
            # Paid sends are not held to 30, only to 1,000 in all (30 already this second).
            answers = await _sends(session, base, 971, paid=True)
            assert sum(not a["ok"] for a in answers) == 1
            assert len(fake.sent()) == 1000
            clock.now += 1.0  # the next second
            assert all(a["ok"] for a in await _sends(session, base, 30))
    finally:
        await fake.close()


async def test_fake_bot_api_refuses_a_paid_send_the_stars_cannot_pay() -> None:
    fake = FakeTelegram(stars=0.2)
    base = await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            answers = await _sends(session, base, 3, paid=True)
            assert [a["ok"] for a in answers].count(True) == 2
            [refused] = [a for a in answers if not a["ok"]]
            assert refused["error_code"] == 400 and "BALANCE_TOO_LOW" in refused["description"]
            # A free send still goes.
            assert (await _sends(session, base, 1))[0]["ok"]
    finally:
        await fake.close()


async def test_fake_viber_answers_status_12_above_500_calls_in_10_seconds() -> None:
    clock = Clock()
    fake = FakeViber(limits=True, clock=clock)
    base = await fake.start()
    headers = {"X-Viber-Auth-Token": VIBER_TOKEN}
    body = {"sender": {"name": "K"}, "type": "text", "text": "⚡"}

    async def call(endpoint: str, extra: dict) -> int:
        async with session.post(
            f"{base}/{endpoint}", data=json.dumps({**body, **extra}), headers=headers
        ) as response:
            return (await response.json())["status"]

    try:
        async with aiohttp.ClientSession() as session:
            statuses = await asyncio.gather(
                *(call("send_message", {"receiver": f"u{n}"}) for n in range(501))
            )
            assert statuses.count(0) == 500 and statuses.count(12) == 1
            # broadcast_message has its own 500 calls per 10 s.
            ids = {"broadcast_list": ["a", "b"]}
            statuses = await asyncio.gather(*(call("broadcast_message", ids) for _ in range(501)))
            assert statuses.count(0) == 500 and statuses.count(12) == 1
            assert fake.too_many == 2
            clock.now += 10.0
            assert await call("send_message", {"receiver": "later"}) == 0
            # More than 300 ids in one broadcast is bad data.
            assert await call("broadcast_message", {"broadcast_list": ["x"] * 301}) == 3
    finally:
        await fake.close()
