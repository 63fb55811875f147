"""From the network's per-column character probabilities to readings.

The recognizer is trained with CTC, so a line's text is the sum over all the alignments
that collapse to it. A prefix beam search keeps that sum for the few most likely texts,
which makes each candidate's score the model's probability of exactly that text (a lower
bound: alignments pruned from the beam are not counted).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

# Index 0 is the CTC blank. A space separates a tariff label or a unit from the value.
ALPHABET = " 0123456789.:-TkWh"
BLANK = 0
# Characters whose probability at a column is below this are not tried there.
_PRUNE = 1e-3


@dataclass(frozen=True)
class LcdCandidate:
    """One reading of an LCD line.

    `text` is what the glass shows in the recognizer's alphabet ("T1 00000.10 kWh").
    `digits` is the value's digits without the point ("0000010"), and `point` how many
    of them stand before the decimal point (5), or None when no point is lit.
    `confidence` is the model's probability of exactly `text` (0..1).
    """

    text: str
    digits: str
    point: int | None
    confidence: float
    tariff: str = ""  # the tariff label on the line, e.g. "T1"
    unit: bool = False  # "kWh" is on the line
    clock: bool = False  # the value looks like a time ("12:45")

    @property
    def integer(self) -> str:
        """The digits before the decimal point (all of them when no point is lit)."""
        return self.digits if self.point is None else self.digits[: self.point]

    @property
    def decimals(self) -> str:
        """The digits after the decimal point."""
        return "" if self.point is None else self.digits[self.point :]


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi = max(a, b)
    return hi + math.log1p(math.exp(-abs(a - b)))


def beam_search(log_probs: np.ndarray, beam_width: int = 10) -> list[tuple[str, float]]:
    """CTC prefix beam search over (time, classes) log-probabilities.

    Returns up to `beam_width` (text, log-probability) pairs, best first.
    """
    # Each prefix keeps two sums: alignments ending in a blank, and ending in its last char.
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    log_prune = math.log(_PRUNE)
    for row in log_probs:
        candidates = [int(c) for c in np.nonzero(row > log_prune)[0]]
        if candidates == [BLANK]:
            # Most columns are blank between characters: every prefix just stays.
            p = float(row[BLANK])
            beams = {k: (_logsumexp(pb, pc) + p, -math.inf) for k, (pb, pc) in beams.items()}
            continue
        if BLANK not in candidates:
            candidates.append(BLANK)
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_blank, p_char) in beams.items():
            total = _logsumexp(p_blank, p_char)
            for c in candidates:
                p = float(row[c])
                if c == BLANK:
                    entry = nxt[prefix]
                    entry[0] = _logsumexp(entry[0], total + p)
                    continue
                last = prefix[-1] if prefix else None
                extended = (*prefix, c)
                entry = nxt[extended]
                if c == last:
                    # A repeat only counts as a new character after a blank.
                    entry[1] = _logsumexp(entry[1], p_blank + p)
                    same = nxt[prefix]
                    same[1] = _logsumexp(same[1], p_char + p)
                else:
                    entry[1] = _logsumexp(entry[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)
        beams = {k: (v[0], v[1]) for k, v in ranked[:beam_width]}
    out = [("".join(ALPHABET[c - 1] for c in k), _logsumexp(*v)) for k, v in beams.items()]
    return sorted(out, key=lambda kv: kv[1], reverse=True)


def greedy(log_probs: np.ndarray) -> str:
    """The best path, collapsed: quick, for training-time evaluation."""
    best = log_probs.argmax(axis=-1)
    out, last = [], BLANK
    for c in best:
        if c != last and c != BLANK:
            out.append(ALPHABET[c - 1])
        last = c
    return "".join(out)


_VALUE = re.compile(r"[0-9][0-9.:\-]*")
_TARIFF = re.compile(r"^T[0-9]{0,2}$")
# Tariff labels meters print, longest first: how a label glued to its value is split off.
_LABELS = ("T01", "T02", "T03", "T04", "T11", "T12", "T0", "T1", "T2", "T3", "T4", "T")


def _unglue(word: str) -> list[str]:
    """'T01000000.02' -> ['T01', '000000.02'] when the model missed the space."""
    if not word.startswith("T") or _TARIFF.match(word):
        return [word]
    for label in _LABELS:
        rest = word[len(label) :]
        if word.startswith(label) and rest[:1].isdigit() and sum(c.isdigit() for c in rest) >= 4:
            return [label, rest]
    return [word]


def parse(text: str, confidence: float) -> LcdCandidate:
    """Splits a line's text into tariff label, value (digits and point) and unit."""
    words = [part for w in text.replace("kWh", " kWh ").split() for part in _unglue(w)]
    tariff = next((w for w in words if _TARIFF.match(w)), "")
    unit = "kWh" in words
    values = [m.group(0) for w in words if w != tariff for m in [_VALUE.search(w)] if m]
    # The value is the word with the most digits (the later one on a tie: labels come
    # first). Number words are never glued together: a stray label digit glued in front
    # would change the reading a hundredfold, while a leading zero left out changes nothing.
    value = max(reversed(values), key=lambda v: sum(ch.isdigit() for ch in v), default="")
    clock = ":" in value
    digits = "".join(ch for ch in value if ch.isdigit())
    point = None
    head = value.rstrip(".")
    if head.count(".") == 1 and not clock:
        point = sum(ch.isdigit() for ch in head.split(".")[0])
    return LcdCandidate(
        text=text,
        digits=digits,
        point=point,
        confidence=confidence,
        tariff=tariff,
        unit=unit,
        clock=clock,
    )
