"""The pipeline's parts on generated meter faces: which line is the counter, and its cuts."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from PIL import Image

from core.photo_reading import PhotoProblem, ReadingPrior
from ocr.lcd_seam import LcdLine, LcdLineReading
from ocr.pipeline import CONFIDENT, default_engine, recognise_photo
from ocr.synthetic.counters import draw_drum_counter, draw_lcd_counter
from tests.ocr.conftest import blank_photo, jpeg_bytes, meter_face


def drums(integer: str, decimals: str, seed: str = "drums") -> tuple:
    counter = draw_drum_counter(random.Random(seed), integer, decimals, realism=0.0)
    return counter.image, 180 + counter.image.width + 20


@pytest.mark.e2e  # runs tesseract
def test_counter_is_chosen_over_the_serial_number_line() -> None:
    counter, right = drums("04920", "")
    face = meter_face(
        counter,
        [("№ 25288446-1996", (200, 120), 44), ("kWh", (right, 290), 40), ("220 V", (200, 520), 36)],
    )
    for prior in (None, ReadingPrior(previous=4790)):
        best = recognise_photo(jpeg_bytes(face), prior).best
        assert best is not None
        assert (best.value, best.digits) == (4920, "04920")


@pytest.mark.e2e  # runs tesseract
def test_red_decimal_drum_is_cut_off() -> None:
    counter, right = drums("04920", "7")
    face = meter_face(counter, [("kWh", (right, 290), 40)])
    best = recognise_photo(jpeg_bytes(face)).best
    assert best is not None
    assert best.value == 4920
    with_prior = recognise_photo(jpeg_bytes(face), ReadingPrior(previous=4790)).best
    assert with_prior is not None and with_prior.value == 4920
    assert with_prior.confidence >= CONFIDENT


@pytest.mark.e2e  # runs tesseract
def test_lcd_total_is_chosen_over_the_tariff_register() -> None:
    total = draw_lcd_counter(random.Random("lcd-total"), "018364", "2", realism=0.0).image
    face = meter_face(total, [("T1  012345.6 kWh", (200, 480), 40), ("kWh", (760, 290), 40)])
    for prior in (None, ReadingPrior(previous=18200)):
        best = recognise_photo(jpeg_bytes(face), prior).best
        assert best is not None
        assert best.value == 18364


@pytest.mark.e2e  # runs tesseract
def test_leading_zeros_are_positions_not_value() -> None:
    counter, right = drums("00705", "3", seed="zeros")
    face = meter_face(counter, [("kWh", (right, 290), 40)])
    best = recognise_photo(jpeg_bytes(face), ReadingPrior(previous=650)).best
    assert best is not None
    assert (best.value, best.digits) == (705, "00705")
    assert best.confidence >= CONFIDENT


def test_an_lcd_reader_plugs_in_behind_the_seam() -> None:
    """The LCD reader's readings join the same choice: the total, not the T1 register."""
    engine = default_engine()
    asked: list[tuple[int, int]] = []

    def lcd(crop: Image.Image) -> LcdLine:
        asked.append(crop.size)
        if crop.height >= 60:  # the big glass: the total, with a lit decimal point
            return LcdLine(0.95, (LcdLineReading("018364", 0.96, decimals=1, unit=True),))
        return LcdLine(0.9, (LcdLineReading("012345", 0.97, decimals=1, tariff="T1"),))

    with_lcd = replace(engine, lcd_reader=lcd, second_reader=None)
    glass = draw_lcd_counter(random.Random("lcd-seam"), "018364", "2", realism=1.0).image
    face = meter_face(glass, [("T1  012345.6", (200, 480), 40)])
    for prior in (None, ReadingPrior(previous=18200)):
        best = recognise_photo(jpeg_bytes(face), prior, with_lcd).best
        assert best is not None and best.value == 18364
    assert asked, "the LCD reader was asked about the lines"
    confident = recognise_photo(jpeg_bytes(face), ReadingPrior(previous=18200), with_lcd).best
    assert confident is not None and confident.confidence >= CONFIDENT


def test_a_blank_wall_is_no_counter_and_a_black_photo_too_dark() -> None:
    assert recognise_photo(blank_photo()).problem is PhotoProblem.COUNTER_NOT_FOUND
    black = jpeg_bytes(Image.new("RGB", (640, 480), (3, 3, 3)))
    assert recognise_photo(black).problem is PhotoProblem.TOO_DARK
