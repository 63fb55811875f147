"""What the independent check set (bench/ocr_check) showed and what was changed for it:
a drum window the detector missed at a row's end, an LCD's decimal point read in the
wrong place."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from PIL import Image

from core.photo_reading import ReadingPrior
from ocr.counter import TextLine, widen_box
from ocr.lcd_seam import LcdLine, LcdLineReading
from ocr.pipeline import Engine, default_engine, joined_lcd_rows, point_shifts, recognise_photo
from ocr.ppocr import LineText, TextBox
from ocr.synthetic.counters import draw_lcd_counter
from tests.ocr.conftest import jpeg_bytes, meter_face


def test_a_row_of_drum_windows_is_widened_by_a_window_each_way() -> None:
    # Four characters in a 400 × 100 box: a window is ~100 px wide.
    box = TextBox(np.array([[100, 50], [500, 50], [500, 150], [100, 150]], np.float32), 0.9)
    wide = widen_box(box, 1.0, 4)
    assert np.allclose(wide.corners[:, 0], [0, 600, 600, 0])
    assert np.allclose(wide.corners[:, 1], box.corners[:, 1])
    assert wide.height == box.height


def test_a_tilted_row_is_widened_along_its_own_slope() -> None:
    angle = np.radians(10)
    along, across = (
        np.array([np.cos(angle), np.sin(angle)]),
        np.array([-np.sin(angle), np.cos(angle)]),
    )
    start = np.array([200.0, 200.0])
    corners = np.array(
        [start, start + 300 * along, start + 300 * along + 60 * across, start + 60 * across],
        np.float32,
    )
    wide = widen_box(TextBox(corners, 0.9), 1.2, 5)
    assert abs(wide.width - (300 + 2 * 1.2 * 60)) < 1e-3
    assert abs(wide.angle - 10) < 1e-3


def test_an_lcd_point_may_be_off_by_up_to_two_digits() -> None:
    shifts = point_shifts("2925", "545")
    assert shifts[0] == ("2925", "read")
    assert {digits for digits, how in shifts if how == "shifted"} == {
        "29",
        "292",
        "29255",
        "292554",
    }
    assert point_shifts("018364", "") == [
        ("018364", "read"),
        ("0183", "shifted"),
        ("01836", "shifted"),
    ]


def test_an_lcd_point_read_one_digit_early_is_found_with_the_prior() -> None:
    """The LCD reader saw "01836.42": only the previous reading says it is 018364."""
    engine = default_engine()

    def lcd(crop: Image.Image) -> LcdLine:
        if crop.height >= 60:
            return LcdLine(0.95, (LcdLineReading("01836", 0.9, decimals=2, fraction="42"),))
        return LcdLine(0.2, ())

    with_lcd = replace(engine, lcd_reader=lcd, second_reader=None)
    glass = draw_lcd_counter(random.Random("lcd-point"), "018364", "2", realism=0.0).image
    face = meter_face(glass, [("kWh", (760, 290), 40)])
    seen = recognise_photo(jpeg_bytes(face), ReadingPrior(previous=18200), with_lcd)
    assert 18364 in [c.value for c in seen.candidates]


class _Reads:
    """A recognizer that reads every crop as the same text (records the crop widths)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.widths: list[int] = []

    def recognise(self, crops: list[np.ndarray]) -> list[LineText]:
        self.widths += [crop.shape[1] for crop in crops]
        n = len(self.text)
        return [
            LineText(self.text, (0.9,) * n, tuple((i + 0.5) / n for i in range(n)), (), np.zeros(1))
            for _ in crops
        ]


def _line(left: float, width: float, text: str, top: float = 100, height: float = 80) -> TextLine:
    corners = np.array(
        [[left, top], [left + width, top], [left + width, top + height], [left, top + height]],
        np.float32,
    )
    text_read = _Reads(text).recognise([np.zeros((1, 1, 3), np.uint8)])[0]
    return TextLine(TextBox(corners, 0.9), np.zeros((8, 8, 3), np.uint8), text_read)


def test_an_lcd_row_cut_in_two_by_glare_is_read_as_one_line() -> None:
    recognizer = _Reads("88888888")
    engine = Engine(detector=None, recognizer=recognizer)  # type: ignore[arg-type]
    value = _line(100, 400, "86883")
    value.ghostly = True
    rest = _line(540, 200, "18HH")  # the decimals beyond a glare spot, 40 px away
    label = _line(100, 200, "CE303", top=300, height=40)  # another row: not joined
    far = _line(1000, 200, "kWh")  # far beyond the row's end
    bgr = np.full((600, 1400, 3), 200, np.uint8)
    joined = joined_lcd_rows([value, rest, label, far], bgr, engine)
    assert len(joined) == 1
    assert joined[0].ghostly and not joined[0].merged
    assert abs(joined[0].box.width - 640) < 2
    assert recognizer.widths and abs(recognizer.widths[0] - 640) < 3
