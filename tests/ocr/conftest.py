"""Fixtures for the OCR tests: generated photos and lines, the shipped model."""

from __future__ import annotations

import io
import random
import shutil

import pytest
from PIL import Image

from ocr.line_reading import TesseractModel
from ocr.synthetic.meters import MeterPhoto, make_meter_photo

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="the tesseract binary is not installed"
)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    """The image as a phone would send it."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def model() -> TesseractModel:
    """The shipped digits model."""
    shipped = TesseractModel()
    assert shipped.path.exists(), f"missing {shipped.path}"
    return shipped


@pytest.fixture(scope="session")
def closeup_photo() -> MeterPhoto:
    """A generated close-up of a meter (seed chosen once; not a training seed)."""
    return make_meter_photo(random.Random("tests:closeup"), closeup=True)
