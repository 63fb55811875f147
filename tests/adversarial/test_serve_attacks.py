"""Issue 18: bounded versions of the attacks, against a real `kabinet serve` on 127.0.0.1
with every inbound route on (the three messengers against their fakes, EasyPay, the
operator API, media) on PostgreSQL. Memory is read from /proc/<pid>/status of the server.

Bodies of megabytes are streamed from a generator that yields one shared chunk again and
again: the test never holds them, so what grows is the server's memory, not ours."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from storage.database import make_engine
from storage.orm import DsoRow, OutageRow
from tests.adversarial.attacks import (
    ADMIN_TOKEN,
    NOT_UTF8,
    easypay_signed,
    everything_on,
    malformed,
    send_raw,
)
from tests.channels.conftest import SECRET
from tests.channels.fake_graph import FakeGraph
from tests.channels.fake_telegram import FakeTelegram, message_update
from tests.channels.fake_viber import FakeViber
from tests.pushes.processes import free_port, start_serve, stop

# Starts `kabinet serve`: the e2e tier. One server for the whole module.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MB = 1024 * 1024
_CHUNK = bytes(MB)


@dataclass
class Served:
    """The running server: its port, process id, log, and the fake Bot API."""

    port: int
    pid: int
    log: Path
    telegram: FakeTelegram
    database_url: str

    def memory(self, field: str = "VmRSS") -> int:
        """A memory figure of the server process from /proc, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"{field} not in /proc/{self.pid}/status")

    async def send(self, *args: object, **kwargs: object) -> int:
        return await send_raw("127.0.0.1", self.port, *args, **kwargs)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    postgres_demo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    telegram, viber, graph = FakeTelegram(), FakeViber(), FakeGraph()
    bases = await telegram.start(), await viber.start(), await graph.start()
    directory = tmp_path_factory.mktemp("serve")
    port = free_port()
    server = await start_serve(
        postgres_demo_url,
        bases[0],
        directory / "serve.log",
        scheduler=False,
        **everything_on(*bases),
        KABINET_PORT=str(port),
        PHOTOS_DIR=str(directory / "photos"),
        BILLS_DIR=str(directory / "bills"),
    )
    try:
        pid = server.process.pid
        yield Served(port, pid, server.log, telegram, postgres_demo_url)
    finally:
        await stop(server)
        for fake in (telegram, viber, graph):
            await fake.close()


async def _zeros(size: int) -> AsyncIterator[bytes]:
    """`size` bytes of zeros, one shared megabyte at a time (nothing allocated per chunk)."""
    sent = 0
    while sent < size:
        piece = _CHUNK if size - sent >= MB else _CHUNK[: size - sent]
        yield piece
        sent += len(piece)


UNSIGNED = (
    ("/webhook/viber", ()),
    ("/webhook/messenger", ()),
    # Well shaped but wrong: read up to the 256 KiB cap at most, then refused.
    ("/webhook/viber", ((b"X-Viber-Content-Signature", b"0" * 64),)),
    ("/webhook/messenger", ((b"X-Hub-Signature-256", b"sha256=" + b"0" * 64),)),
)


async def _flood(served: Served, count: int, size: int) -> list[int]:
    """`count` unsigned posts of `size` bytes at once, spread over the webhook routes."""
    posts = [
        served.send("POST", path, headers, _zeros(size), length=size)
        for n in range(count)
        for path, headers in [UNSIGNED[n % len(UNSIGNED)]]
    ]
    return await asyncio.gather(*posts)


async def test_20_unsigned_3_mb_posts_at_once_keep_memory_flat(served: Served) -> None:
    before = served.memory()
    statuses = await _flood(served, 20, 3 * MB)
    assert set(statuses) <= {403, 413}, statuses
    assert served.memory() - before < 30 * MB
    assert await served.send("GET", "/livez") == 200


async def test_100_unsigned_24_mb_posts_at_once_stay_under_100_mb(served: Served) -> None:
    """The issue's figure: these took the process from 335 MB to 3.5 GB."""
    before = served.memory()
    statuses = await _flood(served, 100, 24 * MB)
    assert set(statuses) <= {403, 413}, statuses
    # The peak (VmHWM) counts too, not only what is left after the flood.
    assert max(served.memory(), served.memory("VmHWM")) - before < 100 * MB
    assert await served.send("GET", "/livez") == 200


async def test_forged_signatures_and_tokens_are_refused(served: Served) -> None:
    body = json.dumps(message_update(7_300_001, text="/start")).encode()
    notice = b'{"MerchantOrderId": "x", "TransactionId": 1, "Amount": 1}'
    forged = [
        ("POST", "/webhook/telegram", ((b"X-Telegram-Bot-Api-Secret-Token", b"guess"),), body,
         {401}),
        ("POST", "/webhook/telegram", (), body, {401}),
        ("POST", "/webhook/viber", ((b"X-Viber-Content-Signature", b"a" * 64),), body, {403}),
        ("POST", "/webhook/messenger", ((b"X-Hub-Signature-256", b"sha256=" + b"a" * 64),),
         body, {403}),
        ("POST", "/payments/easypay", ((b"Sign", b"Zm9yZ2Vk"),), notice, {403}),
        ("POST", "/payments/easypay", easypay_signed(notice + b" "), notice, {403}),
        ("GET", "/api/v1/call-center-requests", ((b"Authorization", b"Bearer guess"),), b"",
         {401}),
        ("GET", "/api/v1/call-center-requests", ((b"Authorization", b"Bearer " + NOT_UTF8),),
         b"", {400, 401}),
        ("GET", "/media/a.1.b.jpg", (), b"", {403}),
    ]  # fmt: skip
    for method, path, headers, payload, allowed in forged:
        status = await served.send(method, path, headers, payload)
        assert status in allowed, (path, headers, status)
    assert served.telegram.calls_of("sendMessage", 7_300_001) == []


async def test_malformed_inputs_are_4xx_and_leave_no_traceback(served: Served) -> None:
    for attack in malformed():
        status = await served.send(attack.method, attack.path, attack.headers, attack.body)
        assert status in attack.allowed, (attack.name, status)
    assert await served.send("GET", "/livez") == 200
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]


async def test_20_concurrent_posts_of_one_outage_make_one(served: Served) -> None:
    engine = make_engine(served.database_url)
    try:
        async with engine.connect() as connection:
            dso_id = (await connection.execute(select(func.min(DsoRow.id)))).scalar_one()
        start = datetime.now(UTC) + timedelta(days=2)
        body = {
            "kind": "planned",
            "dso_id": dso_id,
            "external_id": "adversarial-retry-1",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
            "reason": "ремонт лінії",
            "targets": [{"outage_group": "3.2"}],
        }
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        url = f"http://127.0.0.1:{served.port}/api/v1/outages"
        async with aiohttp.ClientSession() as session:

            async def post() -> tuple[int, int]:
                async with session.post(url, json=body, headers=auth) as response:
                    return response.status, (await response.json())["id"]

            answers = await asyncio.gather(*(post() for _ in range(20)))
        assert sorted(status for status, _ in answers) == [200] * 19 + [201]
        assert len({outage_id for _, outage_id in answers}) == 1
        async with engine.connect() as connection:
            stored = select(func.count()).where(OutageRow.external_id == "adversarial-retry-1")
            assert (await connection.execute(stored)).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_a_duplicate_update_is_handled_once(served: Served) -> None:
    user_id = 7_300_002
    update = json.dumps(message_update(user_id, text="/start")).encode()
    headers = ((b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode()),
               (b"Content-Type", b"application/json"))  # fmt: skip
    statuses = await asyncio.gather(
        *(served.send("POST", "/webhook/telegram", headers, update) for _ in range(5))
    )
    assert statuses == [200] * 5
    assert await served.send("POST", "/webhook/telegram", headers, update) == 200
    assert len(served.telegram.calls_of("sendMessage", user_id)) == 1


async def test_oversized_bodies_are_413(served: Served) -> None:
    viber = ((b"X-Viber-Content-Signature", b"0" * 64),)
    assert await served.send("POST", "/webhook/viber", viber, _zeros(MB), length=MB) == 413
    notice = easypay_signed(b"x")
    assert await served.send("POST", "/payments/easypay", notice, bytes(100_000)) == 413
    telegram = ((b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode()),)
    size = 30 * MB  # over the server's 25 MB limit for any body
    status = await served.send("POST", "/webhook/telegram", telegram, _zeros(size), length=size)
    assert status == 413
    assert await served.send("GET", "/livez") == 200
