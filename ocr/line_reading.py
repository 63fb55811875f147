"""Reading levelled counter lines with our Tesseract digits model through pytesseract.

All lines of one photo go to a single Tesseract process (a list file, one page per line):
starting Tesseract and loading the model costs more than recognising a 48-pixel line.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytesseract
from PIL import Image

MODEL_DIR = Path(__file__).resolve().parent / "tessdata"
MODEL_NAME = "meterdigits"
_NOT_READING = re.compile(r"[^0-9.]")


@dataclass(frozen=True)
class TesseractModel:
    """Where the traineddata lives and how Tesseract is called for counter lines."""

    tessdata_dir: Path = MODEL_DIR
    name: str = MODEL_NAME
    timeout_s: float = 10.0

    @property
    def path(self) -> Path:
        """The .traineddata file."""
        return self.tessdata_dir / f"{self.name}.traineddata"

    @property
    def config(self) -> str:
        """Tesseract options: our model, one raw line per page (psm 13, as it was trained)."""
        return f'--tessdata-dir "{self.tessdata_dir}" --psm 13 --oem 1'


@dataclass(frozen=True)
class LineReading:
    """What the model read on a line: digits and '.', and its 0..1 confidence."""

    text: str
    confidence: float


def read_lines(images: Sequence[Image.Image], model: TesseractModel) -> list[LineReading]:
    """Run the model on each line image in one Tesseract call; unreadable lines give ('', 0)."""
    if not images:
        return []
    with tempfile.TemporaryDirectory(prefix="kabinet-ocr-") as work:
        paths = []
        for index, image in enumerate(images):
            path = Path(work) / f"line{index:02d}.png"
            image.save(path, compress_level=1)
            paths.append(str(path))
        listing = Path(work) / "lines.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        data = pytesseract.image_to_data(
            str(listing), lang=model.name, config=model.config,
            output_type=pytesseract.Output.DICT, timeout=model.timeout_s)
    words: list[list[str]] = [[] for _ in images]
    confidences: list[list[float]] = [[] for _ in images]
    for page, text, conf in zip(data["page_num"], data["text"], data["conf"], strict=True):
        cleaned = _NOT_READING.sub("", str(text))
        index = int(page) - 1
        if cleaned and float(conf) >= 0 and 0 <= index < len(images):
            words[index].append(cleaned)
            confidences[index].append(float(conf) / 100)
    return [LineReading("".join(w), min(c)) if w else LineReading("", 0.0)
            for w, c in zip(words, confidences, strict=True)]
