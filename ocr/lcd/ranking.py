"""Which of an LCD's lines is the meter's total.

A meter's display shows, in turn or at once: the total ("00043528.45 kWh", on НІК meters
sometimes labelled "T0"), tariff registers ("T1 …", "T2 …", "T11"/"T12"), a clock
("12:45:07"), a date ("07.12.26"), OBIS-like codes ("1.8.0") and at power-up the test
pattern ("8.8.8.8.8.8.8.8"). The total is the longest digit line with a decimal point, big
digits, and "kWh" on it or beside it; a clock, a date, a code or the test pattern never is.
This module only ranks; the photo pipeline makes the final choice with its own evidence
(the previous reading, the meter's digit count).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ocr.lcd.decoding import LcdCandidate
from ocr.lcd.recognizer import LcdReading

_DATE = re.compile(r"^\d{2}[.\-/]\d{2}[.\-/](\d{2}|\d{4})$")
_CLOCK = re.compile(r"^\d{2}[:\-.]\d{2}([:\-.]\d{2})?$")
_CODE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}$")
_TOTAL_LABELS = {"", "T", "T0", "T00"}


@dataclass(frozen=True)
class LcdLine:
    """One line of an LCD as read, with where it was found.

    `box` is (left, top, right, bottom) in the photo's pixels; `nearby_text` is whatever
    other readers found beside the line (a printed "kWh", "T1"), lower-cased or not.
    """

    reading: LcdReading
    box: tuple[float, float, float, float] | None = None
    nearby_text: str = ""


@dataclass(frozen=True)
class RankedLine:
    """A line with the candidate that ranked it, its score and why (best first)."""

    line: LcdLine
    candidate: LcdCandidate
    score: float
    reasons: tuple[str, ...]


def _value_text(candidate: LcdCandidate) -> str:
    words = [w for w in candidate.text.replace("kWh", " ").split() if w != candidate.tariff]
    return max(words, key=lambda w: sum(ch.isdigit() for ch in w), default="")


def _score(
    line: LcdLine, candidate: LcdCandidate, tallest: float, tariff: str | None
) -> tuple[float, list[str]]:
    value = _value_text(candidate)
    reasons: list[str] = []
    score = 0.0
    n = len(candidate.integer)
    score += 0.5 * min(n, 8)
    reasons.append(f"{n} integer digits")
    if n > 8:  # no household meter counts that far: a serial number or a misread
        score -= 4
        reasons.append("too many digits for a total")
    if candidate.clock or _CLOCK.match(value):
        score -= 6
        reasons.append("a clock")
    elif _DATE.match(value):
        score -= 6
        reasons.append("a date")
    elif _CODE.match(value):
        score -= 6
        reasons.append("a register code")
    elif candidate.point is not None:
        score += 1.5
        reasons.append("a decimal point")
    if len(candidate.digits) >= 5 and set(candidate.digits) == {"8"}:
        score -= 6
        reasons.append("the test pattern")
    if candidate.unit or "kwh" in line.nearby_text.lower().replace(" ", "").replace("·", ""):
        score += 2
        reasons.append("kWh")
    label = candidate.tariff or _label_in(line.nearby_text)
    if tariff is not None:
        if label == tariff:
            score += 3
            reasons.append(f"the wanted register {tariff}")
        elif label not in _TOTAL_LABELS:
            score -= 2
            reasons.append(f"another register {label}")
    elif label not in _TOTAL_LABELS:
        score -= 1.5
        reasons.append(f"a tariff register {label}")
    if line.box is not None and tallest > 0:
        height = line.box[3] - line.box[1]
        score += height / tallest
    score += 2 * (line.reading.lcd_likeness - 0.5)
    score += 0.5 * math.log10(max(candidate.confidence, 1e-6))
    return score, reasons


def _label_in(text: str) -> str:
    match = re.search(r"\b[TТ]([0-9]{1,2})\b", text)  # Latin or Cyrillic T
    return f"T{match.group(1)}" if match else ""


def rank_total_lines(lines: Sequence[LcdLine], *, tariff: str | None = None) -> list[RankedLine]:
    """Ranks LCD lines by how much each looks like the meter's total, best first.

    With `tariff` ("T1", "T2"), the line of that register is wanted instead of the total
    (a multi-zone meter's zone being entered). Each line is scored by its best candidates
    (up to three), so a line whose best guess is doubtful is not thrown away.
    """
    heights = [ln.box[3] - ln.box[1] for ln in lines if ln.box is not None]
    tallest = max(heights, default=0.0)
    ranked = []
    for line in lines:
        best: RankedLine | None = None
        for candidate in line.reading.candidates[:3]:
            if not candidate.digits:
                continue
            score, reasons = _score(line, candidate, tallest, tariff)
            if best is None or score > best.score:
                best = RankedLine(line, candidate, score, tuple(reasons))
        if best is not None:
            ranked.append(best)
    return sorted(ranked, key=lambda r: r.score, reverse=True)
