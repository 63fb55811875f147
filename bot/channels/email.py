"""E-mail as a push channel (notifications and bills), over SMTP with aiosmtplib.

A push becomes one message: the replies' texts as plain text (buttons are chat-only and
are left out; link buttons become their URL), images and documents as attachments. The
person's address is the "user id" delivery hands to `send`.

SMTP answers map onto delivery results: 4xx and network trouble → retry later; a 5xx that
refuses the recipient → unreachable (delivery tries their next channel); other 5xx and
authentication trouble → failed.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from aiohttp import web

from bot.channels.base import ChannelAdapter, DeliveryResult, DeliveryStatus, Push
from bot.messages import Reply
from core.model import Channel
from core.privacy import mask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: host, port, credentials, TLS mode, the From address."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "kabinet@localhost"
    sender_name: str = "Kabinet"
    starttls: bool = True  # STARTTLS on a plain connection (port 587)
    use_tls: bool = False  # implicit TLS (port 465)
    timeout_seconds: float = 30.0


def compose(settings: SmtpSettings, to: str, replies: list[Reply], subject: str) -> EmailMessage:
    """The e-mail for a push: text parts joined, link URLs kept, attachments attached."""
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name, settings.sender))
    message["To"] = to
    message["Subject"] = " ".join(subject.split())[:150] or settings.sender_name
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    paragraphs = []
    for reply in replies:
        lines = [reply.text]
        lines += [f"{b.label}: {b.url}" for b in reply.all_buttons() if b.url]
        paragraphs.append("\n".join(lines))
    message.set_content("\n\n".join(paragraphs))
    for reply in replies:
        for attachment in (reply.image, reply.document):
            if attachment is None:
                continue
            maintype, _, subtype = attachment.mime_type.partition("/")
            message.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    return message


class EmailChannel(ChannelAdapter):
    """Sends pushes by e-mail; it has no webhook."""

    channel = Channel.EMAIL

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def register_routes(self, app: web.Application) -> None:
        """E-mail has no inbound route."""
        return None

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Send one e-mail to the address `user_id`, under the push's subject."""
        import aiosmtplib  # loads only when e-mail is on

        message = compose(self.settings, user_id, push.replies, push.subject)
        tls_context = ssl.create_default_context()
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.host,
                port=self.settings.port,
                username=self.settings.username,
                password=self.settings.password,
                use_tls=self.settings.use_tls,
                start_tls=self.settings.starttls and not self.settings.use_tls,
                timeout=self.settings.timeout_seconds,
                tls_context=tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            status = (
                DeliveryStatus.RETRY_LATER
                if all(400 <= code < 500 for code in codes)
                else DeliveryStatus.UNREACHABLE
            )
            log.info("email: %s refused (%s)", mask(user_id, 6), codes)
            return DeliveryResult(
                status,
                60.0 if status == DeliveryStatus.RETRY_LATER else 0.0,
                detail=f"recipient refused {codes}",
            )
        except aiosmtplib.SMTPAuthenticationError as error:
            log.error("email: SMTP authentication failed (%s)", error.code)
            return DeliveryResult(DeliveryStatus.FAILED, detail=f"auth {error.code}")
        except aiosmtplib.SMTPResponseException as error:
            if 400 <= error.code < 500:
                return DeliveryResult(DeliveryStatus.RETRY_LATER, 60.0, f"{error.code}")
            return DeliveryResult(DeliveryStatus.FAILED, detail=f"{error.code} {error.message}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return DeliveryResult(DeliveryStatus.RETRY_LATER, detail=type(error).__name__)
        return DeliveryResult(DeliveryStatus.SENT)
