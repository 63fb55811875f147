"""Long lists in chat: one page at a time, with ◀ ▶ buttons that edit the same message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.i18n import Translator
from bot.messages import Button

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The items of one page and where it sits."""

    items: Sequence[T]
    number: int
    count: int

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count


def page_of(items: Sequence[T], number: int, size: int) -> Page[T]:
    """Page `number` (0-based, clamped into range) of `items`."""
    count = max(1, -(-len(items) // size))
    number = min(max(0, number), count - 1)
    return Page(items[number * size : (number + 1) * size], number, count)


def parse_page(argument: str) -> tuple[str, int]:
    """ "12:3" → ("12", 3); "12" → ("12", 0). The page number is the last field."""
    head, _, tail = argument.rpartition(":")
    if head and tail.isdigit():
        return head, int(tail)
    return argument, 0


def page_buttons(t: Translator, page: Page, action: str, argument: str) -> list[Button]:
    """◀ / ▶ buttons for the neighbouring pages (payload `action:argument:page`)."""
    buttons = []
    if page.has_previous:
        buttons.append(Button(t("paging.previous"), f"{action}:{argument}:{page.number - 1}"))
    if page.has_next:
        buttons.append(Button(t("paging.next"), f"{action}:{argument}:{page.number + 1}"))
    return buttons


def page_footer(t: Translator, page: Page) -> str:
    """ "Сторінка 2 з 5" when there is more than one page, else nothing."""
    return t("paging.footer", number=page.number + 1, count=page.count) if page.count > 1 else ""
