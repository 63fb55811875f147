"""Buttons shared by many flows: the main menu and the way back to it."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from bot.i18n import Translator
from bot.messages import Button

# (message id of the label, payload): the main menu, two buttons a row. The same pairs
# let people type a label instead of pressing it.
MAIN_MENU: tuple[tuple[str, str], ...] = (
    ("menu.read", "read"),
    ("menu.balance", "bal"),
    ("menu.info", "info"),
    ("menu.payments", "pays"),
    ("menu.history", "hist"),
    ("menu.consumption", "cons"),
    ("menu.meter", "meter"),
    ("menu.chart", "chart"),
    ("menu.bills", "bills"),
    ("menu.pay", "pay"),
    ("menu.call_center", "cc"),
    ("menu.free_services", "free"),
    ("menu.outages", "out"),
    ("menu.schedule", "sched"),
    ("menu.support", "sup"),
    ("menu.accounts", "accs"),
    ("menu.link", "link"),
    ("menu.settings", "set"),
    ("menu.help", "help"),
)

# Words that mean "take me back" in any step.
WORDS: tuple[tuple[str, str], ...] = (
    *MAIN_MENU,
    ("menu.calc", "calc"),
    ("words.menu", "menu"),
    ("words.start", "start"),
    ("consent.agree", "consent:yes"),
    ("consent.decline", "consent:no"),
)


def menu_button(t: Translator) -> Button:
    """The "Меню" button that leaves any flow."""
    return Button(t("menu.back"), "menu")


# Nearly every reply ends with the main menu; its buttons are made once per translator
# (buttons are immutable; the rows handed out are fresh lists).
_main_menus: WeakKeyDictionary[Translator, tuple[tuple[Button, ...], ...]] = WeakKeyDictionary()


def main_menu(t: Translator) -> list[list[Button]]:
    """The main menu, two buttons a row."""
    rows = _main_menus.get(t)
    if rows is None:
        buttons = [Button(t(label), payload) for label, payload in MAIN_MENU]
        rows = _main_menus[t] = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return [list(row) for row in rows]


def with_menu(t: Translator, *rows: list[Button]) -> list[list[Button]]:
    """The given rows, then a row with the menu button."""
    return [*rows, [menu_button(t)]]
