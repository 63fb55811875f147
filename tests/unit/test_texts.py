"""Every text the bot shows exists in both catalogues, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot.handlers.keyboards import WORDS
from bot.handlers.settings import TOPICS
from bot.i18n import SUPPORTED_LOCALES, Catalogues, pick_locale
from core.model import Channel, OutageKind, ReadingSource, RequestStatus, TariffPlan, Zone
from core.photo_reading import PhotoProblem
from core.requests import RequestRules

BOT = Path(__file__).resolve().parents[2] / "bot"


def _used_message_ids() -> set[str]:
    """Literal first arguments of calls to `t(...)` / `ctx.t(...)` / `self("...")` and of
    plural texts `t.n("...", count)`."""
    ids: set[str] = set()
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in ("t", "self", "n")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                ids.add(first.value)
    ids |= {message_id for message_id, _ in WORDS}
    ids |= {f"zone.{zone.value}" for zone in Zone}
    ids |= {f"link.bad_eic.{reason}" for reason in ("length", "checksum", "format")}
    ids |= {f"status.{status.value}" for status in RequestStatus}
    ids |= {f"channel.{channel.value}" for channel in Channel}
    ids |= {f"source.{source.value}" for source in ReadingSource}
    ids |= {f"plan.{plan.value}" for plan in TariffPlan}
    ids |= {f"outages.{kind.value}" for kind in OutageKind}
    ids |= {f"prefs.{topic}" for topic in TOPICS}
    ids |= {f"photo.problem.{problem.value}" for problem in PhotoProblem}
    rules = RequestRules()
    ids |= {f"cc_type.{key}" for key in rules.call_center_types}
    ids |= {f"free_type.{key}" for key in rules.free_service_types}
    ids |= {f"sup_type.{key}" for key in rules.support_types}
    return ids


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues()


def test_code_uses_only_known_texts(catalogues: Catalogues) -> None:
    used = _used_message_ids()
    assert len(used) > 50
    for locale in SUPPORTED_LOCALES:
        missing = used - catalogues.message_ids(locale)
        assert not missing, f"{locale} lacks {sorted(missing)}"


def test_catalogues_have_the_same_ids_and_placeholders(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert catalogues.message_ids("uk") == catalogues.message_ids("en")
    assert catalogues.plural_ids("uk") == catalogues.plural_ids("en")
    formatter = string.Formatter()
    for message_id in catalogues.message_ids("uk") - catalogues.plural_ids("uk"):
        fields_uk = {f for _, f, _, _ in formatter.parse(uk(message_id)) if f}
        fields_en = {f for _, f, _, _ in formatter.parse(en(message_id)) if f}
        assert fields_uk == fields_en, message_id


def test_no_ukrainian_words_in_english(catalogues: Catalogues) -> None:
    en = catalogues.translator("en")
    cyrillic = re.compile("[а-яіїєґ]", re.IGNORECASE)
    # The language switch is bilingual on purpose: it must be found in either language,
    # also where a text names its button (help).
    bilingual = {"language.choose", "settings.language"}
    plural = catalogues.plural_ids("en")
    for message_id in catalogues.message_ids("en") - bilingual:
        if message_id in plural:
            text = en.n(message_id, 1) + en.n(message_id, 2)
        else:
            text = en(message_id).replace(en("settings.language"), "")
        assert not cyrillic.search(text), message_id


@pytest.mark.parametrize(
    ("candidates", "locale"),
    [
        ((None,), "uk"),
        (("en-US",), "en"),
        (("de", "en"), "en"),
        (("ru",), "uk"),
        (("uk_UA",), "uk"),
    ],
)
def test_pick_locale_defaults_to_ukrainian(candidates: tuple[str | None, ...], locale: str) -> None:
    assert pick_locale(*candidates) == locale


def test_plural_texts_follow_each_language_rule(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert [uk.n("count.digits", n) for n in (1, 4, 6, 11, 21, 22, 25)] == [
        "1 цифра",
        "4 цифри",
        "6 цифр",
        "11 цифр",
        "21 цифра",
        "22 цифри",
        "25 цифр",
    ]
    assert [en.n("count.digits", n) for n in (1, 4)] == ["1 digit", "4 digits"]
    assert uk.n("count.hours", 1) == "1 година"


def test_every_plural_form_formats_with_its_count_alone(catalogues: Catalogues) -> None:
    formatter = string.Formatter()
    for message_id in catalogues.plural_ids("uk"):
        fields = set()
        for locale in SUPPORTED_LOCALES:
            for count in range(0, 30):
                text = catalogues.translator(locale).n(message_id, count)
                fields.add(frozenset(f for _, f, _, _ in formatter.parse(text) if f))
        assert fields == {frozenset()}, message_id


def test_moments_read_naturally(catalogues: Catalogues) -> None:
    from datetime import datetime

    moment = datetime(2026, 12, 7, 6, 0)
    assert catalogues.translator("uk").moment(moment) == "07.12.2026 о 06:00"
    assert catalogues.translator("en").moment(moment) == "07.12.2026 at 06:00"
