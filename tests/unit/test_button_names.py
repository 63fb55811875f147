"""Texts that name a button name one that exists, and the help names every menu entry.

A text quotes a button's label («Сплатити», "Pay") to say what to press; a quote of a label
that no flow offers (an old menu's "Приєднати рахунок") sends people looking for nothing.
The real labels are read from the code: every text id a `Button(...)` is built from, and
the menu tables of `bot.menu`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.i18n import SUPPORTED_LOCALES, Catalogues, Translator
from bot.menu import LINK_ENTRY, MAIN_MENU, SECTIONS, STANDING, SUB_ENTRIES
from core.model import Zone
from core.requests import RequestRules

BOT = Path(__file__).resolve().parents[2] / "bot"

# Quoted words that are no button: what people may type, and names of things.
NOT_BUTTONS = {
    "uk": {"Про захист персональних даних", "/", "-"},
    "en": {"On Personal Data Protection", "/", "-", "start"},
}
QUOTES = {"uk": re.compile(r"«([^«»]+)»"), "en": re.compile(r"\"([^\"]+)\"|“([^”]+)”")}


def _button_label_ids() -> set[str]:
    """Text ids a `Button(...)` label is made of anywhere in the bot, and the menu tables."""
    ids: set[str] = set()
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Button"):
                continue
            label = node.args[0] if node.args else None
            for inner in ast.walk(label) if label is not None else ():
                if (
                    isinstance(inner, ast.Call)
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                    and isinstance(inner.args[0].value, str)
                    and "." in inner.args[0].value
                ):
                    ids.add(inner.args[0].value)
    tables = [*MAIN_MENU, LINK_ENTRY, *SUB_ENTRIES, *(e for row in STANDING for e in row)]
    tables += [entry for entries in SECTIONS.values() for entry in entries]
    ids |= {message_id for message_id, _ in tables}
    rules = RequestRules()
    ids |= {f"cc_type.{key}" for key in rules.call_center_types}
    ids |= {f"free_type.{key}" for key in rules.free_service_types}
    ids |= {f"sup_type.{key}" for key in rules.support_types}
    return ids


def _labels(t: Translator, ids: set[str]) -> set[str]:
    return {t(message_id) for message_id in ids if message_id in t.texts[t.locale]}


def _typed_words(t: Translator) -> set[str]:
    """Words people may type (the `words.*` lists), and the zones' names."""
    words = {
        word
        for message_id, text in t.texts[t.locale].items()
        if message_id.startswith("words.")
        for word in text.split("|")
    }
    return words | {t.zone(zone) for zone in Zone}


def _all_texts(catalogues: Catalogues, locale: str) -> dict[str, str]:
    t = catalogues.translator(locale)
    texts = dict(t.texts[locale])
    for message_id in catalogues.plural_ids(locale):
        for count in (1, 2, 5):
            texts[f"{message_id}[{count}]"] = t.n(message_id, count)
    return texts


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues()


def test_the_code_has_buttons_to_find() -> None:
    ids = _button_label_ids()
    assert {"menu.top.settings", "settings.notifications", "draft.send", "consent.agree"} <= ids


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_quoted_label_is_a_real_button_or_a_word(catalogues: Catalogues, locale: str) -> None:
    t = catalogues.translator(locale)
    known = _labels(t, _button_label_ids()) | _typed_words(t) | NOT_BUTTONS[locale]
    known |= {"Українська", "English"}  # the language buttons, in both languages on purpose
    wrong = []
    quoted = 0
    for message_id, text in _all_texts(catalogues, locale).items():
        if message_id.startswith("words."):
            continue
        for match in QUOTES[locale].finditer(text):
            name = next(group for group in match.groups() if group)
            if "{" in name:  # a value filled in ("«{type}»"), not a label
                continue
            quoted += 1
            if name not in known and name.lower() not in known:
                wrong.append(f"{message_id}: {name}")
    assert quoted > 40
    assert not wrong, wrong


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_no_menu_paths_without_quotes(catalogues: Catalogues, locale: str) -> None:
    """ "Меню → Налаштування повідомлень" named no button; a path quotes each step.

    An arrow after a number or a value is arithmetic or a change ("19 700 → спожито",
    "{old} → {new}"); between words it is a path, and both sides must be quoted labels.
    """
    for message_id, text in _all_texts(catalogues, locale).items():
        for arrow in re.finditer(" → ", text):
            before, after = text[arrow.start() - 1], text[arrow.end()]
            if before.isdigit() or before == "}":
                continue
            assert before in '»"”' and after in '«"“', (locale, message_id, text)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_help_names_every_menu_entry_and_what_lies_below(
    catalogues: Catalogues, locale: str
) -> None:
    t = catalogues.translator(locale)
    help_text = t("help.text")
    quote = "«{}»" if locale == "uk" else '"{}"'
    settings = (
        "settings.profile",
        "settings.notifications",
        "settings.language",
        "settings.join",
        "settings.have_code",
        "settings.delete",
    )
    below = [message_id for entries in SECTIONS.values() for message_id, _ in entries]
    schedule = ("schedule.picture", "schedule.outages", "schedule.settings_button")
    entries = [label for label, _ in MAIN_MENU] + [LINK_ENTRY[0]]
    for message_id in [*entries, *below, *settings, *schedule, "pay.by_transfer"]:
        assert quote.format(t(message_id)) in help_text, message_id


def test_no_nested_brackets(catalogues: Catalogues) -> None:
    """ "Покази (Зона 1 (день))" is hard to read; one level of brackets at most."""
    for locale in SUPPORTED_LOCALES:
        for message_id, text in _all_texts(catalogues, locale).items():
            depth = 0
            for char in text:
                depth += {"(": 1, ")": -1}.get(char, 0)
                assert depth <= 1, (locale, message_id)
