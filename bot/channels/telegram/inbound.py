"""Telegram updates → the neutral `Incoming`: text, commands, button presses, contacts, photos.

Only private chats are answered: the bot shows personal data, which must never land in a
group. Everything a person can send that the bot does not read becomes
`Incoming(unsupported=kind)`, and the dialog answers it politely with the menu.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.messages import Incoming
from core.model import Channel

# The cloud Bot API serves files up to 20 MB; a meter photo needs far less, and a smaller
# cap bounds the memory one update can take.
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Inbound:
    """A translated update: the event, and a file to download into `event.photo` first."""

    event: Incoming
    chat_id: int
    file_id: str | None = None


def _base(message_user_id: int, language: str | None, name: str, update_id: int) -> dict:
    return {
        "channel": Channel.TELEGRAM,
        "user_id": str(message_user_id),
        "locale": language,
        "profile_name": name,
        "update_key": str(update_id),
        "sequence": update_id,  # one counter per bot, so also in order per person
    }


def from_message(
    message: Message, update_id: int, keyboard_payloads: dict[str, str] | None = None
) -> Inbound | None:
    """Translate a message; None for what the bot ignores (groups, channels, other bots).

    `keyboard_payloads` maps the labels of the reply keyboard last shown in this chat to
    their payloads: a reply keyboard can only send its label back as text.
    """
    user = message.from_user
    if message.chat.type != ChatType.PRIVATE or user is None or user.is_bot:
        return None
    base = _base(user.id, user.language_code, user.full_name, update_id)
    chat_id = message.chat.id
    if message.text is not None:
        payload = (keyboard_payloads or {}).get(message.text)
        return Inbound(Incoming(**base, text=message.text, payload=payload), chat_id)
    if message.contact is not None:
        contact = message.contact
        # Anyone can forward someone else's contact card; only the sender's own counts.
        own = contact.user_id is not None and contact.user_id == user.id
        return Inbound(
            Incoming(**base, contact_phone=contact.phone_number, contact_is_own=own), chat_id
        )
    if message.photo:
        fitting = [
            size
            for size in message.photo
            if size.file_size is None or size.file_size <= PHOTO_LIMIT_BYTES
        ]
        if not fitting:
            return Inbound(Incoming(**base, unsupported="photo_too_large"), chat_id)
        largest = max(fitting, key=lambda size: size.width * size.height)
        return Inbound(Incoming(**base), chat_id, file_id=largest.file_id)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        # People often send a meter photo "as a file" to keep its full quality.
        if document.file_size is not None and document.file_size > PHOTO_LIMIT_BYTES:
            return Inbound(Incoming(**base, unsupported="image_too_large"), chat_id)
        return Inbound(Incoming(**base), chat_id, file_id=document.file_id)
    kind = message.content_type
    return Inbound(Incoming(**base, unsupported=getattr(kind, "value", str(kind))), chat_id)


def from_callback(query: CallbackQuery, update_id: int) -> Inbound | None:
    """Translate a button press; None when it carries no data or comes from a group."""
    message = query.message
    if query.data is None or message is None or message.chat.type != ChatType.PRIVATE:
        return None
    user = query.from_user
    base = _base(user.id, user.language_code, user.full_name, update_id)
    label = None
    markup = getattr(message, "reply_markup", None)  # absent on inaccessible (old) messages
    if isinstance(markup, InlineKeyboardMarkup):
        label = next(
            (
                button.text
                for row in markup.inline_keyboard
                for button in row
                if button.callback_data == query.data
            ),
            None,
        )
    return Inbound(Incoming(**base, payload=query.data, text=label), message.chat.id)
