"""The domain rule that picks the candidate the meter can show next."""

from __future__ import annotations

from core.photo_reading import (
    ReadingCandidate,
    ReadingPrior,
    choose_fitting,
    fits_prior,
    implied_increase,
)


def cand(digits: str, confidence: float = 0.9) -> ReadingCandidate:
    return ReadingCandidate(int(digits), digits, confidence)


def test_increase_and_rollover() -> None:
    prior = ReadingPrior(previous=8350, digit_count=5, max_increase=1000)
    assert implied_increase(cand("08500"), prior) == 150
    assert implied_increase(cand("08340"), prior) is None
    assert implied_increase(cand("10500"), prior) is None
    rolled = ReadingPrior(previous=99950, digit_count=5, max_increase=1000)
    assert implied_increase(cand("00120"), rolled) == 170
    # Without the digit count a smaller number is not a roll-over, just a misreading.
    assert implied_increase(cand("00120"), ReadingPrior(previous=99950)) is None


def test_digit_count_and_blank_leading_lcd_digits() -> None:
    prior = ReadingPrior(previous=1700, digit_count=5)
    assert fits_prior(cand("01782"), prior)
    assert fits_prior(cand("1782"), prior)  # an LCD that blanks leading zeros
    assert not fits_prior(cand("0178"), prior)
    assert not fits_prior(cand("017825"), prior)


def test_choose_fitting_prefers_the_plausible_over_the_confident() -> None:
    prior = ReadingPrior(previous=4920, digit_count=5, max_increase=2000)
    serial = cand("46107", 0.95)
    reading = cand("05210", 0.7)
    assert choose_fitting([serial, reading], prior) == reading
    assert choose_fitting([serial], prior) is None
    assert choose_fitting([serial], None) == serial
