"""The photo pipeline: problems with reasons, and a real read of a generated close-up."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image, ImageDraw

from core.photo_reading import PhotoProblem, ReadingPrior
from ocr.line_reading import LineReading, TesseractModel
from ocr.recognition import CONFIDENT, recognise_photo
from ocr.synthetic.meters import MeterPhoto
from tests.ocr.conftest import jpeg_bytes, needs_tesseract


def never_called(images: list[Image.Image]) -> list[LineReading]:
    raise AssertionError("no line should reach the model")


def test_black_photo_is_too_dark() -> None:
    data = jpeg_bytes(Image.new("RGB", (800, 600), (5, 5, 5)))
    assert recognise_photo(data, lines_reader=never_called).problem is PhotoProblem.TOO_DARK


def test_photo_without_digits_says_counter_not_found() -> None:
    gradient = np.tile(np.linspace(60, 200, 800, dtype=np.uint8), (600, 1))
    image = Image.fromarray(np.dstack([gradient] * 3))
    ImageDraw.Draw(image).ellipse((200, 150, 600, 450), fill=(90, 140, 90))
    started = time.perf_counter()
    recognition = recognise_photo(jpeg_bytes(image), lines_reader=never_called)
    assert recognition.problem in {PhotoProblem.COUNTER_NOT_FOUND, PhotoProblem.NO_DIGITS}
    assert recognition.best is None
    assert time.perf_counter() - started < 1.0


def test_rows_that_read_as_nothing_give_no_digits(closeup_photo: MeterPhoto) -> None:
    def blank(images: list[Image.Image]) -> list[LineReading]:
        return [LineReading("", 0.0) for _ in images]

    recognition = recognise_photo(jpeg_bytes(closeup_photo.image), lines_reader=blank)
    assert recognition.problem in {PhotoProblem.NO_DIGITS, PhotoProblem.BLURRED}


def test_prior_chooses_the_fitting_line(closeup_photo: MeterPhoto) -> None:
    truth = str(closeup_photo.reading).zfill(closeup_photo.digit_count)

    def serial_first(images: list[Image.Image]) -> list[LineReading]:
        # The most confident line is a serial number; one other line is the counter.
        readings = [LineReading("4610735", 0.97) for _ in images]
        readings[-1] = LineReading(truth, 0.9)
        return readings

    prior = ReadingPrior(previous=max(0, closeup_photo.reading - 200))
    recognition = recognise_photo(jpeg_bytes(closeup_photo.image), prior, lines_reader=serial_first)
    assert recognition.best is not None
    assert recognition.best.value == closeup_photo.reading


@needs_tesseract
def test_generated_closeup_is_read(closeup_photo: MeterPhoto, model: TesseractModel) -> None:
    prior = ReadingPrior(previous=max(0, closeup_photo.reading - 200))
    recognition = recognise_photo(jpeg_bytes(closeup_photo.image), prior, model)
    assert recognition.best is not None
    assert recognition.best.value == closeup_photo.reading
    assert recognition.best.confidence >= CONFIDENT
