"""Reading levelled counter lines with our Tesseract digits model through pytesseract.

All lines of one photo go to a single Tesseract process (a list file, one page per line):
starting Tesseract and loading the model costs more than recognising a 48-pixel line.
"""

from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
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
        """Tesseract options: our model, one raw line per page (psm 13, as it was trained).

        lstm_choice_mode=2 adds each character's alternatives to the hOCR: the prior can then
        pick a reading the model thought second-likeliest at a position.
        """
        return (
            f'--tessdata-dir "{self.tessdata_dir}" --psm 13 --oem 1 '
            "-c lstm_choice_mode=2 -c hocr_char_boxes=0"
        )


Choices = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class LineReading:
    """What the model read on a line: digits and '.', its 0..1 confidence, and alternatives.

    `choices[i]` are the model's (character, 0..1 confidence) options for `text[i]`, best
    first; empty when Tesseract gave none that line up with the text.
    """

    text: str
    confidence: float
    choices: tuple[Choices, ...] = ()


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
        hocr = pytesseract.image_to_pdf_or_hocr(
            str(listing),
            lang=model.name,
            config=model.config,
            extension="hocr",
            timeout=model.timeout_s,
        )
    return parse_hocr(hocr, len(images))


_XHTML = "{http://www.w3.org/1999/xhtml}"
_WCONF = re.compile(r"x_wconf\s+(-?[\d.]+)")
_CONFS = re.compile(r"x_confs\s+(-?[\d.]+)")
_PAGE = re.compile(r"page_(\d+)")


def _classes(element: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in element.iter(f"{_XHTML}{name}") if e.get("class") == "ocrx_cinfo"]


def parse_hocr(hocr: bytes, count: int) -> list[LineReading]:
    """Readings of `count` one-line pages from Tesseract's hOCR with lstm_choice_mode=2."""
    words: list[list[str]] = [[] for _ in range(count)]
    confidences: list[list[float]] = [[] for _ in range(count)]
    choices: list[list[tuple[Choices, ...]]] = [[] for _ in range(count)]
    root = ET.fromstring(hocr)  # noqa: S314 - Tesseract's output for our own line images
    for page in root.iter(f"{_XHTML}div"):
        if page.get("class") != "ocr_page":
            continue
        number = _PAGE.search(page.get("id", ""))
        index = int(number.group(1)) - 1 if number else -1
        if not 0 <= index < count:
            continue
        for word in page.iter(f"{_XHTML}span"):
            if word.get("class") != "ocrx_word":
                continue
            text = _NOT_READING.sub("", word.text or "")
            conf = _WCONF.search(word.get("title", ""))
            if not text or conf is None or float(conf.group(1)) < 0:
                continue
            options: list[Choices] = []
            for group in _classes(word, "span"):
                if not (group.get("id") or "").startswith("lstm_choices"):
                    continue
                found = []
                for choice in group:
                    value = _CONFS.search(choice.get("title", ""))
                    char = (choice.text or "").strip()
                    if value and char and not _NOT_READING.search(char):
                        found.append((char, float(value.group(1)) / 100))
                if found:
                    options.append(tuple(found))
            aligned = len(options) == len(text) and all(
                o[0][0] == c for o, c in zip(options, text, strict=True)
            )
            # A space splits a line into words now and then; the digits still run on.
            words[index].append(text)
            confidences[index].append(float(conf.group(1)) / 100)
            choices[index].append(tuple(options) if aligned else ())
    readings = []
    for w, c, o in zip(words, confidences, choices, strict=True):
        if not w:
            readings.append(LineReading("", 0.0))
            continue
        aligned_all = all(len(part) == len(text) for part, text in zip(o, w, strict=True))
        merged = tuple(x for part in o for x in part) if aligned_all else ()
        readings.append(LineReading("".join(w), min(c), merged))
    return readings
