"""The seven-segment LCD recognizer on lines drawn here, and the choice of the total line.

The lines are drawn by a small renderer of this file (flat-ended segments, fixed sizes),
not by the training generator, so the tests see digits the model was not trained on.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocr.lcd import LcdCandidate, LcdLine, LcdReading, rank_total_lines, read_lcd_line
from ocr.lcd.decoding import parse

SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
    "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}  # fmt: skip


def _segment_boxes(x: float, y: float, w: float, h: float, t: float) -> dict[str, tuple]:
    m = h / 2
    return {
        "a": (x + t, y, x + w - t, y + t),
        "g": (x + t, y + m - t / 2, x + w - t, y + m + t / 2),
        "d": (x + t, y + h - t, x + w - t, y + h),
        "f": (x, y + t, x + t, y + m - t / 2),
        "b": (x + w - t, y + t, x + w, y + m - t / 2),
        "e": (x, y + m + t / 2, x + t, y + h - t),
        "c": (x + w - t, y + m + t / 2, x + w, y + h - t),
    }


def draw_lcd(
    value: str,
    *,
    glass: int = 178,
    ink: int = 60,
    ghost: float = 0.0,
    prefix: str = "",
    unit: bool = False,
    slant: float = 0.0,
) -> Image.Image:
    """A photographed-looking LCD line: segments as rectangles, '.' lights a point."""
    h, w, t = 44, 24, 6
    cells = []
    for ch in value:
        if ch == "." and cells:
            cells[-1] = (cells[-1][0], True)
        else:
            cells.append((ch, False))
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
    width = 20 + len(cells) * (w + 12) + (40 if prefix else 0) + (50 if unit else 0)
    lit = Image.new("L", (width, h + 24))
    off = Image.new("L", lit.size)
    on_draw, off_draw = ImageDraw.Draw(lit), ImageDraw.Draw(off)
    x = 10.0
    if prefix:
        on_draw.text((x, 12), prefix, fill=255, font=font)
        x += 40
    for ch, point in cells:
        for seg, box in _segment_boxes(x, 12, w, h, t).items():
            (on_draw if seg in SEGMENTS[ch] else off_draw).rectangle(box, fill=255)
        dot = (x + w + 3, 12 + h - 5, x + w + 8, 12 + h)
        (on_draw if point else off_draw).rectangle(dot, fill=255)
        x += w + 12
    if unit:
        on_draw.text((x + 4, 12 + h - 18), "kWh", fill=255, font=font)
    if slant:
        lit, off = (
            m.transform(m.size, Image.Transform.AFFINE, (1, slant, -slant * m.height, 0, 1, 0))
            for m in (lit, off)
        )
    alpha = (np.asarray(lit, np.float32) + ghost * np.asarray(off, np.float32)) / 255
    pixels = glass + (ink - glass) * np.clip(alpha, 0, 1)
    image = Image.fromarray(pixels.astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    # A grey-green glass, as most meter LCDs have.
    red, blue = image.point(lambda v: v * 0.95), image.point(lambda v: v * 0.88)
    rgb = Image.merge("RGB", (red, image, blue))
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.mark.parametrize(
    ("value", "integer"),
    [("012345.67", "012345"), ("98760", "98760"), ("00431.2", "00431"), ("7051928.46", "7051928")],
)
def test_reads_seven_segment_lines(value: str, integer: str) -> None:
    reading = read_lcd_line(draw_lcd(value))
    best = reading.best
    assert best is not None
    assert best.integer == integer
    assert best.text == value


def test_finds_the_decimal_point_so_the_decimals_can_be_cut() -> None:
    best = read_lcd_line(draw_lcd("04521.37", unit=True)).best
    assert best is not None
    assert (best.integer, best.decimals, best.point) == ("04521", "37", 5)
    assert best.unit


def test_reads_light_segments_on_a_dark_glass() -> None:
    best = read_lcd_line(draw_lcd("36019.84", glass=30, ink=220)).best
    assert best is not None
    assert best.integer == "36019"


def test_reads_through_ghost_segments_and_a_slant() -> None:
    best = read_lcd_line(draw_lcd("250617.3", ghost=0.2, slant=0.15)).best
    assert best is not None
    assert best.integer == "250617"


def test_reads_a_tariff_label_apart_from_the_value() -> None:
    best = read_lcd_line(draw_lcd("00231.5", prefix="T1")).best
    assert best is not None
    assert best.tariff == "T1"
    assert best.integer == "00231"


def test_candidates_carry_probabilities_best_first() -> None:
    reading = read_lcd_line(draw_lcd("80231.55"))
    scores = [c.confidence for c in reading.candidates]
    assert len(scores) >= 2
    assert scores == sorted(scores, reverse=True)
    assert 0.5 < scores[0] <= 1.0
    assert sum(scores) <= 1.0 + 1e-6


def test_a_printed_line_looks_less_like_an_lcd_than_segments() -> None:
    printed = Image.new("RGB", (300, 48), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 30)
    ImageDraw.Draw(printed).text((8, 6), "№ 0107481336", fill="black", font=font)
    segments = read_lcd_line(draw_lcd("00431.2"))
    assert read_lcd_line(printed).lcd_likeness < 0.5 < segments.lcd_likeness


@pytest.mark.e2e  # a fresh interpreter
def test_the_model_is_not_loaded_at_import() -> None:
    code = (
        "import sys, ocr.lcd, ocr.lcd.recognizer as r;"
        "assert r._session is None and 'onnxruntime' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


@pytest.mark.parametrize(
    ("text", "tariff", "integer", "decimals", "unit"),
    [
        ("T1 00000.10 kWh", "T1", "00000", "10", True),
        ("018364 kWh", "", "018364", "", True),
        ("00 000000.02", "", "000000", "02", False),
        ("T01000000.02", "T01", "000000", "02", False),
        ("T100000.10kWh", "T1", "00000", "10", True),
        ("T01 000000.02", "T01", "000000", "02", False),
        ("12:45:07", "", "124507", "", False),
    ],
)
def test_parse_splits_label_value_and_unit(text, tariff, integer, decimals, unit) -> None:
    c = parse(text, 0.9)
    assert (c.tariff, c.integer, c.decimals, c.unit) == (tariff, integer, decimals, unit)


def _line(text: str, height: float = 40, nearby: str = "", likeness: float = 0.95) -> LcdLine:
    reading = LcdReading(candidates=(parse(text, 0.9),), lcd_likeness=likeness)
    return LcdLine(reading=reading, box=(0, 0, 200, height), nearby_text=nearby)


def _ranked_texts(lines: list[LcdLine], **kwargs) -> list[str]:
    return [r.candidate.text for r in rank_total_lines(lines, **kwargs)]


def test_the_total_ranks_above_the_clock_the_date_and_the_tariff_registers() -> None:
    lines = [
        _line("12:45", height=30),
        _line("07.12.26", height=30),
        _line("T1 00043528.45", nearby="kWh"),
        _line("00051946.64", nearby="kWh"),
        _line("T2 000518.19", nearby="kWh"),
        _line("8.8.8.8.8.8.8.8"),
    ]
    assert _ranked_texts(lines)[0] == "00051946.64"


def test_the_wanted_register_ranks_first_on_a_multi_zone_meter() -> None:
    lines = [_line("T1 00043528.45 kWh"), _line("00051946.64 kWh"), _line("T2 000518.19 kWh")]
    assert _ranked_texts(lines, tariff="T2")[0] == "T2 000518.19 kWh"


def test_a_big_value_with_kwh_beats_a_small_code_and_its_number() -> None:
    lines = [_line("1.8.0", height=20), _line("018364", height=48, nearby="kW·h")]
    ranked = rank_total_lines(lines)
    assert ranked[0].candidate.integer == "018364"
    assert "kWh" in ranked[0].reasons


def test_a_serial_number_read_off_the_label_is_no_total() -> None:
    lines = [_line("6010748133613038"), _line("00000.10")]
    assert _ranked_texts(lines)[0] == "00000.10"


def test_lines_with_no_digits_are_left_out() -> None:
    empty = LcdLine(LcdReading(candidates=(LcdCandidate("kWh", "", None, 0.8),), lcd_likeness=0.2))
    assert rank_total_lines([empty]) == []


_ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the checkout (main), or two levels up from a helper's worktree.
REAL_DEV = (
    next(
        (p for p in (_ROOT.parent / "shared", _ROOT.parent.parent / "shared") if p.is_dir()),
        _ROOT.parent / "shared",
    )
    / "ocr-real-dev"
)
# Integer parts read right on the 9 hand-cut line crops of real_crops.json (measured: see
# ocr/lcd/training/README.md); a drop means the model or the decoding got worse.
REAL_CROPS_RIGHT = 7
CROPS = _ROOT / "ocr" / "lcd" / "training" / "real_crops.json"


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="../shared/ocr-real-dev is not here")
def test_real_lcd_line_crops_do_not_regress() -> None:
    right = []
    for crop in json.loads(CROPS.read_text())["crops"]:
        photo = Image.open(REAL_DEV / crop["file"]).convert("RGB")
        best = read_lcd_line(photo.crop(tuple(crop["box"]))).best
        right.append(bool(best and best.integer == crop["integer"]))
    assert sum(right) >= REAL_CROPS_RIGHT, right
