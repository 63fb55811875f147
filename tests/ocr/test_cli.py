"""`kabinet ocr` output: FILE<TAB>READING<TAB>CONFIDENCE or FILE<TAB>-<TAB>REASON."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from ocr.cli import run
from ocr.synthetic.meters import MeterPhoto
from tests.ocr.conftest import jpeg_bytes

# Runs the OCR command line with its process pool: the e2e tier.
pytestmark = pytest.mark.e2e


def test_cli_prints_one_line_per_file(tmp_path: Path, closeup_photo: MeterPhoto) -> None:
    photo = tmp_path / "meter.jpg"
    photo.write_bytes(jpeg_bytes(closeup_photo.image))
    pdf = tmp_path / "bill.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    missing = tmp_path / "missing.jpg"
    out = io.StringIO()
    status = run([str(photo), str(pdf), str(missing)], closeup_photo.reading - 100, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(rf"{re.escape(str(photo))}\t{closeup_photo.reading}\t[01]\.\d\d", lines[0])
    assert lines[1] == f"{pdf}\t-\tnot_an_image"
    assert lines[2] == f"{missing}\t-\tnot_an_image"
    assert status == 1
