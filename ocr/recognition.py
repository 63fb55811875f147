"""The whole synchronous pipeline for one photo: decode, check, locate, read, weigh.

Runs inside a worker (thread or process); it never raises for bad input.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.photo_reading import (
    PhotoProblem,
    PhotoRecognition,
    ReadingCandidate,
    ReadingPrior,
    fits_prior,
    implied_increase,
)
from ocr.decoding import DecodedPhoto, decode_photo
from ocr.line_reading import LineReading, TesseractModel, read_lines
from ocr.locating import (
    DETAIL_SIDE,
    LOCATE_SIDE,
    CounterRow,
    cut_row,
    find_counter_rows,
    integer_part,
    measure_quality,
)

# The bot treats a candidate at or above this confidence as read; below, it asks to type.
CONFIDENT = 0.7
# With a previous reading but no stated maximum, months of household use stay below this.
DEFAULT_MAX_INCREASE = 5000
MAX_ROWS = 3
DETAIL_ROWS = 2
MISFIT_CEILING = 0.3
RIVAL_PENALTY = 0.75
# A best row scoring below this sends the locator to look at full working size.
WEAK_ROW = 0.45
MIN_DIGITS = 3
# Below these the photo is too dark or too soft to hope for digits.
DARK_BRIGHTNESS = 28.0
DARK_PERCENTILE = 60.0
BLUR_SHARPNESS = 0.1

LinesReader = Callable[[list[Image.Image]], list[LineReading]]


# A reading made by cutting digits off one that was read (glued decimals, a frame edge).
DERIVED_WEIGHT = 0.8
# What a line Tesseract scored 0 is worth, times its weakest character's score.
ZERO_LINE_WEIGHT = 0.3
# Steps up to this many kWh are all equally likely; larger ones less and less.
USUAL_INCREASE = 1000
# Alternatives weaker than this (the model's 0..1 score for a character) are noise.
ALTERNATIVE_FLOOR = 0.1
MAX_SUBSTITUTIONS = 2
# A reading rebuilt from alternatives is a guess the prior made likely: the person confirms it.
AMENDED_CEILING = 0.6


@dataclass
class _Evidence:
    """Readings that gave the same integer digits: their confidences and row ranks.

    `derived` readings were not read as such (a prefix, or rebuilt from alternatives); they
    do not count as a second opinion when a row's cuts agree.
    """

    digits: str
    confidences: list[float] = field(default_factory=list)
    row_ranks: list[int] = field(default_factory=list)
    derived: bool = False
    amended: bool = False
    direct: int = 0


def effective_prior(prior: ReadingPrior | None) -> ReadingPrior | None:
    """The prior with a household-sized maximum increase when only the previous is known."""
    if prior is None or prior.previous is None or prior.max_increase is not None:
        return prior
    return ReadingPrior(
        previous=prior.previous, digit_count=prior.digit_count, max_increase=DEFAULT_MAX_INCREASE
    )


def _integer_digits(text: str) -> str:
    """Digits before the decimal point (what the black drums show)."""
    head = text.split(".", 1)[0]
    return head


def _line_variants(gray: Image.Image, row: CounterRow, scale: float) -> list[Image.Image]:
    """Two cuts of a row: the blobs found, and with the digits guessed beyond them.

    When nothing was guessed, the second cut is a pitch wider on each side instead.
    """
    blobs = integer_part(row)
    found = tuple(b for b in blobs if not b.guessed)
    if len(found) < 2:
        # The red tail took the real blobs: the guessed ones are all there is.
        found = blobs
    snug = cut_row(gray, found, row.slope, scale)
    if len(found) < len(blobs):
        return [snug, cut_row(gray, blobs, row.slope, scale)]
    centres = [b.cx for b in blobs]
    pitch = (max(centres) - min(centres)) / max(len(blobs) - 1, 1)
    extra = pitch / max(row.digit_height, 1.0)
    return [snug, cut_row(gray, blobs, row.slope, scale, pad_x=0.45 + extra)]


def _shorter_readings(digits: str, prior: ReadingPrior | None) -> list[str]:
    """Prefixes worth trying when decimals were read without their point, and suffixes when
    something beside the counter was read as its first digits."""
    if prior is None:
        return []
    lengths: set[int] = set()
    if prior.digit_count is not None and len(digits) > prior.digit_count:
        lengths.add(prior.digit_count)
    if prior.previous is not None and prior.digit_count is None:
        # A decimal drum or two glued on: try dropping up to three trailing digits.
        lengths.update(
            n for n in range(len(digits) - 3, len(digits)) if n >= len(str(prior.previous))
        )
    shorter = [digits[:n] for n in sorted(lengths) if n >= MIN_DIGITS]
    if prior.previous is not None and (
        prior.digit_count is None or len(digits) > prior.digit_count
    ):
        # A frame edge or an LCD's unlit "8" read as a leading digit.
        shorter += [
            digits[n:]
            for n in (1, 2)
            if len(digits) - n >= max(MIN_DIGITS, len(str(prior.previous)))
        ]
    return shorter


def _with_floor(reading: LineReading) -> LineReading:
    """A line Tesseract scored 0 whose every character it still chose clearly keeps a little
    weight: ghost segments beside the digits pull the line's score to 0 without making its
    digits wrong.
    """
    if reading.confidence > 0 or not reading.choices:
        return reading
    weakest = min(choices[0][1] for choices in reading.choices)
    return LineReading(reading.text, round(ZERO_LINE_WEIGHT * weakest, 4), reading.choices)


def step_likelihood(increase: int, max_increase: int) -> float:
    """How believable a step is, 0.4..1: flat over a few months' use, then falling.

    A household uses a few hundred kWh a month; a step of several thousand is a reading taken
    after a long gap or, more often, a misread digit.
    """
    usual = min(USUAL_INCREASE, max_increase / 2)
    if increase <= usual:
        return 1.0
    return 1.0 - 0.6 * min(1.0, (increase - usual) / max(max_increase - usual, 1))


def amendments(reading: LineReading, prior: ReadingPrior) -> list[tuple[str, float]]:
    """Integer readings that fit the prior with up to two characters swapped for the model's
    own alternatives, each with how much weaker than the original it was (0..1), best first.
    """
    digits = _integer_digits(reading.text)
    if len(digits) < MIN_DIGITS or len(reading.choices) < len(digits):
        return []
    options: list[tuple[int, str, float]] = []
    for position, choices in enumerate(reading.choices[: len(digits)]):
        top = max(choices[0][1], 1e-6)
        options += [
            (position, char, min(1.0, value / top))
            for char, value in choices[1:]
            if char.isdigit() and value >= ALTERNATIVE_FLOOR
        ]
    found: dict[str, float] = {}

    def consider(swaps: tuple[tuple[int, str, float], ...]) -> None:
        chars = list(digits)
        score = 1.0
        for position, char, ratio in swaps:
            chars[position] = char
            score *= ratio
        text = "".join(chars)
        if fits_prior(ReadingCandidate(int(text), text, 0.0), prior):
            found[text] = max(found.get(text, 0.0), score)

    for i, first in enumerate(options):
        consider((first,))
        if MAX_SUBSTITUTIONS > 1:
            for second in options[i + 1 :]:
                if second[0] != first[0]:
                    consider((first, second))
    return sorted(found.items(), key=lambda pair: pair[1], reverse=True)[:3]


def weigh(evidence: dict[str, _Evidence], prior: ReadingPrior | None) -> list[ReadingCandidate]:
    """Turn grouped readings into candidates with a confidence that separates right from wrong.

    Confidence is the model's own certainty, backed by agreement between crops and rows, and
    by the prior: a value the meter cannot show next is kept only as a weak suggestion.
    """
    ranked: list[tuple[bool, ReadingCandidate]] = []
    for item in evidence.values():
        best = max(item.confidences)
        # Two cuts of a row reading the same digits is the agreement worth having.
        opinions = item.direct or len(item.confidences)
        confidence = best * (0.8 + 0.1 * min(opinions, 3) - 0.1)
        if item.derived and not item.direct:
            confidence *= DERIVED_WEIGHT
        if item.amended and not item.direct:
            confidence = min(confidence, AMENDED_CEILING)
        if min(item.row_ranks) > 0:
            confidence *= 0.9
        candidate = ReadingCandidate(
            value=int(item.digits), digits=item.digits, confidence=confidence
        )
        fits = fits_prior(candidate, prior)
        increase = implied_increase(candidate, prior) if prior is not None else None
        if fits and increase is not None and prior is not None and prior.max_increase:
            # Households use hundreds of kWh between readings, not thousands: among readings
            # that fit, the smaller step is the likelier (a glued decimal drum makes it 10×).
            confidence *= step_likelihood(increase, prior.max_increase)
        if not fits:
            # A value this meter cannot show next stays only as a weak suggestion.
            confidence = min(confidence * 0.3, MISFIT_CEILING)
        elif prior is None or prior.previous is None:
            # Nothing to check the reading against: never quite as sure.
            confidence *= 0.9
        ranked.append(
            (
                fits,
                ReadingCandidate(
                    candidate.value, candidate.digits, round(min(confidence, 0.99), 4)
                ),
            )
        )
    # Whatever fits the prior comes first, however confident a misfit is.
    ranked.sort(key=lambda pair: (pair[0], pair[1].confidence), reverse=True)
    candidates = [candidate for _, candidate in ranked]
    fitting = [candidate for fits, candidate in ranked if fits]
    if (
        len(fitting) >= 2
        and fitting[1].value != fitting[0].value
        and fitting[1].confidence > 0.6 * fitting[0].confidence
    ):
        # Two plausible readings that differ: the person should choose, not us.
        top = fitting[0]
        candidates[0] = ReadingCandidate(
            top.value, top.digits, round(top.confidence * RIVAL_PENALTY, 4)
        )
    return candidates


def recognise_photo(
    data: bytes,
    prior: ReadingPrior | None = None,
    model: TesseractModel | None = None,
    lines_reader: LinesReader | None = None,
) -> PhotoRecognition:
    """Read the counter in photo bytes; problems are reported, never raised."""
    started = time.perf_counter()
    model = model or TesseractModel()
    read = lines_reader or (lambda images: read_lines(images, model))
    decoded = decode_photo(data)
    if isinstance(decoded, PhotoProblem):
        return PhotoRecognition(problem=decoded)
    return recognise_image(decoded, effective_prior(prior), read, started)


def recognise_image(
    decoded: DecodedPhoto, prior: ReadingPrior | None, read: LinesReader, started: float
) -> PhotoRecognition:
    """The part after decoding: locate rows, read them, choose."""
    image = decoded.image
    size = {"width": decoded.original_width, "height": decoded.original_height}
    small = image.copy()
    small.thumbnail((LOCATE_SIDE, LOCATE_SIDE), Image.Resampling.BILINEAR)
    rgb_small = np.asarray(small)
    quality = measure_quality(rgb_small.mean(axis=2).astype(np.float32))
    details = {"brightness": round(quality.brightness, 1), "sharpness": round(quality.sharpness, 3)}
    if quality.bright_percentile < DARK_PERCENTILE or quality.brightness < DARK_BRIGHTNESS / 3:
        return PhotoRecognition(problem=PhotoProblem.TOO_DARK, details=details, **size)
    scale = image.width / small.width
    rows = [(row, scale) for row in find_counter_rows(rgb_small, max_rows=MAX_ROWS)]
    if (not rows or rows[0][0].score < WEAK_ROW) and scale > 1.2:
        # Nothing convincing: the counter may be too small for the locate scale; look again
        # at a finer scale (drum digits only: small LCD segments are joined already). The
        # first rows stay: scores from two scales do not compare.
        detail = image.copy()
        detail.thumbnail((DETAIL_SIDE, DETAIL_SIDE), Image.Resampling.BILINEAR)
        detail_scale = image.width / detail.width
        rows += [
            (row, detail_scale)
            for row in find_counter_rows(
                np.asarray(detail), max_rows=DETAIL_ROWS, join_segments=False
            )
        ]
    details["rows"] = float(len(rows))
    if not rows:
        problem = PhotoProblem.COUNTER_NOT_FOUND
        if quality.brightness < DARK_BRIGHTNESS:
            problem = PhotoProblem.TOO_DARK
        elif quality.sharpness < BLUR_SHARPNESS:
            problem = PhotoProblem.BLURRED
        return PhotoRecognition(problem=problem, details=details, **size)
    gray = image.convert("L")
    lines: list[Image.Image] = []
    ranks: list[int] = []
    for rank, (row, row_scale) in enumerate(rows):
        for line in _line_variants(gray, row, row_scale):
            lines.append(line)
            ranks.append(rank)
        if rank == 0:
            # The likeliest row gets a third, taller cut: one more opinion where it matters.
            lines.append(cut_row(gray, integer_part(row), row.slope, row_scale, pad_y=0.45))
            lines.append(cut_row(gray, integer_part(row), row.slope, row_scale, pad_y=0.15))
            ranks += [rank, rank]
    evidence: dict[str, _Evidence] = {}
    readings = [_with_floor(r) for r in read(lines)]
    for rank, reading in zip(ranks, readings, strict=True):
        digits = _integer_digits(reading.text)
        if len(digits) < MIN_DIGITS or reading.confidence <= 0:
            continue
        item = evidence.setdefault(digits, _Evidence(digits))
        item.confidences.append(reading.confidence)
        item.row_ranks.append(rank)
        item.direct += 1
        for shorter in _shorter_readings(digits, prior):
            extra = evidence.setdefault(shorter, _Evidence(shorter, derived=True))
            extra.confidences.append(reading.confidence)
            extra.row_ranks.append(rank)
    if (
        prior is not None
        and prior.previous is not None
        and not any(
            fits_prior(ReadingCandidate(int(e.digits), e.digits, 0.0), prior)
            for e in evidence.values()
            if e.direct
        )
    ):
        # Nothing read fits the previous reading: the model's second choices may.
        for rank, reading in zip(ranks, readings, strict=True):
            for digits, score in amendments(reading, prior):
                extra = evidence.setdefault(digits, _Evidence(digits, derived=True, amended=True))
                extra.confidences.append(reading.confidence * score)
                extra.row_ranks.append(rank)
    details["seconds"] = round(time.perf_counter() - started, 3)
    if not evidence:
        problem = (
            PhotoProblem.BLURRED if quality.sharpness < BLUR_SHARPNESS else (PhotoProblem.NO_DIGITS)
        )
        return PhotoRecognition(problem=problem, details=details, **size)
    candidates = weigh(evidence, prior)
    return PhotoRecognition(candidates=tuple(candidates[:5]), details=details, **size)
