"""E-mail as a push channel against a local SMTP server (aiosmtpd): a chosen address gets
the alert as plain text with attachments; refusals map to delivery results."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.channels.base import DeliveryStatus, Push
from bot.channels.email import EmailChannel, SmtpSettings
from bot.i18n import Catalogues
from bot.messages import Attachment, Button, Reply
from bot.pushes import PushRenderer
from core.model import Channel, OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from scheduler.delivery import DeliveryWorkers
from storage.outbox import OutboxQueue
from tests.pushes.conftest import outbox_rows
from tests.pushes.processes import free_port
from tests.pushes.world import T0, Builder


class Inbox:
    """An aiosmtpd handler that keeps messages and refuses addresses starting with "bad"."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("bad"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            SmtpSettings(
                host="127.0.0.1", port=port, starttls=False, sender="noreply@kabinet.test"
            ),
        )
    finally:
        controller.stop()


def body(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


async def test_send_text_links_and_attachment(smtp: tuple[Inbox, SmtpSettings]) -> None:
    inbox, settings = smtp
    channel = EmailChannel(settings)
    reply = Reply(
        "Дякуємо за оплату.",
        [[Button("Меню", "menu"), Button("Квитанція", url="https://example.org/r")]],
        document=Attachment("receipt.pdf", b"%PDF-1.4 test", "application/pdf"),
    )
    result = await channel.send("ivan@example.org", Push([reply], subject="Оплата"))
    assert result.status == DeliveryStatus.SENT
    [(to, message)] = inbox.messages
    assert to == ["ivan@example.org"] and message["Subject"] == "Оплата"
    assert "Дякуємо за оплату." in body(message)
    assert "Квитанція: https://example.org/r" in body(message) and "Меню" not in body(message)
    [pdf] = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "receipt.pdf" and pdf.get_payload(decode=True) == b"%PDF-1.4 test"


async def test_refusals_and_network(smtp: tuple[Inbox, SmtpSettings]) -> None:
    _, settings = smtp
    channel = EmailChannel(settings)
    refused = await channel.send("bad@example.org", Push([Reply("x")]))
    assert refused.status == DeliveryStatus.UNREACHABLE
    later = await channel.send("busy@example.org", Push([Reply("x")]))
    assert later.status == DeliveryStatus.RETRY_LATER
    down = EmailChannel(SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False))
    failed = await down.send("ivan@example.org", Push([Reply("x")]))
    assert failed.status == DeliveryStatus.RETRY_LATER


async def test_outage_alert_by_email_to_those_who_chose_it(
    smtp: tuple[Inbox, SmtpSettings], builder: Builder, uow_factory, engine
) -> None:
    inbox, settings = smtp
    await builder.account("a")
    await builder.person(
        "mail",
        "a",
        channels={"messenger": "m1"},
        email="olena@example.org",
        locale="en",
        prefs={"channels": ["messenger", "email"]},
    )
    await builder.person("nomail", "a", channels={"messenger": "m2"}, email="no@example.org")
    async with uow_factory() as uow:
        await publish_outage(
            uow,
            OutageDraft(
                OutageKind.EMERGENCY,
                builder.world.dso_id,
                T0,
                None,
                "Cable damage",
                (OutageTarget(outage_group="3.2"),),
            ),
            T0,
        )
        await uow.commit()
    [row] = await outbox_rows(engine)
    assert row["channel"] == "email" and row["identity_id"] is None
    workers = DeliveryWorkers(
        OutboxQueue(engine, "mail-test"),
        {Channel.EMAIL: EmailChannel(settings)},
        PushRenderer(uow_factory, Catalogues(), ZoneInfo("Europe/Kyiv")),
        uow_factory,
    )
    await workers.run_once(Channel.EMAIL)
    await asyncio.sleep(0)
    [(to, message)] = inbox.messages
    assert to == ["olena@example.org"]
    assert "Emergency power outage" in message["Subject"]
    assert "Reason (as given by the grid operator): Cable damage" in body(message)
    assert [r["status"] for r in await outbox_rows(engine)] == ["sent"]
