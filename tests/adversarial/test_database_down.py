"""Issue 18, point 10: with the database out of reach the operator API answers 503 with
Retry-After (not 500), and a Telegram webhook is answered 503 so that Telegram delivers
the update again; once the database is back, the update is handled once.

The database is PostgreSQL behind a TCP forwarder that the test switches off (connections
refused, open ones cut) and on again."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from sqlalchemy.engine import make_url

from tests.adversarial.attacks import ADMIN_TOKEN
from tests.channels.conftest import HarnessFactory
from tests.channels.fake_telegram import message_update


class Switch:
    """A TCP forwarder on 127.0.0.1 to a target, switched off and on by the test."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def on(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def off(self) -> None:
        """Refuse new connections and cut the open ones (a database that went away)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}


@pytest.fixture
async def switch(postgres_demo_url: str) -> Switch:
    url = make_url(postgres_demo_url)
    forwarder = Switch(url.host or "127.0.0.1", url.port or 5432)
    await forwarder.on()
    await forwarder.off()  # the port is known; the database is "down" to begin with
    return forwarder


async def test_database_down_is_a_503_and_the_update_comes_again(
    make_harness: HarnessFactory,
    postgres_demo_url: str,
    switch: Switch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    through = make_url(postgres_demo_url).set(host="127.0.0.1", port=switch.port)
    tg = await make_harness(through.render_as_string(hide_password=False), admin_token=ADMIN_TOKEN)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    user = tg.user()
    update = message_update(user.user_id, text="/start")

    response = await tg.client.get("/api/v1/call-center-requests", headers=auth)
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert (await response.json())["error"] == "unavailable"

    # Down: no answer to the person, a 503 to Telegram, which sends the update again.
    assert await tg.post(update) == 503
    assert tg.fake.calls_of("sendMessage", user.user_id) == []

    await switch.on()
    assert await tg.post(update) == 200
    (welcome,) = tg.fake.calls_of("sendMessage", user.user_id)
    assert "згода на обробку персональних даних" in welcome.text
    assert await tg.post(update) == 200  # a third copy: already handled
    assert len(tg.fake.calls_of("sendMessage", user.user_id)) == 1
    response = await tg.client.get("/api/v1/call-center-requests", headers=auth)
    assert response.status == 200

    # Gone mid-way (open pooled connections cut): 503 again, then handled once.
    await switch.off()
    again = message_update(user.user_id, text="/menu")
    assert await tg.post(again) == 503
    await switch.on()
    statuses = [await tg.post(again) for _ in range(3)]
    # The first try after the cut may still meet a dead pooled connection (503 again).
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}
    answers = [call.text for call in tg.fake.calls_of("sendMessage", user.user_id)[1:]]
    assert answers and len(answers) == len(set(answers)), answers  # handled once
    assert not [r for r in caplog.records if r.exc_info is not None and r.levelno >= logging.ERROR]
