"""Meter photo → reading candidates: PP-OCRv5 on onnxruntime, our meter logic, a second reader.

Public API: `MeterReader` (the `core.photo_reading.MeterPhotoReader` port), `CONFIDENT` (the
confidence at which the bot may offer the best candidate for one tap) and `ocr.cli.run` (the
`kabinet ocr` command); see ocr/README.md. Importing `ocr` loads no model and no runtime:
`MeterReader` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocr.thresholds import CONFIDENT, DEFAULT_MAX_INCREASE

if TYPE_CHECKING:
    from ocr.reader import MeterReader


def __getattr__(name: str) -> Any:
    if name == "MeterReader":
        from ocr.reader import MeterReader

        return MeterReader
    raise AttributeError(f"module 'ocr' has no attribute {name!r}")


__all__ = ["CONFIDENT", "DEFAULT_MAX_INCREASE", "MeterReader"]
