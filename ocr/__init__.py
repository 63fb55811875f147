"""Meter photo → reading candidates with Tesseract and our own digits model.

Public API: `TesseractMeterReader` (the `core.photo_reading.MeterPhotoReader` port),
`CONFIDENT` (the confidence at which the bot may treat the best candidate as read) and
`ocr.cli.run` (the `kabinet ocr` command). Nothing is built at import time.
"""

from ocr.line_reading import TesseractModel
from ocr.reader import TesseractMeterReader
from ocr.recognition import CONFIDENT, DEFAULT_MAX_INCREASE

__all__ = ["CONFIDENT", "DEFAULT_MAX_INCREASE", "TesseractMeterReader", "TesseractModel"]
