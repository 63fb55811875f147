"""The shipped model loads and reads generated counter lines (CI never retrains)."""

from __future__ import annotations

import random

import pytest

from ocr.line_reading import TesseractModel, read_lines
from ocr.synthetic.counters import draw_counter
from tests.ocr.conftest import needs_tesseract


@needs_tesseract
@pytest.mark.e2e  # runs tesseract
def test_model_reads_clean_counter_lines(model: TesseractModel) -> None:
    rng = random.Random("tests:lines")
    lines, labels = [], []
    for _ in range(12):
        counter = draw_counter(rng, lcd_share=0.3)
        line = counter.image.convert("L")
        lines.append(line.resize((max(8, line.width * 48 // line.height), 48)))
        labels.append(counter.label)
    readings = read_lines(lines, model)
    exact = sum(r.text == label for r, label in zip(readings, labels, strict=True))
    assert exact >= 9, list(zip([r.text for r in readings], labels, strict=True))
    assert all(0 <= r.confidence <= 1 for r in readings)


def test_model_file_is_small(model: TesseractModel) -> None:
    assert model.path.stat().st_size < 8 * 1024 * 1024
