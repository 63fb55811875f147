"""Fixtures for the OCR tests: generated photos and lines, the shipped model."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

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


def meter_face(
    counter: Image.Image, labels: list[tuple[str, tuple[int, int], int]], size=(900, 700)
) -> Image.Image:
    """A plain meter face: the counter at (180, 260) and printed labels (text, where, px)."""
    face = Image.new("RGB", size, (226, 226, 220))
    face.paste(counter, (180, 260))
    draw = ImageDraw.Draw(face)
    for text, where, px in labels:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", px)
        draw.text(where, text, fill=(25, 25, 25), font=font)
    return face


def meter_photo(integer: str, decimals: str = "", seed: str = "meter-photo") -> bytes:
    """JPEG of a generated meter face: drum counter, serial number and ratings around it."""
    from ocr.synthetic.counters import draw_drum_counter

    counter = draw_drum_counter(random.Random(seed), integer, decimals, realism=0.0).image
    right = 180 + counter.width + 20
    face = meter_face(
        counter,
        [("№ 25288446-1996", (200, 120), 44), ("kWh", (right, 290), 40), ("220 V", (200, 520), 36)],
        size=(max(900, right + 120), 700),
    )
    return jpeg_bytes(face)


def blank_photo() -> bytes:
    """JPEG of a grey wall: nothing on it to read."""
    return jpeg_bytes(Image.new("RGB", (640, 480), (150, 150, 145)))


def kept_photos(folder: Path) -> list[Path]:
    """Photos a DirectoryPhotoStore kept as evidence under `folder` (not the pending ones)."""
    return [p for p in folder.rglob("*.jpg") if "pending" not in p.parts]
