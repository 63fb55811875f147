"""Every text the bot shows exists in both catalogues, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.handlers.settings import TOPICS
from bot.i18n import SUPPORTED_LOCALES, Catalogues, pick_locale
from bot.menu import WORDS
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
    ids |= {f"zone.of.{zone.value}" for zone in Zone}
    ids |= {f"count.outages.{kind.value}" for kind in OutageKind}
    ids |= {"push.outage.group", "push.outage.groups"}
    ids |= {"schedule.outages_also", "schedule.outages_also_many"}
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
    moment = datetime(2026, 12, 7, 6, 0)
    assert catalogues.translator("uk").moment(moment) == "07.12.2026 о 06:00"
    assert catalogues.translator("en").moment(moment) == "07.12.2026 at 06:00"


@pytest.mark.parametrize(
    ("starts", "ends", "uk", "en"),
    [
        (
            datetime(2026, 12, 1, 10, 0),
            datetime(2026, 12, 1, 17, 0),
            "01.12.2026 з 10:00 до 17:00",
            "01.12.2026 from 10:00 to 17:00",
        ),
        (
            datetime(2026, 12, 1, 22, 0),
            datetime(2026, 12, 2, 6, 0),
            "з 01.12.2026 22:00 до 02.12.2026 06:00",
            "from 01.12.2026 22:00 to 02.12.2026 06:00",
        ),
        (  # an end at midnight closes the day it began
            datetime(2026, 12, 1, 20, 0),
            datetime(2026, 12, 2, 0, 0),
            "01.12.2026 з 20:00 до 24:00",
            "01.12.2026 from 20:00 to 24:00",
        ),
        (
            datetime(2026, 12, 31, 23, 0),
            datetime(2027, 1, 3, 0, 0),
            "з 31.12.2026 23:00 до 03.01.2027 00:00",
            "from 31.12.2026 23:00 to 03.01.2027 00:00",
        ),
    ],
)
def test_spans_read_naturally(
    catalogues: Catalogues, starts: datetime, ends: datetime, uk: str, en: str
) -> None:
    assert catalogues.translator("uk").span(starts, ends) == uk
    assert catalogues.translator("en").span(starts, ends) == en


def test_every_count_has_its_forms(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert [uk.n("count.minutes", n) for n in (1, 2, 5, 15, 21, 30)] == [
        "1 хвилина",
        "2 хвилини",
        "5 хвилин",
        "15 хвилин",
        "21 хвилина",
        "30 хвилин",
    ]
    assert [uk.n("count.characters", n) for n in (1, 3, 12, 10_000)] == [
        "1 символ",
        "3 символи",
        "12 символів",
        "10 000 символів",
    ]
    assert [uk.n("count.months", n) for n in (1, 2, 10, 12)] == [
        "1 місяць",
        "2 місяці",
        "10 місяців",
        "12 місяців",
    ]
    assert [uk.n("count.outages.planned", n) for n in (1, 2, 5)] == [
        "1 планове відключення",
        "2 планові відключення",
        "5 планових відключень",
    ]
    assert uk.n("count.outages.emergency", 22) == "22 аварійні відключення"
    assert uk.n("accounts.title", 2) == "У вас 2 особові рахунки. Оберіть рахунок:"
    assert [en.n("count.minutes", n) for n in (1, 30)] == ["1 minute", "30 minutes"]
    assert en.n("count.outages.planned", 1) == "1 planned outage"
    assert en.n("accounts.title", 3) == "You have 3 accounts. Choose one:"


def test_hours_whole_and_in_part(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert [uk.hours(h) for h in (1, 2, 3.0, 5, 0.5, 4.5, 21)] == [
        "1 година",
        "2 години",
        "3 години",
        "5 годин",
        "0,5 години",
        "4,5 години",
        "21 година",
    ]
    assert [en.hours(h) for h in (1, 2, 0.5, 4.5)] == [
        "1 hour",
        "2 hours",
        "0.5 hours",
        "4.5 hours",
    ]


def test_months_in_a_sentence(catalogues: Catalogues) -> None:
    assert catalogues.translator("uk").month("2026-10") == "жовтень 2026"
    assert catalogues.translator("uk").month("2027-01") == "січень 2027"
    assert catalogues.translator("en").month("2026-10") == "October 2026"
    # Lists and tables keep the short form.
    assert catalogues.translator("uk").period("2026-10") == "10.2026"


def test_a_one_zone_reading_names_no_zone(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert uk.values({Zone.DAY: 19649}) == "19 649"
    assert en.values({Zone.DAY: 19649}) == "19,649"
    two = {Zone.NIGHT: 13826, Zone.DAY: 26175}
    # In the meter's order, with the zones' short names.
    assert uk.values(two, (Zone.DAY, Zone.NIGHT)) == "день 26 175, ніч 13 826"
    assert en.values(two, (Zone.DAY, Zone.NIGHT)) == "day 26,175, night 13,826"
    three = {Zone.PEAK: 1000, Zone.HALF_PEAK: 2000, Zone.NIGHT: 3000}
    assert uk.values(three) == "пік 1 000, напівпік 2 000, ніч 3 000"
    # One zone of several is named.
    assert uk.values({Zone.DAY: 8480}, named=True) == "день 8 480"
    assert uk("reading.ask_zone", zone=uk.zone_of(Zone.NIGHT)).startswith(
        "Введіть поточні покази нічної зони"
    )
    assert en("reading.ask_zone", zone=en.zone_of(Zone.NIGHT)).startswith(
        "Enter the current reading of the night zone"
    )


def test_prices_keep_their_places(catalogues: Catalogues) -> None:
    uk, en = catalogues.translator("uk"), catalogues.translator("en")
    assert uk.price(Decimal("4.32")) == "4,32 грн"
    assert uk.price(Decimal("4.3200")) == "4,32 грн"
    assert uk.price(Decimal("1.728")) == "1,728 грн"
    assert uk.price(Decimal("6.48")) == "6,48 грн"
    assert uk.price(Decimal("2")) == "2,00 грн"
    assert en.price(Decimal("1.728")) == "UAH 1.728"
