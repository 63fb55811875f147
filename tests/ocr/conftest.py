"""Fixtures for the OCR tests: generated photos and lines, the shipped model."""

from __future__ import annotations

import io
import random
import shutil

import pytest
from PIL import Image, ImageDraw

from ocr.line_reading import TesseractModel
from ocr.synthetic.counters import draw_counter
from ocr.synthetic.meters import MeterPhoto

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
    """A plain, well-lit close-up of a drum counter on a meter face: any working model reads it.

    The benchmark covers hard photos; tests only need one the model must not miss.
    """
    rng = random.Random("tests:closeup")
    counter = draw_counter(rng, "04920", "", lcd_share=0.0, realism=0.0)
    face = Image.new(
        "RGB", (counter.image.width * 2, counter.image.width * 3 // 2), (228, 228, 222)
    )
    face.paste(counter.image, (counter.image.width // 2, counter.image.width // 3))
    ImageDraw.Draw(face).text(
        (counter.image.width // 2, counter.image.width), "ЛЕО  220 V", fill=(30, 30, 30)
    )
    return MeterPhoto(image=face, reading=counter.value, digit_count=5, closeup=True)
