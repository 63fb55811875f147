"""The whole synchronous pipeline for one photo: decode, detect, read, choose, weigh.

1. PP-OCRv5's detector finds every text line on the photo; its recognizer reads each one
   (drum windows found one by one are joined and read again as a line).
2. `ocr.counter` turns digit runs into integer readings: the decimal drum (red) or the digits
   after a decimal point cut off, look-alike letters beside digits read as digits.
3. Each reading gets a counter score from what a counter looks like (the tallest digits,
   four to eight of them, often a leading zero, "kWh" beside them; never after "№" or a
   colon, never before "V", "A" or "Hz").
4. The prior (previous reading, digit count, largest plausible step) keeps only readings
   the meter can show next and prefers small steps.
5. A second reader looks at the winner: our Tesseract `meterdigits` model, or the LCD
   recognizer for a seven-segment display. Confidence is calibrated on real photos (see
   ocr/README.md); the bot offers one tap only at or above `CONFIDENT`.

Runs inside a worker (thread or process); it never raises for bad input.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np
from PIL import Image

from core.photo_reading import (
    PhotoProblem,
    PhotoRecognition,
    ReadingCandidate,
    ReadingPrior,
    implied_increase,
)
from ocr.counter import (
    Reading,
    TextLine,
    attach_neighbours,
    merge_fragments,
    readings_of,
    union_box,
    widen_box,
)
from ocr.decoding import decode_photo
from ocr.lcd_seam import LcdReader, lcd_reader
from ocr.ppocr import TextBox, TextDetector, TextRecognizer, crop_box
from ocr.thresholds import CONFIDENT, DEFAULT_MAX_INCREASE

# Steps up to this many kWh are all equally likely; larger ones less and less.
USUAL_INCREASE = 1000
MAX_CANDIDATES = 5
# No counter has fewer digit positions.
MIN_DIGITS = 3
# A line is given to the LCD reader when it is this much wider than tall, and read as an
# LCD when the reader says it looks like one at least this much.
LCD_MIN_RATIO = 1.5
LCD_LIKENESS = 0.5
# A line read as at least this share of 8s is taken for an LCD showing its ghost segments.
GHOST_EIGHTS = 0.4
# A binarised copy loses some of what a digit looked like: a little less sure of it.
DEGHOSTED_DOUBT = 0.5
# Digits unevenly spaced across their line: one was probably not read.
UNEVEN_DOUBT = 2.0
# How far (in character widths) a row of drum windows boxed one by one is stretched each way.
WIDEN_PITCHES = 1.2
# Boxes this close (in line heights) beside an LCD line are the rest of its row.
LCD_ROW_GAP = 1.0
# How many digits an LCD's point may be off by.
POINT_SHIFT = 2
# Too dark to hope for digits: mean brightness of the whole photo (0..255).
DARK_BRIGHTNESS = 12.0
# A photo whose grey levels vary less than this shows nothing at all.
FLAT_CONTRAST = 12.0
# A photo this much wider than tall may be a tight crop of the counter alone.
STRIP_RATIO = 2.2
# A close-up is looked at again inside a border this wide (share of its longer side).
CLOSE_UP_BORDER = 0.25
# Below this Laplacian variance a photo with nothing read is called blurred.
BLURRED_SHARPNESS = 40.0

SecondReader = Callable[[list[Image.Image]], list[str]]


@dataclass
class Engine:
    """The models one worker holds: built once per process, on first use."""

    detector: TextDetector
    recognizer: TextRecognizer
    second_reader: SecondReader | None = None
    lcd_reader: LcdReader | None = None


@cache
def default_engine() -> Engine:
    """PP-OCRv5 det + rec, Tesseract `meterdigits` as the second reader, the LCD reader."""
    return Engine(
        detector=TextDetector(),
        recognizer=TextRecognizer(),
        second_reader=tesseract_reader(),
        lcd_reader=lcd_reader(),
    )


def tesseract_reader() -> SecondReader | None:
    """Our `meterdigits` Tesseract model reading integer-digit crops; None without tesseract."""
    import shutil

    if shutil.which("tesseract") is None:
        return None
    from ocr.line_reading import TesseractModel, read_lines

    model = TesseractModel()

    def read(images: list[Image.Image]) -> list[str]:
        return [r.text.split(".", 1)[0] for r in read_lines(images, model)]

    return read


def effective_prior(prior: ReadingPrior | None) -> ReadingPrior | None:
    """The prior with a household-sized maximum increase when only the previous is known."""
    if prior is None or prior.previous is None or prior.max_increase is not None:
        return prior
    return ReadingPrior(
        previous=prior.previous, digit_count=prior.digit_count, max_increase=DEFAULT_MAX_INCREASE
    )


def step_likelihood(increase: int, max_increase: int) -> float:
    """How believable a step is, 0.4..1: flat over a few months' use, then falling."""
    usual = min(USUAL_INCREASE, max_increase / 2)
    if increase <= usual:
        return 1.0
    return 1.0 - 0.6 * min(1.0, (increase - usual) / max(max_increase - usual, 1))


# How much each cut of the integer part weighs against a reading's confidence (prefix: per
# digit dropped).
CUT_DOUBT = {
    "prefix": 0.3,
    "suffix": 1.0,
    "joined": 0.5,
    "split": 0.7,
    "lcd?": 1.5,
    "lcd-point": 1.0,
    "lcd?-point": 2.0,
}
# A reading no other plausible one competes with counts as this far ahead.
NO_RIVAL_MARGIN = 4.0
# A runner-up digit weaker than this share of the chosen one is noise.
ALTERNATIVE_FLOOR = 0.05
# A value the prior rules out is never more than a hint.
MISFIT_CEILING = 0.3
# Digits read with at least this mean probability are clearly digits.
CLEAR_DIGITS = 0.5
# Counter digits are the tallest on the meter; a reading on a line below this share of the
# tallest is likely a label.
SMALL_LINE = 0.6

# What each cut of the integer part (ocr.counter.Reading) adds to the counter score; for
# prefix and suffix, per digit dropped.
CUT_WEIGHT = {
    "plain": 0.0,
    "red": 0.3,
    "point": 0.1,
    "joined": -0.6,
    "split": -0.6,
    "lcd": 0.3,
    # The LCD reader on a line with no sign of an LCD (it reads printed digits and drums too).
    "lcd?": -0.5,
    # The LCD reader's digits with the point moved (a faint point missed or one seen where
    # there is none): only the prior can back those.
    # (They weigh enough that a point shifted into the decimals is no close rival to the
    # point as read when both fit: a new meter's "000000.02" is 0, not 2.)
    "lcd-point": -1.5,
    "lcd?-point": -2.0,
    "prefix": -1.0,
    "suffix": -1.3,
}


def counter_score(reading: Reading, tallest: float) -> float:
    """How much a reading looks like a counter's integer part (higher is likelier)."""
    f = reading.features
    n = len(reading.digits)
    relative = reading.line.box.height / max(tallest, 1.0)
    f["rel_height"] = relative
    score = 2.0 * relative
    score += {1: -2.5, 2: -1.5, 3: -0.3, 4: 0.8, 5: 1.0, 6: 1.0, 7: 0.6, 8: 0.0}.get(n, -1.5)
    score -= 2.0 * f["label_before"] + 1.5 * f["rating_after"]
    score += 0.6 * f["unit_after"]
    score -= min(0.15 * f["letters"], 1.5)
    score -= 0.3 * min(f["other_runs"], 3)
    if reading.digits.startswith("0") and n >= 4:
        score += 0.5
    elif n == 4 and 1950 <= reading.value <= 2049 and not f["unit_after"]:
        score -= 0.8  # a year on the nameplate
    score += 1.5 * float(np.mean(reading.scores)) + reading.weakest
    score += CUT_WEIGHT[reading.cut] * max(reading.dropped, 1)
    score -= 0.7 * reading.substituted
    return score


@dataclass
class Scored:
    """A reading with its counter score and what the prior says of it."""

    reading: Reading
    score: float
    fits: bool
    increase: int | None
    agreed: bool | None = None
    support: int = 1
    details: dict[str, float] = field(default_factory=dict)


def _fit(reading: Reading, prior: ReadingPrior | None) -> tuple[bool, int | None]:
    if prior is None:
        return True, None
    candidate = ReadingCandidate(reading.value, reading.digits, 0.0)
    increase = implied_increase(candidate, prior)
    return increase is not None, increase


def detect_lines(bgr: np.ndarray, engine: Engine) -> list[TextLine]:
    """Every text line on the photo, read; drum fragments side by side joined into lines."""
    boxes = engine.detector.detect(bgr)
    crops = [crop_box(bgr, b.corners) for b in boxes]
    texts = engine.recognizer.recognise(crops) if crops else []
    lines = [TextLine(b, c, t) for b, c, t in zip(boxes, crops, texts, strict=True)]
    groups = merge_fragments(lines)
    if groups:
        joined = [union_box([lines[i].box for i in group]) for group in groups]
        # The same rows stretched by about one drum window each way: a window the detector
        # missed at either end of the counter (often a narrow "1") is read too.
        joined += [
            widen_box(box, WIDEN_PITCHES, sum(len(lines[i].text.text) for i in group))
            for box, group in zip(joined, groups, strict=True)
        ]
        joined_crops = [crop_box(bgr, b.corners) for b in joined]
        joined_texts = engine.recognizer.recognise(joined_crops)
        found = list(zip(joined, joined_crops, joined_texts, strict=True))
        rows, widened = found[: len(groups)], found[len(groups) :]
        lines += [TextLine(b, c, t, merged=True) for b, c, t in rows]
        # A widened row counts only where it found more digits around the same ones: else
        # it is the same row read again, or a label's fragment out of its context.
        lines += [
            TextLine(b, c, t, merged=True)
            for (b, c, t), (_, _, narrow) in zip(widened, rows, strict=True)
            if extends(_digits_of(t.text), _digits_of(narrow.text))
        ]
    attach_neighbours(lines)
    lines += deghosted_lines(lines, engine)
    return lines + joined_lcd_rows(lines, bgr, engine)


def _digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def extends(wide: str, narrow: str) -> bool:
    """Whether `wide` is `narrow` with digits added at either end (or both)."""
    return len(wide) > len(narrow) > 0 and narrow in wide


def joined_lcd_rows(lines: list[TextLine], bgr: np.ndarray, engine: Engine) -> list[TextLine]:
    """An LCD row the detector cut in two (a glare spot, a wide gap before the decimals),
    joined again: a ghostly line and the boxes beside it on the same row, as one line."""
    joined = []
    for line in lines:
        if not line.ghostly:
            continue
        box = line.box
        row = [line]
        for other in lines:
            near = other.box
            if other is line or other.merged or other.deghosted:
                continue
            if not 0.6 <= near.height / max(box.height, 1.0) <= 1.6:
                continue
            if abs(near.centre[1] - box.centre[1]) > 0.35 * box.height:
                continue
            gap = max(
                (near.centre[0] - near.width / 2) - (box.centre[0] + box.width / 2),
                (box.centre[0] - box.width / 2) - (near.centre[0] + near.width / 2),
            )
            if gap < LCD_ROW_GAP * box.height:
                row.append(other)
        if len(row) > 1:
            united = union_box([r.box for r in row])
            crop = crop_box(bgr, united.corners)
            text = engine.recognizer.recognise([crop])[0]
            joined.append(TextLine(united, crop, text, ghostly=True))
    return joined


def deghosted_lines(lines: list[TextLine], engine: Engine) -> list[TextLine]:
    """LCD lines read again with their unlit ("ghost") segments washed out.

    An LCD shows every segment faintly; the recognizer then sees 8s. Keeping only pixels
    well beyond the glass (either polarity) leaves the lit segments.
    """
    ghostly = [
        line
        for line in lines
        if not line.merged
        and len(line.text.text) >= MIN_DIGITS
        and line.text.text.count("8") >= GHOST_EIGHTS * len(line.text.text)
    ]
    for line in ghostly:
        line.ghostly = True
    crops = [crop for line in ghostly for crop in lit_segments(line.crop)]
    if not crops:
        return []
    texts = engine.recognizer.recognise(crops)
    found = []
    for index, text in enumerate(texts):
        line = ghostly[index // 2]
        found.append(
            TextLine(
                line.box,
                crops[index],
                text,
                merged=True,
                left=line.left,
                right=line.right,
                deghosted=True,
            )
        )
    return found


def lit_segments(crop: np.ndarray) -> list[np.ndarray]:
    """Two binarised copies of an LCD crop (dark-on-light and light-on-dark segments)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    copies = []
    for image in (grey, 255 - grey):
        split, _ = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        darkest = float(np.percentile(image, 5))
        lit = np.where(image < darkest + (split - darkest) * 0.6, 0, 255).astype(np.uint8)
        copies.append(cv2.cvtColor(lit, cv2.COLOR_GRAY2BGR))
    return copies


def lcd_readings(lines: list[TextLine], reader: LcdReader) -> list[Reading]:
    """Readings of the lines that look like a seven-segment display, by the LCD reader."""
    found = []
    for line in lines:
        if line.merged or line.box.width < LCD_MIN_RATIO * line.box.height:
            continue
        seen = reader(Image.fromarray(cv2.cvtColor(line.crop, cv2.COLOR_BGR2RGB)))
        if seen.likeness < LCD_LIKENESS:
            continue
        cut = "lcd" if line.ghostly else "lcd?"
        for reading in seen.readings:
            if reading.clock:
                continue
            features = {
                # A tariff register (T1, T2...) is not the total; T0 or T is.
                "label_before": float(reading.tariff not in ("", "T", "T0")),
                "rating_after": 0.0,
                "unit_after": float(reading.unit),
                "letters": 0.0,
                "other_runs": 0.0,
            }
            for digits, how in point_shifts(reading.integer, reading.fraction):
                if len(digits) < MIN_DIGITS:
                    continue
                found.append(
                    Reading(
                        digits=digits,
                        scores=(reading.confidence,) * len(digits),
                        line=line,
                        cut=cut if how == "read" else f"{cut}-point",
                        dropped=reading.decimals if how == "read" else 1,
                        features=dict(features),
                    )
                )
    return found


def point_shifts(integer: str, fraction: str) -> list[tuple[str, str]]:
    """The integer part as read, then as it would be with the point up to `POINT_SHIFT`
    digits to the left or right (a faint point missed, or a segment taken for one)."""
    shifts = [(integer, "read")]
    whole = integer + fraction
    for position in range(len(integer) - POINT_SHIFT, len(integer) + POINT_SHIFT + 1):
        if position != len(integer) and 0 < position <= len(whole):
            shifts.append((whole[:position], "shifted"))
    return shifts


def score_readings(
    lines: list[TextLine], engine: Engine, prior: ReadingPrior | None
) -> list[Scored]:
    """Every reading of every line, scored, the prior applied; best first."""
    digit_index = engine.recognizer.digit_index
    readings = [
        r for line in lines for r in readings_of(line, digit_index) if len(r.digits) >= MIN_DIGITS
    ]
    if engine.lcd_reader is not None:
        readings += lcd_readings(lines, engine.lcd_reader)
    if not readings:
        return []
    # The tallest line read clearly: a box around half the meter with a few guessed
    # digits in it (a photo looked at inside a border) is no measure of the counter's size.
    tallest = max(
        (
            r.line.box.height
            for r in readings
            if len(r.digits) >= 3 and float(np.mean(r.scores)) >= CLEAR_DIGITS
        ),
        default=max(r.line.box.height for r in readings),
    )
    scored = []
    for reading in readings:
        fits, increase = _fit(reading, prior)
        score = counter_score(reading, tallest)
        if fits and increase is not None and prior is not None and prior.max_increase:
            score += 2.0 * math.log(step_likelihood(increase, prior.max_increase))
        scored.append(Scored(reading, score, fits, increase))
    scored.sort(key=lambda s: (s.fits, s.score), reverse=True)
    return scored


def _integer_crop(reading: Reading) -> Image.Image:
    """The integer digits of a reading's line, grey, 48 px high, for the second reader."""
    crop = reading.line.crop
    width = crop.shape[1]
    count = max(len(reading.digits), 1)
    pitch = (reading.span[1] - reading.span[0]) / max(count - 1, 1) if count > 1 else 0.15
    left = max(0, int((reading.span[0] - 0.6 * pitch) * width))
    right = min(width, math.ceil((reading.span[1] + 0.6 * pitch) * width))
    piece = crop[:, left:right] if right - left > 4 else crop
    grey = cv2.cvtColor(piece, cv2.COLOR_BGR2GRAY)
    height = 48
    scale = height / max(grey.shape[0], 1)
    grey = cv2.resize(grey, (max(8, int(grey.shape[1] * scale)), height))
    padded = cv2.copyMakeBorder(grey, 8, 8, 16, 16, cv2.BORDER_REPLICATE)
    return Image.fromarray(padded)


def weigh(
    scored: list[Scored], prior: ReadingPrior | None, engine: Engine
) -> list[ReadingCandidate]:
    """Candidates (one per value, best first) with calibrated confidence."""
    by_value: dict[int, list[Scored]] = {}
    for item in scored:
        by_value.setdefault(item.reading.value, []).append(item)
    ranked = sorted(
        by_value.values(), key=lambda items: (items[0].fits, items[0].score), reverse=True
    )
    top_items = ranked[:MAX_CANDIDATES]
    second_opinions: dict[int, str] = {}
    if top_items and top_items[0][0].reading.cut.startswith("lcd"):
        # An LCD's second reader is PP-OCR on the same box (or its de-ghosted copy).
        head = top_items[0][0]
        if any(
            not s.reading.cut.startswith("lcd") and s.reading.line.box is head.reading.line.box
            for s in top_items[0]
        ):
            second_opinions[head.reading.value] = head.reading.digits
    elif engine.second_reader is not None and top_items:
        best = top_items[0][0]
        try:
            second_opinions[best.reading.value] = engine.second_reader(
                [_integer_crop(best.reading)]
            )[0]
        except Exception:  # a broken second reader only costs confidence
            second_opinions = {}
    candidates: list[ReadingCandidate] = []
    for rank, items in enumerate(top_items):
        # A value also read on the photo itself is weighed on that reading: the look inside
        # a border sees the same pixels smaller, no second opinion (and its digit
        # probabilities were never calibrated).
        head = next((s for s in items if not s.reading.line.framed), items[0])
        # The LCD reader's guesses at printed digits and drums are no rival to PP-OCR's.
        rival = next(
            (
                other[0]
                for other in ranked
                if other is not items
                and other[0].fits == head.fits
                and (
                    not other[0].reading.cut.startswith("lcd?")
                    or head.reading.cut.startswith("lcd")
                )
                # The point moved on the head's own line is the same evidence read again.
                and not (
                    other[0].reading.cut.endswith("-point")
                    and other[0].reading.line is head.reading.line
                )
            ),
            None,
        )
        doubt = max(
            digit_doubt(head.reading, prior, engine.recognizer.digit_index),
            lcd_doubt(head, scored),
        )
        confidence = confidence_of(
            head, rival, prior, second_opinions.get(head.reading.value), doubt
        )
        if rank > 0:
            confidence = min(confidence, candidates[0].confidence * 0.9)
        candidates.append(
            ReadingCandidate(head.reading.value, head.reading.digits, round(confidence, 4))
        )
    return candidates


def digit_doubt(reading: Reading, prior: ReadingPrior | None, digit_index: np.ndarray) -> float:
    """How strongly the recognizer also saw another digit that makes another plausible
    reading: the largest ratio of a runner-up digit's probability to the chosen one's, over
    the positions where the swap still fits the prior (0 when none does)."""
    probs = reading.line.text.probs
    doubt = 0.0
    for position, step in enumerate(reading.steps):
        digit_probs = probs[step, digit_index]
        chosen = int(reading.digits[position])
        order = np.argsort(digit_probs)[::-1]
        runner = int(order[0]) if int(order[0]) != chosen else int(order[1])
        ratio = float(digit_probs[runner] / max(digit_probs[chosen], 1e-6))
        if ratio <= doubt or ratio < ALTERNATIVE_FLOOR:
            continue
        other = reading.digits[:position] + str(runner) + reading.digits[position + 1 :]
        if (
            prior is None
            or implied_increase(ReadingCandidate(int(other), other, 0.0), prior) is not None
        ):
            doubt = min(ratio, 1.0)
    return doubt


def lcd_doubt(head: Scored, scored: list[Scored]) -> float:
    """For an LCD reading: how strongly the LCD reader also read the same line as another
    value that fits the prior (the ratio of its confidence to the chosen one's, 0..1).

    PP-OCR's readings carry a runner-up per digit (`digit_doubt`); the LCD reader's carry
    whole-line alternatives instead: "0005889" at 0.66 with "0005887" at 0.23 is a 7 that
    may be a 9, and must not reach one tap on the margin of its score alone.
    """
    reading = head.reading
    if reading.cut not in ("lcd", "lcd?"):
        return 0.0
    doubt = 0.0
    for other in scored:
        seen = other.reading
        if (
            other.fits
            and seen.cut == reading.cut
            and seen.line is reading.line
            and seen.value != reading.value
        ):
            doubt = max(doubt, seen.weakest / max(reading.weakest, 1e-6))
    return min(doubt, 1.0)


def confidence_of(
    head: Scored,
    rival: Scored | None,
    prior: ReadingPrior | None,
    second: str | None,
    doubt: float = 0.0,
) -> float:
    """0..1: how likely the reading is the counter's integer part.

    A logistic score of what separated right from wrong readings on real photos
    (ocr/README.md, "Confidence"): the recognizer's weakest digit, how much more the reading
    looks like the counter than the next plausible one, whether the second reader read the
    same digits, how the integer part was cut, and whether the step from the previous
    reading is an ordinary one.
    """
    reading = head.reading
    if not head.fits:
        return min(MISFIT_CEILING, 0.05 * max(head.score, 0.0))
    margin = head.score - rival.score if rival is not None else NO_RIVAL_MARGIN
    z = 0.3
    z += 3.0 * (reading.weakest - 0.6)
    z -= 3.0 * doubt
    z += 0.8 * min(max(head.score - 4.5, -5.0), 2.0)
    z += 0.6 * min(margin, 3.0) - 0.6
    if second is not None and second.lstrip("0") == reading.digits.lstrip("0"):
        z += 1.5
    z -= CUT_DOUBT.get(reading.cut, 0.0) * (1.0 if reading.cut != "prefix" else reading.dropped)
    if reading.cut == "prefix" and reading.dropped > 1:
        z -= 0.9
    if head.increase is not None and head.increase > USUAL_INCREASE:
        z -= 1.5
    relative = reading.features.get("rel_height", 1.0)
    if relative < SMALL_LINE:
        z -= 8.0 * (SMALL_LINE - relative)
    z -= 0.7 * reading.substituted
    if reading.line.deghosted:
        z -= DEGHOSTED_DOUBT
    if reading.uneven or reading.line.cells > len(reading.digits) + reading.dropped:
        # Digits unevenly spaced, or more drum windows boxed than digits read: one was lost.
        z -= UNEVEN_DOUBT
    if reading.features.get("label_before") or reading.features.get("rating_after"):
        # Whatever the prior says, a number after "№" or before "V" or "imp/kWh" is a
        # label: the person confirms it by typing, never by one tap.
        z -= 2.5
    if prior is None or prior.previous is None:
        z -= 2.0
    return 1.0 / (1.0 + math.exp(-z))


def recognise_photo(
    data: bytes, prior: ReadingPrior | None = None, engine: Engine | None = None
) -> PhotoRecognition:
    """Read the counter in photo bytes; problems are reported, never raised."""
    started = time.perf_counter()
    decoded = decode_photo(data)
    if isinstance(decoded, PhotoProblem):
        return PhotoRecognition(problem=decoded)
    engine = engine or default_engine()
    prior = effective_prior(prior)
    width, height = decoded.original_width, decoded.original_height
    rgb = np.asarray(decoded.image)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    details: dict[str, float] = {
        "brightness": round(float(grey.mean()), 1),
        "sharpness": round(sharpness(grey), 1),
        "contrast": round(float(grey.std()), 1),
    }
    if details["brightness"] < DARK_BRIGHTNESS:
        return PhotoRecognition(
            problem=PhotoProblem.TOO_DARK, details=details, width=width, height=height
        )
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    lines = detect_lines(bgr, engine)
    scored = score_readings(lines, engine, prior)
    candidates = weigh(scored, prior, engine)
    if not candidates or candidates[0].confidence < CONFIDENT:
        # White digits on black drums are often missed by a detector trained mostly on dark
        # text on light ground: look once more at the negative.
        lines += detect_lines(np.ascontiguousarray(255 - bgr), engine)
        # A counter that fills the frame (a close-up of the drums or of the LCD) is often
        # not boxed as a line: its digits are larger than any text the detector learnt,
        # and each drum window or segment group is boxed apart, or nothing is. Inside a
        # border the same row is the size of ordinary text.
        inside = detect_lines(framed(bgr, CLOSE_UP_BORDER), engine)
        for line in inside:
            line.framed = True
        lines += inside
        if bgr.shape[1] >= STRIP_RATIO * bgr.shape[0]:
            # A tight crop of the counter alone: the whole photo may be the line.
            lines.append(whole_image_line(bgr, engine))
        scored = score_readings(lines, engine, prior)
        candidates = weigh(scored, prior, engine)
        details["second_pass"] = 1.0
    details["lines"] = float(len(lines))
    details["seconds"] = round(time.perf_counter() - started, 3)
    if not candidates:
        return PhotoRecognition(
            problem=_why_unread(lines, details), details=details, width=width, height=height
        )
    return PhotoRecognition(
        candidates=tuple(candidates), details=details, width=width, height=height
    )


def framed(bgr: np.ndarray, share: float) -> np.ndarray:
    """The photo inside a plain border `share` of its longer side wide on every side, in
    the colour of its own edges.

    Box coordinates found on it are offset by the border; only their sizes are compared
    with boxes found on the photo itself.
    """
    height, width = bgr.shape[:2]
    border = round(share * max(height, width))
    edges = np.concatenate([bgr[0], bgr[-1], bgr[:, 0], bgr[:, -1]])
    colour = [int(c) for c in np.median(edges, axis=0)]
    return cv2.copyMakeBorder(
        bgr, border, border, border, border, cv2.BORDER_CONSTANT, value=colour
    )


def whole_image_line(bgr: np.ndarray, engine: Engine) -> TextLine:
    """The whole photo read as one text line."""
    height, width = bgr.shape[:2]
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    box = TextBox(corners.astype(np.float32), 1.0)
    return TextLine(box, bgr, engine.recognizer.recognise([bgr])[0])


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian on a 640-px copy: low on a blurred or shaken photo."""
    scale = 640 / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale) if scale < 1 else grey
    return float(cv2.Laplacian(small, cv2.CV_32F).var())


def _why_unread(lines: list[TextLine], details: dict[str, float]) -> PhotoProblem:
    """The likeliest reason nothing was read, for the person's next try."""
    if details["brightness"] < 2 * DARK_BRIGHTNESS:
        return PhotoProblem.TOO_DARK
    if details["sharpness"] < BLURRED_SHARPNESS and details["contrast"] >= FLAT_CONTRAST:
        # (A flat wall is sharp-less too, but there is simply nothing on it.)
        return PhotoProblem.BLURRED
    if any(sum(c.isdigit() for c in line.text.text) >= 1 for line in lines):
        return PhotoProblem.NO_DIGITS
    return PhotoProblem.COUNTER_NOT_FOUND


__all__ = [
    "CONFIDENT",
    "DEFAULT_MAX_INCREASE",
    "Engine",
    "default_engine",
    "effective_prior",
    "recognise_photo",
    "score_readings",
    "step_likelihood",
]
