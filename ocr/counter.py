"""From the text found on a meter photo to integer readings the counter may show.

The detector finds every piece of text on the meter: the counter, but also the serial number,
the model, dates, ratings, handwriting on the wall. Here each digit-bearing text line is
turned into readings with the evidence for each: how tall and clean its digits are, whether a
red decimal drum or a decimal point was cut off, what surrounds it. Choosing among them, with
the prior, is `ocr.pipeline`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ocr.ppocr import LineText, TextBox, order_corners

# Letters the recognizer gives for drum digits seen at an angle or half-rolled.
LOOKALIKES = {
    "O": "0", "o": "0", "D": "0", "Q": "0", "U": "0",
    "I": "1", "l": "1", "|": "1", "i": "1", "!": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "G": "6", "b": "6",
    "B": "8",
    "g": "9", "q": "9",
    # Cyrillic letters the recognizer may choose on a drum (О, З, б, В, Б).
    "О": "0", "о": "0", "З": "3", "з": "3", "б": "6", "Б": "6", "В": "8",
}  # fmt: skip
POINTS = ".,·"
# Text right before a number that makes it a serial number, a type or a date, not a reading.
LABEL_BEFORE = re.compile(
    r"(№|N[o°º2egs.]?|S/?N|sx|SX|s[oö0]|ЗАВ|Зав|зав|Nr|ser|Typ|Тип|:|-|/|\()$"
)
# Units after a number that make it a rating (volts, amperes, hertz, revolutions, impulses).
RATING_AFTER = re.compile(
    # "... per kWh" in any script the recognizer guesses: imp/, імп/, imn/KBT, rev/, об/...
    r"^\s*([^\W\d_]{1,5}\s?/|V|В|A|А|Hz|Гц|imp|имп|імп|rev|об|vòng|%|°|℃|x|X|\(|[/-]\s*\d)",
    re.IGNORECASE,
)
ENERGY_UNIT = re.compile(r"k\s*W|кВт|kwh|KWH|m3|m³|м3|м³", re.IGNORECASE)
ENERGY_SUFFIX = re.compile(r"(k\s*W\S*|кВт\S*|m3|m³|м3|м³)$", re.IGNORECASE)
# A character of a drum window this red is a decimal drum (share of red pixels).
RED_SHARE = 0.22
MIN_DIGITS = 1
# A gap between two digits this many times the usual one means a digit was skipped.
UNEVEN_GAP = 1.6


@dataclass
class TextLine:
    """A detected text line, straightened, with what the recognizer read in it."""

    box: TextBox
    crop: np.ndarray
    text: LineText
    merged: bool = False
    # Text of the boxes right before and after this one on the same row ("№" | "1071434",
    # "3200" | "imp/kWh"): what a number's neighbours say about it.
    left: str = ""
    right: str = ""
    # Read again from a binarised copy with the LCD's ghost segments washed out.
    deghosted: bool = False
    # Read as mostly 8s: an LCD showing its unlit segments.
    ghostly: bool = False
    # Boxes of a single character found inside this line's box (drum windows one by one).
    cells: int = 0
    # Found on the photo looked at again inside a border (`ocr.pipeline.framed`).
    framed: bool = False


@dataclass
class Reading:
    """One integer reading a line may show, with the evidence for it.

    `cut` says how the integer part was found: "plain" (the whole digit run), "point" (the
    digits before a decimal point), "red" (a red decimal drum cut off), "prefix" / "suffix"
    (digits dropped with no visible reason: only the prior can back those).
    """

    digits: str
    scores: tuple[float, ...]
    line: TextLine
    cut: str = "plain"
    substituted: int = 0
    dropped: int = 0
    span: tuple[float, float] = (0.0, 1.0)
    features: dict[str, float] = field(default_factory=dict)
    # The recognizer's output step of each digit, and where across the line it stands
    # (both empty when another reader read it).
    steps: tuple[int, ...] = ()
    positions: tuple[float, ...] = ()

    @property
    def uneven(self) -> bool:
        """Whether one gap between neighbouring digits is far wider than the others: the
        recognizer skipped a digit there (counters space their digits evenly)."""
        if len(self.positions) < 3:
            return False
        gaps = sorted(b - a for a, b in zip(self.positions, self.positions[1:], strict=False))
        middle = gaps[len(gaps) // 2]
        return gaps[-1] > UNEVEN_GAP * max(middle, 1e-3)

    @property
    def value(self) -> int:
        """The reading as a number (leading zeros are drum positions, not value)."""
        return int(self.digits)

    @property
    def weakest(self) -> float:
        """The recognizer's lowest probability among the reading's digits."""
        return min(self.scores) if self.scores else 0.0


def redness(crop: np.ndarray) -> np.ndarray:
    """Per column of a BGR crop, the share of strongly red pixels (a decimal drum's colour)."""
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((hue <= 8) | (hue >= 165)) & (sat >= 90) & (val >= 60)
    return red.mean(axis=0)


def _char_red(line: TextLine, positions: list[float], red_columns: np.ndarray) -> list[float]:
    width = len(red_columns)
    if not positions:
        return []
    pitch = (
        (max(positions) - min(positions)) / max(len(positions) - 1, 1)
        if len(positions) > 1
        else 0.1
    )
    half = max(1, int(width * pitch / 2))
    shares = []
    for position in positions:
        centre = int(position * width)
        shares.append(float(red_columns[max(0, centre - half) : min(width, centre + half)].mean()))
    return shares


@dataclass
class _Token:
    char: str
    score: float
    position: float
    step: int
    substituted: bool = False


def _substitutable(word: str) -> set[int]:
    """Positions in a word (no spaces) whose character is a misread drum digit.

    Only in a word that is mostly digits and has no other letters: look-alike letters (not a
    leading letter, which is a model name's: "S201", "C10").
    """
    core = ENERGY_SUFFIX.sub("", word)
    digits = sum(c.isdigit() for c in core)
    odd = [i for i, c in enumerate(core) if c in LOOKALIKES]
    others = [c for c in core if not c.isdigit() and c not in POINTS and c not in LOOKALIKES]
    if others or not odd or digits < 2 * len(odd):
        return set()
    if core[0] in LOOKALIKES and core[0] not in "Oo" and 0 in odd:
        return set()
    return set(odd)


def _tokens(line: TextLine, digit_index: np.ndarray) -> list[_Token]:
    """The line's characters with misread drum digits (see `_substitutable`) as digits."""
    text = line.text
    tokens = [
        _Token(c, s, p, t)
        for c, s, p, t in zip(text.text, text.char_scores, text.positions, text.steps, strict=True)
    ]
    for word in re.finditer(r"[^\s:;/()\[\]-]+", text.text):
        for offset in _substitutable(word.group()):
            i = word.start() + offset
            digit_probs = text.probs[text.steps[i], digit_index]
            best = int(digit_probs.argmax())
            # The digit is worth what the recognizer gave that digit there.
            tokens[i] = _Token(
                str(best), float(digit_probs[best]), tokens[i].position, tokens[i].step, True
            )
    return tokens


def readings_of(line: TextLine, digit_index: np.ndarray) -> list[Reading]:
    """Every integer reading the line's digits allow, with how each was cut."""
    tokens = _tokens(line, digit_index)
    text = "".join(t.char for t in tokens)
    red_columns = redness(line.crop)
    found: list[Reading] = []
    # Digits, decimal points, and single spaces between digits (wide gaps between drums).
    for match in re.finditer(r"\d(?:[\d.,·]| (?=\d))*", text):
        start, end = match.span()
        while text[end - 1] in POINTS:
            end -= 1
        if sum(c in POINTS for c in text[start:end]) > 1:
            continue  # "1.00.572.002.1", "08.01.76": a type or a date
        before, after = text[:start].rstrip(), text[end:]
        if not before:
            before = line.left.rstrip()
        if not after.strip():
            after = " " + line.right
        context = _context_features(before, after, text)
        run = [t for t in tokens[start:end] if t.char != " "]
        found += _run_readings(run, line, context, red_columns)
        if " " in text[start:end]:
            # The gap may also part the counter from a label's number: each part alone.
            for part in re.finditer(r"[^ ]+", text[start:end]):
                piece = [t for t in tokens[start + part.start() : start + part.end()]]
                found += [
                    replace(r, cut="split")
                    for r in _run_readings(piece, line, context, red_columns)
                    if r.cut == "plain"
                ]
    return [r for r in found if len(r.digits) >= MIN_DIGITS]


def _run_readings(
    run: list[_Token], line: TextLine, context: dict[str, float], red_columns: np.ndarray
) -> list[Reading]:
    """The readings of one run of digits (perhaps with a decimal point)."""
    point = next((i for i, t in enumerate(run) if t.char in POINTS), None)
    digits_tokens = [t for t in run if t.char not in POINTS]
    if not digits_tokens:
        return []
    if point is not None:
        return [
            _reading(run[:point], line, "point", len(run) - point - 1, context),
            _reading(digits_tokens, line, "joined", 0, context),
        ]
    found = [_reading(digits_tokens, line, "plain", 0, context)]
    shares = _char_red(line, [t.position for t in digits_tokens], red_columns)
    red_tail = 0
    for share in reversed(shares):
        if share < RED_SHARE:
            break
        red_tail += 1
    head = shares[: len(shares) - red_tail]
    if 0 < red_tail <= 3 and head and max(head) < RED_SHARE / 2:
        found.append(_reading(digits_tokens[:-red_tail], line, "red", red_tail, context))
    for drop in (1, 2, 3):
        if len(digits_tokens) - drop >= 3:
            found.append(_reading(digits_tokens[:-drop], line, "prefix", drop, context))
    for drop in (1, 2):
        if len(digits_tokens) - drop >= 3:
            found.append(_reading(digits_tokens[drop:], line, "suffix", drop, context))
    return found


def _reading(
    tokens: list[_Token], line: TextLine, cut: str, dropped: int, context: dict[str, float]
) -> Reading:
    span = (tokens[0].position, tokens[-1].position) if tokens else (0.0, 0.0)
    return Reading(
        digits="".join(t.char for t in tokens),
        scores=tuple(t.score for t in tokens),
        line=line,
        cut=cut,
        substituted=sum(t.substituted for t in tokens),
        dropped=dropped,
        span=span,
        features=dict(context),
        steps=tuple(t.step for t in tokens),
        positions=tuple(t.position for t in tokens),
    )


def _context_features(before: str, after: str, text: str) -> dict[str, float]:
    """What the words around a number say about it."""
    letters = sum(c.isalpha() for c in before + after)
    return {
        "label_before": float(bool(LABEL_BEFORE.search(before))),
        "rating_after": float(bool(RATING_AFTER.search(after))),
        "unit_after": float(bool(ENERGY_UNIT.match(after.lstrip()))),
        "letters": float(letters),
        "other_runs": float(len(re.findall(r"\d+", text)) - 1),
    }


def merge_fragments(lines: list[TextLine]) -> list[list[int]]:
    """Groups (left to right) of digit fragments that sit side by side on one line.

    Drum windows are often found one or two at a time; together they are the counter.
    """
    digit_lines = [
        i
        for i, line in enumerate(lines)
        if line.text.text
        and sum(c.isdigit() or c in LOOKALIKES for c in line.text.text)
        >= max(1, len(line.text.text) - 1)
        and (len(line.text.text) == 1 or any(c.isdigit() for c in line.text.text))
    ]
    digit_lines.sort(key=lambda i: lines[i].box.centre[0])
    groups: list[list[int]] = []
    used: set[int] = set()
    for i in digit_lines:
        if i in used:
            continue
        group = [i]
        for j in digit_lines:
            if j in used or j in group:
                continue
            last = lines[group[-1]].box
            other = lines[j].box
            if other.centre[0] <= last.centre[0]:
                continue
            height = max(last.height, other.height)
            if not 0.65 <= other.height / max(last.height, 1) <= 1.5:
                continue
            if abs(other.centre[1] - last.centre[1]) > 0.45 * height:
                continue
            gap = (other.centre[0] - other.width / 2) - (last.centre[0] + last.width / 2)
            if gap > 1.6 * height or gap < -0.5 * height:
                continue
            group.append(j)
        if len(group) > 1:
            groups.append(group)
            used.update(group)
    return groups


def attach_neighbours(lines: list[TextLine]) -> None:
    """Fill each line's `left` and `right` with the texts of its neighbours on the row, and
    `cells` with the single characters boxed inside it."""
    for line in lines:
        box = line.box
        line.cells = sum(
            1
            for other in lines
            if other is not line
            and not other.merged
            and len(other.text.text) == 1
            and other.box.height >= 0.6 * box.height
            and abs(other.box.centre[1] - box.centre[1]) < 0.5 * box.height
            and abs(other.box.centre[0] - box.centre[0]) < box.width / 2
        )
        left_gap = right_gap = 1.5 * box.height
        for other in lines:
            if other is line or other.merged:
                continue
            near = other.box
            if abs(near.centre[1] - box.centre[1]) > 0.5 * box.height:
                continue
            if not 0.5 <= near.height / max(box.height, 1.0) <= 2.0:
                continue
            gap_right = (near.centre[0] - near.width / 2) - (box.centre[0] + box.width / 2)
            gap_left = (box.centre[0] - box.width / 2) - (near.centre[0] + near.width / 2)
            if -0.3 * box.height <= gap_right < right_gap:
                right_gap, line.right = gap_right, other.text.text
            if -0.3 * box.height <= gap_left < left_gap:
                left_gap, line.left = gap_left, other.text.text


def union_box(boxes: list[TextBox]) -> TextBox:
    """The smallest rotated rectangle around several boxes."""
    points = np.concatenate([b.corners for b in boxes]).astype(np.float32)
    corners = cv2.boxPoints(cv2.minAreaRect(points))
    return TextBox(order_corners(corners), float(np.mean([b.score for b in boxes])))


def widen_box(box: TextBox, pitches: float, characters: int) -> TextBox:
    """The box stretched along its line by `pitches` character widths on each side.

    A row of drum windows boxed one by one often lacks a window at either end (a narrow "1"
    in a wide drum, a drum half in shadow): the joined box then stops a digit short. The
    character width is the box's width shared among the `characters` read in it.
    """
    corners = box.corners.astype(np.float32)
    top_left, top_right, bottom_right, bottom_left = corners
    along = ((top_right - top_left) + (bottom_right - bottom_left)) / 2
    length = float(np.linalg.norm(along))
    if length < 1.0 or characters < 1:
        return box
    unit = along / length
    shift = unit * (pitches * length / characters)
    widened = np.array(
        [top_left - shift, top_right + shift, bottom_right + shift, bottom_left - shift],
        dtype=np.float32,
    )
    return TextBox(widened, box.score)


__all__ = [
    "Reading",
    "TextLine",
    "attach_neighbours",
    "merge_fragments",
    "readings_of",
    "redness",
    "union_box",
    "widen_box",
]
