"""Normalised address keys, so "вул. Кузьми Скрябіна" and "Кузьми Скрябіна вулиця" match."""

from __future__ import annotations

import re

# Street-type words DSO outage lists and contracts spell in many ways.
_STREET_TYPE_WORDS = frozenset(
    {
        "вулиця",
        "вул",
        "проспект",
        "просп",
        "пр",
        "пр-т",
        "провулок",
        "пров",
        "бульвар",
        "бул",
        "б-р",
        "площа",
        "пл",
        "узвіз",
        "шосе",
        "набережна",
        "наб",
        "тупик",
        "майдан",
        "алея",
        "проїзд",
        "street",
        "st",
        "avenue",
        "ave",
    }
)
_SETTLEMENT_TYPE_WORDS = frozenset({"м", "місто", "смт", "с", "село", "селище"})
_WORD = re.compile(r"[\w-]+")


def _words(text: str) -> list[str]:
    # Apostrophes vary (' ’ ʼ) and carry no meaning for matching, so they are dropped.
    folded = re.sub(r"['’ʼ`]", "", text.casefold())
    return _WORD.findall(folded)


def street_key(street: str) -> str:
    """A lower-case key of a street name without its type word (вул., просп., ...)."""
    words = [word for word in _words(street) if word not in _STREET_TYPE_WORDS]
    return " ".join(words)


def settlement_key(settlement: str) -> str:
    """A lower-case key of a settlement name without "м.", "смт", "с."."""
    words = [word for word in _words(settlement) if word not in _SETTLEMENT_TYPE_WORDS]
    return " ".join(words)
