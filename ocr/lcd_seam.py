"""The seam between the photo pipeline and a seven-segment LCD line recognizer.

The pipeline asks an `LcdReader` about each detected text line; the reader says how much
the line looks like an LCD and which integer readings it sees there. `ocr.lcd` (a small
CRNN trained on seven-segment lines) is plugged in by `lcd_reader()` when it is installed
with its model; without it, LCD lines are read by PP-OCR like any other text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LcdLineReading:
    """One way of reading an LCD line: the integer part (digits before a lit decimal point,
    leading zeros kept), the reader's 0..1 confidence in it, and what else the line shows."""

    integer: str
    confidence: float
    decimals: int = 0
    unit: bool = False
    tariff: str = ""
    clock: bool = False
    # The digits read after the point: where the point really is, if it was missed.
    fraction: str = ""


@dataclass(frozen=True)
class LcdLine:
    """What an LCD reader made of one line crop."""

    likeness: float
    readings: tuple[LcdLineReading, ...] = ()


LcdReader = Callable[[Image.Image], LcdLine]


def lcd_reader() -> LcdReader | None:
    """`ocr.lcd` behind the seam, or None when that package or its model is not installed."""
    try:
        from ocr.lcd import read_lcd_line
    except ImportError:
        return None

    def read(crop: Image.Image) -> LcdLine:
        reading = read_lcd_line(crop)
        # Texts that share an integer part are one reading of the counter: add them up.
        merged: dict[str, LcdLineReading] = {}
        for candidate in reading.candidates:
            integer = candidate.integer
            if not integer.isdigit():
                continue
            seen = merged.get(integer)
            confidence = candidate.confidence + (seen.confidence if seen else 0.0)
            merged[integer] = LcdLineReading(
                integer=integer,
                confidence=min(1.0, confidence),
                decimals=len(candidate.decimals),
                unit=candidate.unit or (seen.unit if seen else False),
                tariff=candidate.tariff,
                clock=candidate.clock,
                fraction=candidate.decimals if candidate.decimals.isdigit() else "",
            )
        ordered = sorted(merged.values(), key=lambda r: r.confidence, reverse=True)
        return LcdLine(likeness=float(reading.lcd_likeness), readings=tuple(ordered))

    try:
        read(Image.new("L", (96, 32), 200))  # loads the model now, and proves it loads
    except Exception:  # a missing or broken model file: PP-OCR reads LCDs alone
        log.exception("the LCD recognizer is installed but does not load")
        return None
    return read


__all__ = ["LcdLine", "LcdLineReading", "LcdReader", "lcd_reader"]
