"""Training lines: varied ones stay readable lines with a digits label."""

from __future__ import annotations

import random
import re

from ocr.synthetic.counters import counter_fonts, training_fonts
from ocr.synthetic.lines import LINE_HEIGHTS, make_training_line


def test_varied_and_distant_lines_are_grey_lines_with_a_digits_label() -> None:
    for index in range(12):
        line, label = make_training_line(
            random.Random(f"tests:{index}"), 1.0, variety=True, small_share=0.5
        )
        assert line.mode == "L"
        assert LINE_HEIGHTS[0] <= line.height <= LINE_HEIGHTS[1]
        assert re.fullmatch(r"\d+(\.\d+)?|\d+", label), label


def test_training_faces_include_the_photo_generators() -> None:
    assert set(counter_fonts()) <= set(training_fonts())
