"""Texts the person sees, from gettext catalogues (Babel), and locale-aware formatting.

Flows ask for a text by its message id (`t("reading.accepted", kwh=130)`); the words live
in `bot/locales/<lang>/LC_MESSAGES/kabinet.po`. Ukrainian is the default; English is
complete. Catalogues are read once, when the composition root builds `Catalogues`.
"""

from __future__ import annotations

import datetime as dt
import gettext
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path

from babel.dates import get_month_names
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol, get_group_symbol, get_minus_sign_symbol

from core.model import Zone

DEFAULT_LOCALE = "uk"
SUPPORTED_LOCALES = ("uk", "en")
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "kabinet"

log = logging.getLogger(__name__)


def pick_locale(*candidates: str | None) -> str:
    """The first supported language among the candidates ("en-US" counts as "en"), else uk."""
    for candidate in candidates:
        if not candidate:
            continue
        language = candidate.replace("_", "-").split("-")[0].lower()
        if language in SUPPORTED_LOCALES:
            return language
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class LoadedCatalogue:
    """One locale's texts: plain ones, plural ones (every form), and the plural rule."""

    texts: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    plural_form: Callable[[int], int]


@dataclass(frozen=True)
class Plurals:
    """A locale's plural entries and the rule that picks a form for a count."""

    forms: dict[str, tuple[str, ...]]
    form_of: Callable[[int], int]


def load_catalogue(locale: str, directory: Path = LOCALES_DIR) -> LoadedCatalogue:
    """One locale's catalogue; untranslated entries are left out.

    A plural entry is keyed by its msgid (`msgid "count.digits"` with a `msgid_plural`);
    its forms are chosen by the catalogue's own `Plural-Forms` rule, as gettext does.
    """
    path = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    texts: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            forms = tuple(str(form) for form in message.string or ())
            if forms and all(forms):
                plurals[str(message.id[0])] = forms
        elif message.string:
            texts[str(message.id)] = str(message.string)
    return LoadedCatalogue(texts, plurals, gettext.c2py(catalogue.plural_expr))


class Catalogues:
    """All locales' texts, loaded once."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        loaded = {locale: load_catalogue(locale, directory) for locale in SUPPORTED_LOCALES}
        self._texts = {locale: catalogue.texts for locale, catalogue in loaded.items()}
        self._plurals = {
            locale: Plurals(catalogue.plurals, catalogue.plural_form)
            for locale, catalogue in loaded.items()
        }
        self._translators = {
            locale: Translator(locale, self._texts, self._plurals) for locale in self._texts
        }

    def message_ids(self, locale: str) -> set[str]:
        """Every message id a locale has a text for (plain and plural)."""
        return set(self._texts[locale]) | set(self._plurals[locale].forms)

    def plural_ids(self, locale: str) -> set[str]:
        """The message ids of a locale's plural entries."""
        return set(self._plurals[locale].forms)

    def translator(self, locale: str) -> Translator:
        """Texts and formats for one person's language (one translator per language)."""
        return self._translators[pick_locale(locale)]


# eq=False: a translator is hashed by identity, so what is built from its texts (the main
# menu) can be kept per translator.
@dataclass(eq=False)
class Translator:
    """Looks up texts and formats numbers, money and dates for one locale."""

    locale: str
    texts: dict[str, dict[str, str]]
    plurals: dict[str, Plurals] = field(default_factory=dict)

    def __call__(self, message_id: str, **values: object) -> str:
        """The text of `message_id` with `{name}` placeholders filled from `values`."""
        text = self.texts[self.locale].get(message_id) or self.texts[DEFAULT_LOCALE].get(message_id)
        if text is None:
            log.error("no text for message id %r", message_id)
            return message_id
        return text.format(**values) if values else text

    def n(self, message_id: str, count: int, **values: object) -> str:
        """The plural text of `message_id` for `count` ("4 цифри", "6 цифр", "1 година").

        `{n}` in the text is the count, grouped like any number; other placeholders come
        from `values`.
        """
        for locale in (self.locale, DEFAULT_LOCALE):
            plurals = self.plurals.get(locale)
            forms = plurals.forms.get(message_id) if plurals else None
            if plurals and forms:
                form = forms[min(plurals.form_of(abs(count)), len(forms) - 1)]
                return form.format(n=self.number(count), **values)
        log.error("no plural text for message id %r", message_id)
        return f"{count} {message_id}"

    def label(self, prefix: str, key: str) -> str:
        """A configurable choice's label ("cc_type.unclear_bill"); an operator's own key
        with no text in the catalogues is shown as it is."""
        message_id = f"{prefix}.{key}"
        text = self.texts[self.locale].get(message_id) or self.texts[DEFAULT_LOCALE].get(message_id)
        return text or key

    def number(self, value: int) -> str:
        """A whole number with thousands grouped ("8 350" in Ukrainian)."""
        return self._decimal(value, 0)

    def money(self, amount: Decimal) -> str:
        """Hryvnias with kopecks: "561,60 грн" / "561.60 UAH"."""
        return self("fmt.money", amount=self._decimal(amount, 2))

    def kwh(self, value: int) -> str:
        """kWh with the unit."""
        return self("fmt.kwh", value=self.number(value))

    def date(self, value: date | datetime) -> str:
        """dd.mm.yyyy, as the manual prints dates."""
        return value.strftime("%d.%m.%Y")

    def datetime(self, value: datetime) -> str:
        """dd.mm.yyyy HH:MM, for tables and ranges."""
        return value.strftime("%d.%m.%Y %H:%M")

    # `dt.datetime` below: in this class `datetime` is the method above.
    def moment(self, value: dt.datetime) -> str:
        """A moment as people say it: "07.12.2026 о 06:00" / "07.12.2026 at 06:00"."""
        return self("fmt.datetime", date=value.strftime("%d.%m.%Y"), time=value.strftime("%H:%M"))

    def span(self, starts: dt.datetime, ends: dt.datetime) -> str:
        """A stretch of time as people say it.

        On one day: "01.12.2026 з 10:00 до 17:00"; across days: "з 01.12.2026 22:00 до
        02.12.2026 06:00". An end at midnight belongs to the day it closes ("з 22:00 до
        24:00"), as schedules print it. Both times in the zone the caller chose.
        """
        end_date, end_time = ends.date(), ends.strftime("%H:%M")
        if end_time == "00:00" and end_date == starts.date() + timedelta(days=1):
            end_date, end_time = starts.date(), "24:00"
        if end_date == starts.date():
            return self(
                "fmt.span_day",
                date=self.date(starts),
                starts=starts.strftime("%H:%M"),
                ends=end_time,
            )
        return self(
            "fmt.span_days",
            start_date=self.date(starts),
            start_time=starts.strftime("%H:%M"),
            end_date=self.date(end_date),
            end_time=end_time,
        )

    def hours(self, value: float) -> str:
        """A number of hours with its word: "1 година", "4 години", "3,5 години"."""
        if float(value).is_integer():
            return self.n("count.hours", int(value))
        # A fraction takes one form in both languages (CLDR "other"), which the integer
        # plural rule of gettext cannot pick.
        text = f"{value:g}".replace(".", _number_symbols(self.locale)[1])
        return self("count.hours_fraction", n=text)

    def period(self, period: str) -> str:
        """YYYY-MM as "11.2026" (manual fig. 3.1 "Період показів"): lists, tables, buttons."""
        year, month = period.split("-")
        return f"{month}.{year}"

    def month(self, period: str) -> str:
        """YYYY-MM as a month in a sentence: "жовтень 2026" / "October 2026"."""
        year, month = period.split("-")
        name = _month_names(self.locale)[int(month)]
        return self("fmt.month", month=name, year=year)

    def zone(self, zone: Zone) -> str:
        """A zone's short name: "день", "ніч", "пік", "напівпік" (lists, buttons, tables)."""
        return self(f"zone.{zone.value}")

    def zone_of(self, zone: Zone) -> str:
        """A zone named inside a sentence: "покази {нічної зони}" / "reading of {the night
        zone}"."""
        return self(f"zone.of.{zone.value}")

    def values(
        self, values: Mapping[Zone, int], zones: Iterable[Zone] = (), *, named: bool = False
    ) -> str:
        """Readings as people read them: "19 649" for a one-zone meter (no zone name at
        all), "день 26 175, ніч 13 826" for more zones, in the meter's order when `zones` is
        given; `named` names the zone of a single value too (one zone of several)."""
        order = [zone for zone in zones if zone in values] or list(values)
        if len(order) == 1 and not named:
            return self.number(values[order[0]])
        return ", ".join(
            self("fmt.zone_value", zone=self.zone(zone), value=self.number(values[zone]))
            for zone in order
        )

    def price(self, amount: Decimal) -> str:
        """A tariff price with as many kopeck places as it has (at least 2, at most 4):
        "4,32 грн", "1,728 грн" — so that kWh × price = amount can be checked."""
        exact = Decimal(amount).quantize(_PRICE_PLACES).normalize()
        exponent = exact.as_tuple().exponent
        places = min(4, max(2, -exponent if isinstance(exponent, int) else 2))
        return self("fmt.money", amount=self._decimal(exact, places))

    def _decimal(self, value: Decimal | int, places: int) -> str:
        group, point, minus = _number_symbols(self.locale)
        # Babel's own formatter parses the pattern on every call, which showed in the
        # profile of a balance turn; Python's grouping with the locale's symbols is the same.
        if places:
            value = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        text = f"{abs(value):,.{places}f}".replace(",", "\0").replace(".", point)
        sign = minus if value < 0 else ""
        return sign + text.replace("\0", group)


_PRICE_PLACES = Decimal("0.0001")


@cache
def _month_names(locale: str) -> dict[int, str]:
    """Month names as they stand alone ("жовтень", not the genitive "жовтня")."""
    return dict(get_month_names("wide", context="stand-alone", locale=locale))


@cache
def _number_symbols(locale: str) -> tuple[str, str, str]:
    """Group separator, decimal point and minus sign of a locale, as Babel knows them.

    Babel groups Ukrainian thousands with a no-break space; a plain space reads the same
    on every messenger and in a terminal, and is what people type back.
    """
    group = get_group_symbol(locale).replace("\u00a0", " ").replace("\u202f", " ")
    return group, get_decimal_symbol(locale), get_minus_sign_symbol(locale)
