"""Meter photo → reading candidates: PP-OCRv5 on onnxruntime, our meter logic, a second reader.

Public API: `MeterReader` (the `core.photo_reading.MeterPhotoReader` port), `CONFIDENT` (the
confidence at which the bot may offer the best candidate for one tap) and `ocr.cli.run` (the
`kabinet ocr` command). Nothing is built at import time; see ocr/README.md.
"""

from ocr.pipeline import CONFIDENT, DEFAULT_MAX_INCREASE
from ocr.reader import MeterReader

__all__ = ["CONFIDENT", "DEFAULT_MAX_INCREASE", "MeterReader"]
