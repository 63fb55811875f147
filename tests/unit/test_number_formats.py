"""Numbers and money are formatted as Babel formats them, with plain spaces."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel.numbers import format_decimal

from bot.i18n import Translator


def _babel(value: Decimal | int, pattern: str, locale: str) -> str:
    text = format_decimal(value, format=pattern, locale=locale)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("locale", ["uk", "en"])
def test_same_as_babel(locale: str) -> None:
    t = Translator(locale, {})
    rng = random.Random(20261127)
    values: list[Decimal | int] = [0, 7, -7, 999, 1000, -1000, 1234567, Decimal("0.005")]
    values += [Decimal("1210.03"), Decimal("-0.01"), Decimal("2.675"), Decimal("1E+3")]
    values += [Decimal(rng.randint(-(10**9), 10**9)) / 1000 for _ in range(300)]
    values += [rng.randint(-(10**9), 10**9) for _ in range(300)]
    for value in values:
        assert t._decimal(value, 2) == _babel(value, "#,##0.00", locale), value
        if isinstance(value, int):
            assert t._decimal(value, 0) == _babel(value, "#,##0", locale), value


def test_ukrainian_groups_with_a_plain_space() -> None:
    t = Translator("uk", {"uk": {"fmt.money": "{amount} грн", "fmt.kwh": "{value} кВт·год"}})
    assert t.money(Decimal("1210.03")) == "1 210,03 грн"
    assert t.kwh(35771) == "35 771 кВт·год"
