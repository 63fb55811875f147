"""Issue 16, point 3: two real `kabinet serve` processes on one PostgreSQL database behave as
one. Meta's side is the fake Graph API; a person posts to one process's webhook, as a
proxy would route them.

- A media URL made by one process is served by the other: both have the other as their
  PUBLIC_BASE_URL, so when the fake Graph API fetches an attachment (as Meta does, at send
  time) the request reaches the process that did not make it. No MEDIA_SECRET is set: both
  derive the same signing key from the Messenger app secret.
- A push inside the 24-hour window is sent as an UPDATE after the process that saw the
  person's message was restarted (it used to be refused: "no message since start").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.model import Channel, Topic
from core.records import PushKind
from storage.database import make_engine
from storage.orm import ChannelIdentityRow
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.channels.conftest import IN_WINDOW
from tests.channels.fake_graph import (
    APP_SECRET,
    PAGE_TOKEN,
    VERIFY_TOKEN,
    FakeGraph,
    MessengerUser,
    sign,
)
from tests.channels.fake_viber import wait_for
from tests.channels.test_viber_flows import linked
from tests.pushes.processes import Served, free_port, start_serve, stop

# Starts `kabinet serve` processes: the e2e tier.
pytestmark = pytest.mark.e2e


@dataclass
class Replica:
    """One `kabinet serve` as Meta sees it: its webhook, and the fake Graph API it calls
    (what `MessengerUser` needs of a harness)."""

    fake: FakeGraph
    base_url: str

    async def post(self, body: dict[str, Any]) -> Any:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.base_url}/webhook/messenger", data=raw, headers=headers) as answer,
        ):
            await answer.read()  # answered once the turn is done (replies sent)
            return answer


async def _serve(url: str, graph: str, log: Path, port: int, public_port: int) -> Served:
    return await start_serve(
        url,
        None,
        log,
        scheduler=False,
        KABINET_PORT=str(port),
        KABINET_NOW=IN_WINDOW.isoformat(),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{public_port}",
        MESSENGER_PAGE_TOKEN=PAGE_TOKEN,
        MESSENGER_APP_SECRET=APP_SECRET,
        MESSENGER_VERIFY_TOKEN=VERIFY_TOKEN,
        MESSENGER_API_BASE=graph,
        MEDIA_SECRET="",
    )


async def test_two_serve_processes_share_media_and_the_messenger_window(
    postgres_demo_url: str, tmp_path: Path
) -> None:
    fake = FakeGraph()
    graph = await fake.start()
    a_port, b_port = free_port(), free_port()
    a = await _serve(postgres_demo_url, graph, tmp_path / "a.log", a_port, b_port)
    b = await _serve(postgres_demo_url, graph, tmp_path / "b.log", b_port, a_port)
    engine = make_engine(postgres_demo_url)
    try:
        user = MessengerUser(Replica(fake, f"http://127.0.0.1:{a_port}"), "24000000009001")  # type: ignore[arg-type]
        await linked(user)
        await user.say("Графік споживання")
        (chart,) = [c for c in user.last if c.attachment.get("type") == "image"]
        # Made by A, fetched from B (A's PUBLIC_BASE_URL) by the fake Graph API.
        assert chart.attachment["payload"]["url"].startswith(f"http://127.0.0.1:{b_port}/media/")
        assert chart.fetched_type == "image/png" and chart.fetched is not None
        assert chart.fetched.startswith(b"\x89PNG")
        assert "media: served image/png" in b.log_text()
        assert "media: served" not in a.log_text()

        # The process that saw the person's messages restarts.
        await stop(a)
        a = await _serve(postgres_demo_url, graph, tmp_path / "a2.log", a_port, b_port)
        async with engine.connect() as connection:
            person_id = await connection.scalar(
                select(ChannelIdentityRow.person_id).where(
                    ChannelIdentityRow.channel == Channel.MESSENGER.value,
                    ChannelIdentityRow.external_id == user.psid,
                )
            )
        assert person_id is not None
        async with SqlAlchemyUnitOfWorkFactory(engine)() as uow:
            # An answer has no message tag on Messenger: outside the window it is refused.
            queued = await uow.outbox.enqueue_person(
                person_id,
                "test:window",
                "test:window",
                Topic.ANSWERS.value,
                {"kind": PushKind.TEXT, "text": "Відповідь оператора"},
                IN_WINDOW,  # the processes' clock (KABINET_NOW)
            )
            await uow.commit()
        assert queued

        def pushed() -> list[Any]:
            return [c for c in fake.sent_to(user.psid) if c.text == "Відповідь оператора"]

        # Delivered by whichever process claims it first (both poll the outbox).
        await wait_for(pushed, 30)
        (push,) = pushed()
        assert push.body["messaging_type"] == "UPDATE"
        assert "tag" not in push.body
    finally:
        for served in (a, b):
            await stop(served)
        await engine.dispose()
        await fake.close()
