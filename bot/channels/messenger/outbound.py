"""Neutral replies → Send API messages: quick replies (paged behind "more"), button
templates, URL buttons, attachments by media URL; the persistent menu."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from bot.channels.base import (
    split_text,
)
from bot.channels.media import MediaStore
from bot.channels.messenger.inbound import MORE_PAYLOAD
from bot.i18n import SUPPORTED_LOCALES, Catalogues, Translator
from bot.menu import MAIN_MENU
from bot.messages import Button, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
TEMPLATE_TEXT_LIMIT = 640
QUICK_REPLIES_LIMIT = 13
TITLE_LIMIT = 20  # quick replies and template buttons
MENU_TITLE_LIMIT = 30  # persistent menu items
MENU_ITEMS_LIMIT = 20
TEMPLATE_BUTTONS_LIMIT = 3
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
# Messenger locales that get the English persistent menu; "default" is Ukrainian.
ENGLISH_LOCALES = ("en_US", "en_GB")


def shorten(label: str, limit: int = TITLE_LIMIT) -> str:
    """A title within `limit` characters: whole words and "…" when it must be cut."""
    label = label.strip()
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-—–(") + "…"


def quick_replies(choices: list[Button], phone: Button | None) -> list[dict[str, Any]]:
    """Quick replies for one page (the caller keeps it within the limit)."""
    replies: list[dict[str, Any]] = []
    if phone is not None:
        replies.append({"content_type": "user_phone_number"})
    for button in choices:
        replies.append(
            {"content_type": "text", "title": shorten(button.label), "payload": button.payload}
        )
    return replies


def pages_of(choices: list[Button], first_room: int) -> list[list[Button]]:
    """Choices cut into pages; every page but the last leaves room for "more"."""
    pages: list[list[Button]] = []
    rest = list(choices)
    room = first_room
    while len(rest) > room:
        pages.append(rest[: room - 1])
        rest = rest[room - 1 :]
        room = QUICK_REPLIES_LIMIT
    pages.append(rest)
    return pages


def numbered(buttons: list[Button]) -> tuple[list[Button], list[str]]:
    """Buttons whose labels are too long get a number; the legend gives their full label.

    A cut title can lose what tells choices apart ("✅ Планові відключен…"), so the
    message lists such choices in full and the button shows the number first.
    """
    legend: list[str] = []
    result: list[Button] = []
    for button in buttons:
        if len(button.label) > TITLE_LIMIT and not button.request_phone:
            legend.append(f"{len(legend) + 1}. {button.label}")
            button = replace(button, label=f"{len(legend)}. {button.label}")
        result.append(button)
    return result, legend


def _template_button(button: Button) -> dict[str, Any]:
    if button.url:
        return {"type": "web_url", "url": button.url, "title": shorten(button.label)}
    return {"type": "postback", "title": shorten(button.label), "payload": button.payload}


@dataclass
class Rendered:
    """The Send API `message` objects of one reply, and choices left for "more"."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    more: list[list[Button]] = field(default_factory=list)


def render(reply: Reply, media: MediaStore, t: Translator) -> Rendered:
    """The messages that show `reply` in Messenger."""
    rendered = Rendered()
    buttons, legend = numbered(reply.all_buttons())
    links = [b for b in buttons if b.url]
    choices = [b for b in buttons if b.payload and not b.url and not b.request_phone]
    phone = next((b for b in buttons if b.request_phone), None)
    for button in buttons:
        if not (button.url or button.payload or button.request_phone):
            log.warning("messenger: button %r has neither payload nor link: left out", button.label)
    text = "\n\n".join(part for part in (reply.text.strip(), "\n".join(legend)) if part)
    # Up to three choices (with the links) stay in the chat as template buttons; more, or
    # a phone request, become quick replies.
    template_choices = (
        phone is None and bool(choices) and len(links) + len(choices) <= TEMPLATE_BUTTONS_LIMIT
    )
    messages = rendered.messages
    attachments = [
        ("image", reply.image),
        ("file", reply.document),
    ]
    template_buttons: list[Button] = []
    if links or template_choices:
        template_buttons = links + (choices if template_choices else [])
    pieces = split_text(text, TEXT_LIMIT) if text else []
    template_text = ""
    if template_buttons:
        # The last piece of text carries the buttons when it fits a template.
        if pieces and len(pieces[-1]) <= TEMPLATE_TEXT_LIMIT and not any(a for _, a in attachments):
            template_text = pieces.pop()
        else:
            template_text = t("messenger.choose")
    messages.extend({"text": piece} for piece in pieces)
    for kind, attachment in attachments:
        if attachment is not None:
            url = media.url_for(attachment)
            messages.append(
                {"attachment": {"type": kind, "payload": {"url": url, "is_reusable": False}}}
            )
    for start in range(0, len(template_buttons), TEMPLATE_BUTTONS_LIMIT):
        group = template_buttons[start : start + TEMPLATE_BUTTONS_LIMIT]
        messages.append(
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": template_text if start == 0 else t("messenger.more_links"),
                        "buttons": [_template_button(b) for b in group],
                    },
                }
            }
        )
    if not template_choices and (choices or phone is not None):
        first_room = QUICK_REPLIES_LIMIT - (1 if phone is not None else 0)
        pages = pages_of(choices, first_room)
        page = quick_replies(pages[0], phone)
        if len(pages) > 1:
            page.append(
                {"content_type": "text", "title": t("messenger.more"), "payload": MORE_PAYLOAD}
            )
            rendered.more = pages[1:]
        if not messages:
            messages.append({"text": t("messenger.choose")})
        messages[-1]["quick_replies"] = page
    if not messages:
        messages.append({"text": "…"})
    return rendered


def more_page(pages: list[list[Button]], t: Translator) -> Rendered:
    """The next page of quick replies after "more"."""
    rendered = Rendered()
    page = quick_replies(pages[0], None)
    if len(pages) > 1:
        page.append({"content_type": "text", "title": t("messenger.more"), "payload": MORE_PAYLOAD})
        rendered.more = pages[1:]
    rendered.messages.append({"text": t("messenger.more_text"), "quick_replies": page})
    return rendered


def persistent_menu(catalogues: Catalogues) -> list[dict[str, Any]]:
    """The main menu as the persistent menu: Ukrainian by default, English for en locales."""

    def items(t: Translator) -> list[dict[str, Any]]:
        return [
            {"type": "postback", "title": shorten(t(label), MENU_TITLE_LIMIT), "payload": payload}
            for label, payload in MAIN_MENU[:MENU_ITEMS_LIMIT]
        ]

    menus = [
        {
            "locale": "default",
            "composer_input_disabled": False,
            "call_to_actions": items(catalogues.translator("uk")),
        }
    ]
    if "en" in SUPPORTED_LOCALES:
        english = items(catalogues.translator("en"))
        menus.extend(
            {"locale": locale, "composer_input_disabled": False, "call_to_actions": english}
            for locale in ENGLISH_LOCALES
        )
    return menus
