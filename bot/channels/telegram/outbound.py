"""The neutral `Reply` → Bot API calls: texts split to Telegram's limits, keyboards, uploads.

Rendering is pure: it returns aiogram method objects, and the channel executes them with
its retry rules. Payload buttons become inline buttons (callback data is the payload, at
most 64 bytes by construction), link buttons open URLs, and a reply that asks for the
phone number gets a reply keyboard whose button shares the person's own contact. The
standing keyboard (the top actions) is a persistent reply keyboard: a message holds one
keyboard, so it rides on the replies that have no inline buttons, and stays in view under
the ones that do.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from aiogram.methods import EditMessageText, SendDocument, SendMessage, SendPhoto
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.base import split_text
from bot.messages import Attachment, Keyboard, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass
class Rendered:
    """The calls for one reply, and what the chat's reply keyboard will map afterwards."""

    calls: list[TelegramMethod] = field(default_factory=list)
    keyboard_payloads: dict[str, str] | None = None  # None: no reply keyboard shown
    removes_keyboard: bool = False
    standing: Keyboard | None = None  # the standing keyboard this reply puts in view


def inline_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """Inline buttons: payloads as callback data, links as URL buttons."""
    key = tuple(
        tuple((button.label, button.payload, button.url) for button in row) for row in reply.buttons
    )
    return _inline_markup(key) if key else None


# Building aiogram's keyboard models costs more than the rest of a reply; most replies
# carry one of a few keyboards (the main menu above all), so the models are reused. They
# are never changed after they are built.
@functools.lru_cache(maxsize=4096)
def _inline_markup(
    rows: tuple[tuple[tuple[str, str | None, str | None], ...], ...],
) -> InlineKeyboardMarkup | None:
    keyboard: list[list[InlineKeyboardButton]] = []
    for row in rows:
        buttons = []
        for label, payload, url in row:
            if url:
                buttons.append(InlineKeyboardButton(text=label, url=url))
            elif payload:
                buttons.append(InlineKeyboardButton(text=label, callback_data=payload))
            else:
                log.warning("button %r has neither payload nor link: left out", label)
        if buttons:
            keyboard.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


def contact_keyboard(reply: Reply) -> tuple[ReplyKeyboardMarkup, dict[str, str]]:
    """A reply keyboard with the share-phone button; other buttons send their label.

    A message carries one keyboard only, and sharing a contact needs a reply keyboard, so
    the other choices of such a reply become text buttons; the returned label → payload map
    lets the channel turn their labels back into payloads.
    """
    payloads: dict[str, str] = {}
    rows: list[list[KeyboardButton]] = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if button.request_phone:
                buttons.append(KeyboardButton(text=button.label, request_contact=True))
            elif button.payload:
                buttons.append(KeyboardButton(text=button.label))
                payloads[button.label] = button.payload
            # A link cannot live on a reply keyboard; such replies put it in the text.
        if buttons:
            rows.append(buttons)
    keyboard = ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    return keyboard, payloads


@functools.lru_cache(maxsize=64)
def standing_markup(keyboard: Keyboard) -> ReplyKeyboardMarkup | ReplyKeyboardRemove:
    """The standing keyboard as a persistent reply keyboard (or its removal).

    Its buttons send their labels as text; the dialog's word table knows them, so the
    channel keeps no map for them.
    """
    if not keyboard.rows:
        return ReplyKeyboardRemove(remove_keyboard=True)
    rows = [[KeyboardButton(text=button.label) for button in row] for row in keyboard.rows]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def carries_standing(reply: Reply) -> bool:
    """Whether the reply's message can carry the standing keyboard (no keyboard of its own)."""
    return reply.keyboard is not None and not any(
        button.payload or button.url or button.request_phone for button in reply.all_buttons()
    )


def _upload(
    chat_id: int,
    attachment: Attachment,
    as_photo: bool,
    caption: str | None,
    markup: Markup | None,
    paid: bool | None,
) -> TelegramMethod:
    file = BufferedInputFile(attachment.content, filename=attachment.filename)
    if as_photo:
        return SendPhoto(
            chat_id=chat_id,
            photo=file,
            caption=caption,
            reply_markup=markup,
            allow_paid_broadcast=paid,
        )
    return SendDocument(
        chat_id=chat_id,
        document=file,
        caption=caption,
        reply_markup=markup,
        allow_paid_broadcast=paid,
    )


def render(
    chat_id: int,
    reply: Reply,
    *,
    edit_message_id: int | None = None,
    remove_keyboard: bool = False,
    paid: bool = False,
) -> Rendered:
    """The calls that show `reply` in the chat.

    `edit_message_id` is the bot's previous message, edited in place when the reply asks
    to replace it and is plain text with inline buttons. `remove_keyboard` hides a reply
    keyboard shown earlier when this reply has no keyboard of its own. `paid` sends with
    allow_paid_broadcast (up to 1,000 a second, 0.1 Star each from the bot's balance).
    """
    paid_flag = True if paid else None  # None: the parameter is left out of the call
    rendered = Rendered()
    markup: Markup | None
    if any(button.request_phone for button in reply.all_buttons()):
        markup, rendered.keyboard_payloads = contact_keyboard(reply)
        links = [button for button in reply.all_buttons() if button.url]
        text = "\n".join([reply.text, *(f"{b.label}: {b.url}" for b in links)])
    else:
        markup = inline_markup(reply)
        text = reply.text
        if markup is None and reply.keyboard is not None:
            markup = standing_markup(reply.keyboard)
            rendered.standing = reply.keyboard
        elif markup is None and remove_keyboard:
            markup = ReplyKeyboardRemove(remove_keyboard=True)
            rendered.removes_keyboard = True
    uploads = [
        (attachment, as_photo)
        for attachment, as_photo in ((reply.image, True), (reply.document, False))
        if attachment is not None
    ]
    if not uploads:
        pieces = split_text(text, TEXT_LIMIT)
        if (
            reply.replaces_previous
            and not paid
            and edit_message_id is not None
            and len(pieces) == 1
            and (markup is None or isinstance(markup, InlineKeyboardMarkup))
        ):
            rendered.calls.append(
                EditMessageText(
                    chat_id=chat_id, message_id=edit_message_id, text=text, reply_markup=markup
                )
            )
            return rendered
        for number, piece in enumerate(pieces, start=1):
            last = number == len(pieces)
            rendered.calls.append(
                SendMessage(
                    chat_id=chat_id,
                    text=piece,
                    reply_markup=markup if last else None,
                    allow_paid_broadcast=paid_flag,
                )
            )
        return rendered
    caption: str | None = text if text and len(text) <= CAPTION_LIMIT else None
    if text and caption is None:
        rendered.calls.extend(
            SendMessage(chat_id=chat_id, text=piece, allow_paid_broadcast=paid_flag)
            for piece in split_text(text, TEXT_LIMIT)
        )
    for number, (attachment, as_photo) in enumerate(uploads, start=1):
        last = number == len(uploads)
        rendered.calls.append(
            _upload(
                chat_id,
                attachment,
                as_photo,
                caption if number == 1 else None,
                markup if last else None,
                paid_flag,
            )
        )
    return rendered
