"""The menu tree and the buttons many flows share.

The main menu is short: the sections people use, the frequent ones first; the rarer
sections sit one level down, as the buttons of the section's own answer (`SECTIONS`).
Telegram and Viber keep the top actions in view on a standing keyboard; Messenger has them
in its persistent menu. Every label is also a word: typing it (or pressing a keyboard
button that sends it as text) leads to its action through the dialog's word table.
"""

from __future__ import annotations

from collections.abc import Mapping
from weakref import WeakKeyDictionary

from bot.i18n import Translator
from bot.messages import Button, Keyboard

# (message id of the label, payload): the main menu, two buttons a row.
MAIN_MENU: tuple[tuple[str, str], ...] = (
    ("menu.top.read", "read"),
    ("menu.top.balance", "bal"),
    ("menu.top.pay", "pay"),
    ("menu.top.schedule", "sched"),
    ("menu.top.accounts", "accs"),
    ("menu.top.requests", "reqs"),
    ("menu.top.settings", "set"),
    ("menu.top.help", "help"),
)


def menu_commands(commands: Mapping[str, str]) -> tuple[str, ...]:
    """The command list a messenger shows (Telegram's "/" menu): /start, /menu and the main
    menu's sections, each by the first command the router registered for its action
    (`commands`: the router's command → action)."""
    first: dict[str, str] = {}
    for command, action in commands.items():
        first.setdefault(action, command)
    wanted = ("start", "menu", *(payload for _, payload in MAIN_MENU))
    return tuple(first[action] for action in wanted if action in first)


# For a person with no account yet, adding one takes the place of "my accounts".
LINK_ENTRY = ("menu.top.link", "link")

# The top actions that stay in view (Telegram, Viber), in rows.
STANDING: tuple[tuple[tuple[str, str], ...], ...] = (
    (("menu.top.read", "read"), ("menu.top.balance", "bal"), ("menu.top.pay", "pay")),
    (("menu.top.schedule", "sched"), ("menu.back", "menu")),
)

# One level down: what each section's answer offers besides its own action. Payloads take
# the account id where the action is about one account (`pays:12`).
SECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "read": (
        ("menu.history", "hist"),
        ("menu.consumption", "cons"),
        ("menu.chart", "chart"),
        ("menu.meter", "meter"),
        ("menu.calc", "calc"),
    ),
    "bal": (
        ("menu.pay", "pay"),
        ("menu.payments", "pays"),
        ("menu.bills", "bills"),
        ("menu.info", "info"),
    ),
    "reqs": (
        ("menu.call_center", "cc"),
        ("menu.free_services", "free"),
        ("menu.support", "sup"),
    ),
}

# Labels of the earlier, longer menu and of sub-entries: still understood when typed.
SUB_ENTRIES: tuple[tuple[str, str], ...] = (
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
    ("menu.calc", "calc"),
    # Named in the help by their labels, so they work typed too.
    ("pay.by_transfer", "payqr"),
    ("schedule.picture", "schpng"),
    ("schedule.outages", "out"),
    ("schedule.settings_button", "schset"),
    ("settings.profile", "prof"),
    ("settings.notifications", "np"),
    ("settings.language", "lang"),
    ("settings.join", "join"),
    ("settings.have_code", "code"),
    ("settings.delete", "del"),
)

# Words people type for a section, in any step that does not expect words itself.
FREE_WORDS: tuple[tuple[str, str], ...] = (
    ("words.read", "read"),
    ("words.balance", "bal"),
    ("words.pay", "pay"),
    ("words.schedule", "sched"),
    ("words.outages", "out"),
    ("words.help", "help"),
    ("words.accounts", "accs"),
    ("words.requests", "reqs"),
    ("words.settings", "set"),
)

# Words that leave any step, also one that expects words (a call-centre message): the
# way back, and the standing keyboard's labels (a keyboard press arrives as its label).
EXITS: tuple[tuple[str, str], ...] = (
    ("words.menu", "menu"),
    *MAIN_MENU,
    LINK_ENTRY,
    ("menu.back", "menu"),
)

# Every word and label the dialog maps to an action.
WORDS: tuple[tuple[str, str], ...] = (
    *EXITS,
    *SUB_ENTRIES,
    *FREE_WORDS,
    ("words.start", "start"),
    ("consent.agree", "consent:yes"),
    ("consent.decline", "consent:no"),
)


_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "‘": "'"})
# Emoji come with a variation selector on some keyboards and without on others.
_INVISIBLE = dict.fromkeys(map(ord, "\ufe0e\ufe0f\u200d"), None)


def label_key(text: str) -> str:
    """A label as pressed or typed: case, apostrophes and spacing do not matter."""
    return " ".join(text.translate(_INVISIBLE).casefold().translate(_APOSTROPHES).split())


def word_key(text: str) -> str:
    """A typed word as people type it: also without punctuation, quotes and emoji.

    "Покази!", "«баланс»", "скільки платити?" and "💰 Баланс" all become plain words.
    """
    kept = (
        char if char.isalnum() or char in "'-" else " "
        for char in label_key(text).replace("-", " - ")
    )
    return " ".join(part.strip("'-") for part in "".join(kept).split() if part.strip("'-"))


def said(t: Translator, message_id: str, text: str) -> bool:
    """Whether `text` is one of the words of `message_id` ("так", "yes") in any language."""
    typed = word_key(text)
    return bool(typed) and any(
        typed == word_key(word)
        for texts in t.texts.values()
        for word in texts.get(message_id, "").split("|")
    )


def menu_button(t: Translator) -> Button:
    """The "Меню" button that leaves any flow."""
    return Button(t("menu.back"), "menu")


# Built once per translator (buttons are immutable; the rows handed out are fresh lists).
_main_menus: WeakKeyDictionary[Translator, dict[bool, tuple[tuple[Button, ...], ...]]] = (
    WeakKeyDictionary()
)
_standing: WeakKeyDictionary[Translator, Keyboard] = WeakKeyDictionary()


def main_menu(t: Translator, *, has_accounts: bool = True) -> list[list[Button]]:
    """The short main menu, two buttons a row; "add an account" first for a newcomer."""
    menus = _main_menus.setdefault(t, {})
    rows = menus.get(has_accounts)
    if rows is None:
        entries = list(MAIN_MENU)
        if not has_accounts:
            entries.remove(("menu.top.accounts", "accs"))
            entries.insert(0, LINK_ENTRY)
        buttons = [Button(t(label), payload) for label, payload in entries]
        rows = menus[has_accounts] = tuple(
            tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)
        )
    return [list(row) for row in rows]


def standing_keyboard(t: Translator) -> Keyboard:
    """The top actions kept in view on Telegram and Viber."""
    keyboard = _standing.get(t)
    if keyboard is None:
        rows = tuple(tuple(Button(t(label), payload) for label, payload in row) for row in STANDING)
        keyboard = _standing[t] = Keyboard(rows, t("keyboard.hint"))
    return keyboard


NO_KEYBOARD = Keyboard()
"""Takes a standing keyboard away (before consent, after "delete my data")."""


def section_rows(
    t: Translator, section: str, account_id: int | None = None, skip: tuple[str, ...] = ()
) -> list[list[Button]]:
    """A section's entries one level down, two a row; `account_id` goes into their payloads;
    entries whose payload is in `skip` are left out (offered elsewhere on the screen)."""
    suffix = f":{account_id}" if account_id is not None else ""
    buttons = [
        Button(t(label), payload + suffix)
        for label, payload in SECTIONS[section]
        if payload not in skip
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def with_menu(t: Translator, *rows: list[Button]) -> list[list[Button]]:
    """The given rows, then a row with the menu button."""
    return [*rows, [menu_button(t)]]
