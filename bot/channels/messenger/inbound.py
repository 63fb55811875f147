"""Messenger webhook events → the neutral `Incoming`: text, postbacks, quick replies,
shared phone numbers, images; the signature check of the raw body."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from bot.channels.base import MalformedInput
from bot.messages import Incoming
from core.model import Channel

SIGNATURE_HEADER = "X-Hub-Signature-256"
MORE_PAYLOAD = "~more"  # the adapter's own "next page of choices" reply
GET_STARTED_PAYLOAD = "start"
_PHONE = re.compile(r"^\+?\d{9,15}$")


_SIGNATURE_SHAPE = re.compile(r"sha256=[0-9A-Fa-f]{64}")


def signature_shaped(header: str) -> bool:
    """Whether the header can be a signature at all (checked before reading the body)."""
    return _SIGNATURE_SHAPE.fullmatch(header.strip()) is not None


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of `X-Hub-Signature-256: sha256=<hex>` over the raw body."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256=") :].strip().encode())


def phone_like(value: str) -> str | None:
    """The value as a phone number when it looks like one, else None."""
    compact = re.sub(r"[\s()\-]", "", value or "")
    return compact if _PHONE.match(compact) else None


@dataclass(frozen=True)
class Inbound:
    """One messaging event translated: the event, an image to download, or "next page"."""

    event: Incoming
    image_url: str | None = None
    more: bool = False
    # A quick reply whose text looks like a phone number but whose payload is not one:
    # after a phone quick reply was offered, a sign that the platform's shape changed.
    phone_text_only: bool = False


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one: a field of another shape than
    Meta's counts as absent."""
    return value if isinstance(value, dict) else {}


def sender_of(messaging: dict[str, Any]) -> str:
    """The PSID of a messaging event's sender; empty when it names none."""
    return str(_object(messaging.get("sender")).get("id") or "")


def messaging_events(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The messaging events of a page webhook body, in order; raises MalformedInput when
    the envelope is not Meta's (`entry` a list of objects, each `messaging` a list of
    objects)."""
    entries = data.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedInput("entry is not a list of objects")
    events: list[dict[str, Any]] = []
    for entry in entries:
        messaging = entry.get("messaging") or []
        if not isinstance(messaging, list) or not all(isinstance(m, dict) for m in messaging):
            raise MalformedInput("messaging is not a list of objects")
        events.extend(messaging)
    return events


def from_messaging(messaging: dict[str, Any]) -> tuple[Inbound | None, str | None]:
    """Translate one messaging event; (None, kind) for events that are not input."""
    sender = sender_of(messaging)
    if not sender:
        return None, "no_sender"
    timestamp = messaging.get("timestamp")
    base: dict[str, Any] = {"channel": Channel.MESSENGER, "user_id": sender}
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        base["sequence"] = timestamp  # epoch milliseconds: orders one person's messages
    message = messaging.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None, "echo"
        base["update_key"] = message.get("mid") or f"m:{sender}:{timestamp}"
        text = message.get("text")
        quick = _object(message.get("quick_reply")).get("payload")
        if quick is not None:
            quick = str(quick)
            if quick == MORE_PAYLOAD:
                return Inbound(Incoming(**base, text=text), more=True), None
            phone = phone_like(quick)
            if phone is not None:
                # The user_phone_number quick reply: the number from their profile.
                return Inbound(Incoming(**base, contact_phone=phone, contact_is_own=True)), None
            return (
                Inbound(
                    Incoming(**base, text=text, payload=quick),
                    phone_text_only=bool(text and phone_like(text)),
                ),
                None,
            )
        attachments = message.get("attachments") or []
        if text is not None:
            return Inbound(Incoming(**base, text=str(text))), None
        for attachment in attachments if isinstance(attachments, list) else []:
            attachment = _object(attachment)
            kind = str(attachment.get("type") or "unknown")
            media = _object(attachment.get("payload"))
            if kind == "image" and not media.get("sticker_id") and media.get("url"):
                return Inbound(Incoming(**base), image_url=str(media["url"])), None
            if kind == "image" or media.get("sticker_id"):
                return Inbound(Incoming(**base, unsupported="sticker")), None
            return Inbound(Incoming(**base, unsupported=kind)), None
        return Inbound(Incoming(**base, unsupported="empty")), None
    postback = messaging.get("postback")
    if isinstance(postback, dict):
        base["update_key"] = postback.get("mid") or f"p:{sender}:{timestamp}"
        payload = str(postback.get("payload") or "")
        ref = str(_object(postback.get("referral")).get("ref") or "")
        if payload == GET_STARTED_PAYLOAD and ref.isdigit():
            payload = f"start:{ref}"  # m.me/<page>?ref=<one-time code>
        return Inbound(Incoming(**base, text=postback.get("title"), payload=payload)), None
    referral = messaging.get("referral")
    if isinstance(referral, dict):
        # Someone who already talked to us opened an m.me link with a ref.
        ref = str(referral.get("ref") or "")
        base["update_key"] = f"r:{sender}:{timestamp}"
        payload = f"start:{ref}" if ref.isdigit() else "start"
        return Inbound(Incoming(**base, payload=payload)), None
    for kind in ("delivery", "read", "reaction", "optin", "account_linking"):
        if kind in messaging:
            return None, kind
    return None, "unknown"
