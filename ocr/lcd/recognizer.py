"""Reads one seven-segment LCD line with the small CRNN shipped in `model/`.

The model was trained on synthetic LCD lines (see `training/README.md`); it runs with
onnxruntime on the CPU. It is loaded on the first call, once per process, never at import.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ocr.lcd.decoding import LcdCandidate, beam_search, parse

MODEL_PATH = Path(__file__).parent / "model" / "lcd_crnn.onnx"
LINE_HEIGHT = 32
# Longer lines are squeezed: a meter's LCD row never holds more than ~16 characters.
MAX_WIDTH = 512
MIN_WIDTH = 16

_session_lock = threading.Lock()
_session = None


@dataclass(frozen=True)
class LcdReading:
    """What an LCD line says: candidates best first, and how much it looks like an LCD.

    `lcd_likeness` (0..1) is the model's own estimate that the line is drawn in seven
    segments rather than printed text or drums.
    """

    candidates: tuple[LcdCandidate, ...]
    lcd_likeness: float

    @property
    def best(self) -> LcdCandidate | None:
        """The most likely candidate, if any was read."""
        return self.candidates[0] if self.candidates else None


def line_pixels(image: Image.Image) -> np.ndarray:
    """The line as the network sees it: grey, LINE_HEIGHT rows, aspect kept (uint8)."""
    grey = image.convert("L")
    width = round(grey.width * LINE_HEIGHT / max(1, grey.height))
    width = min(MAX_WIDTH, max(MIN_WIDTH, width))
    return np.asarray(grey.resize((width, LINE_HEIGHT), Image.Resampling.BILINEAR))


def normalise(pixels: np.ndarray) -> np.ndarray:
    """Per-line standardisation: LCD contrast varies tenfold between photos."""
    f = pixels.astype(np.float32) / 255.0
    return (f - f.mean()) / max(float(f.std()), 0.02)


def _load() -> Any:  # an onnxruntime InferenceSession (the library has no types)
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime as ort  # a heavy import, paid only when an LCD is read

            options = ort.SessionOptions()
            # One thread per line: the photo pipeline decides how much runs in parallel.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _session = ort.InferenceSession(
                str(MODEL_PATH), options, providers=["CPUExecutionProvider"]
            )
        return _session


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def run_model(image: Image.Image) -> tuple[np.ndarray, float]:
    """(time, classes) log-probabilities and the LCD-likeness of one line."""
    x = normalise(line_pixels(image))[None, None]
    logits, lcd_logit = _load().run(None, {"line": x})
    likeness = 1.0 / (1.0 + math.exp(-float(np.asarray(lcd_logit).ravel()[0])))
    return _log_softmax(logits[:, 0, :].astype(np.float64)), likeness


def read_lcd_line(
    image: Image.Image, *, beam_width: int = 10, max_candidates: int = 5
) -> LcdReading:
    """Reads a cropped seven-segment LCD line (PIL image, grey or RGB, any polarity).

    Returns up to `max_candidates` readings, best first, each with the model's probability
    of its exact text; a candidate's `point` says where the decimal point falls, so the
    caller can cut the decimals (`candidate.integer`).
    """
    log_probs, likeness = run_model(image)
    texts = beam_search(log_probs, beam_width=beam_width)
    candidates = [
        parse(text, math.exp(score)) for text, score in texts[:max_candidates] if text.strip()
    ]
    return LcdReading(candidates=tuple(candidates), lcd_likeness=likeness)
