"""PaddleOCR's PP-OCRv5 text detector and recognizer, run with onnxruntime on the CPU.

The model files ship in `ocr/models/ppocrv5/` (see the PROVENANCE file there); nothing is
fetched at run time. This module knows text, not meters: boxes of text on a photo, and
what each box says, with per-character probabilities kept so that the meter logic above
can ask for digits only and weigh alternatives.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent / "models" / "ppocrv5"
# The files as taken (PROVENANCE); a different file would silently change every figure.
SHA256 = {
    "det.onnx": "d7fe3ea74652890722c0f4d02458b7261d9f5ae6c92904d05707c9eb155c7924",
    "rec_meter.onnx": "a594f4f786bd4af33b708017d3c685d3a38643b6a50bf91a3d968c02f3043052",
    "rec_meter_chars.txt": "cc5b9ef726e3e34d239c0a9d9d4c89612b4282fc68163dfacf1c7a9510b37f98",
}

# The detector's input normalisation (ImageNet statistics, channels in BGR order as trained).
DET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
DET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Pixels above this text probability make up a text region (the DB paper's binarisation).
DET_THRESHOLD = 0.3
# A region whose mean probability is below this is dropped as noise.
DET_BOX_THRESHOLD = 0.5
# DB predicts shrunk text kernels; each is grown back by area * ratio / perimeter.
DET_UNCLIP_RATIO = 1.6
DET_MIN_SIDE = 3
REC_HEIGHT = 48
# Wider crops are cut at this width ratio: a counter line is never longer.
REC_MAX_RATIO = 25.0
REC_MIN_WIDTH = 16


class ModelFileError(RuntimeError):
    """A shipped model file is missing or is not the file we measured."""


def _verified(name: str) -> Path:
    path = MODELS / name
    if not path.exists():
        raise ModelFileError(f"missing OCR model file {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[name]:
        raise ModelFileError(f"{path} is not the PP-OCRv5 file this project was measured with")
    return path


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class TextBox:
    """A text region: its four corners (clockwise from top-left, in image pixels) and score."""

    corners: np.ndarray
    score: float

    @cached_property
    def centre(self) -> tuple[float, float]:
        """The box's middle point."""
        x, y = self.corners.mean(axis=0)
        return float(x), float(y)

    @cached_property
    def width(self) -> float:
        """Length of the top and bottom edges, averaged."""
        c = self.corners
        return float((np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2)

    @cached_property
    def height(self) -> float:
        """Length of the left and right edges, averaged."""
        c = self.corners
        return float((np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2)

    @cached_property
    def angle(self) -> float:
        """Slope of the top edge in degrees."""
        dx, dy = self.corners[1] - self.corners[0]
        return math.degrees(math.atan2(float(dy), float(dx)))


@dataclass(frozen=True)
class LineText:
    """What the recognizer read in one crop.

    `probs` holds, per output time step, the softmax over the whole character set; `text`
    is the greedy CTC reading with `char_scores` the probability of each kept character and
    `positions` its centre across the crop (0 = left edge, 1 = right edge).
    """

    text: str
    char_scores: tuple[float, ...]
    positions: tuple[float, ...]
    steps: tuple[int, ...]
    probs: np.ndarray

    @property
    def score(self) -> float:
        """Mean character probability (0 for an empty reading)."""
        return float(np.mean(self.char_scores)) if self.char_scores else 0.0


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    points = points[np.argsort(points[:, 0])]
    left, right = points[:2], points[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def _grow(rect: tuple, ratio: float) -> tuple:
    """A minimum-area rectangle grown on every side by DB's unclip distance."""
    (cx, cy), (w, h), angle = rect
    area, perimeter = w * h, 2 * (w + h)
    distance = area * ratio / max(perimeter, 1e-6)
    return (cx, cy), (w + 2 * distance, h + 2 * distance), angle


class TextDetector:
    """PP-OCRv5 DB text detector: an image in, text boxes out."""

    def __init__(self, threads: int = 2, limit_side: int = 960) -> None:
        self.limit_side = limit_side
        self._session = _session(_verified("det.onnx"), threads)

    def probability_map(self, bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The detector's text probability per pixel, and the x/y scale back to the image."""
        height, width = bgr.shape[:2]
        scale = min(1.0, self.limit_side / max(height, width))
        new_h = max(32, round(height * scale / 32) * 32)
        new_w = max(32, round(width * scale / 32) * 32)
        resized = cv2.resize(bgr, (new_w, new_h))
        tensor = (resized.astype(np.float32) / 255.0 - DET_MEAN) / DET_STD
        tensor = tensor.transpose(2, 0, 1)[None]
        output = self._session.run(None, {"x": tensor})[0]
        return output[0, 0], width / new_w, height / new_h

    def detect(self, bgr: np.ndarray, max_boxes: int = 200) -> list[TextBox]:
        """Text boxes on a BGR image, in image pixels, most probable first."""
        probability, sx, sy = self.probability_map(bgr)
        mask = (probability > DET_THRESHOLD).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[: max_boxes * 5]:
            if len(contour) < 4:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            region = np.zeros((h, w), dtype=np.uint8)
            cv2.fillPoly(region, [contour.reshape(-1, 2) - (x, y)], 1)
            score = float(cv2.mean(probability[y : y + h, x : x + w], region)[0])
            if score < DET_BOX_THRESHOLD:
                continue
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < DET_MIN_SIDE:
                continue
            corners = cv2.boxPoints(_grow(rect, DET_UNCLIP_RATIO))
            corners[:, 0] = np.clip(corners[:, 0] * sx, 0, bgr.shape[1] - 1)
            corners[:, 1] = np.clip(corners[:, 1] * sy, 0, bgr.shape[0] - 1)
            boxes.append(TextBox(order_corners(corners), score))
        boxes.sort(key=lambda b: b.score, reverse=True)
        return boxes[:max_boxes]


def crop_box(bgr: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The box's content straightened into an upright rectangle (tall crops turned)."""
    corners = corners.astype(np.float32)
    width = int(
        max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3]))
    )
    height = int(
        max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    )
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    crop = cv2.warpPerspective(
        bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if height > 1.5 * width:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def _ratio(crop: np.ndarray) -> float:
    return crop.shape[1] / max(crop.shape[0], 1)


class TextRecognizer:
    """PP-OCRv5 (mobile) CTC recognizer: straightened line crops in, text out.

    Its output layer is cut to the 284 characters a meter can show (digits, Latin and
    Cyrillic letters, signs): `ocr/models/derive_rec.py`.
    """

    def __init__(self, threads: int = 2) -> None:
        self._session = _session(_verified("rec_meter.onnx"), threads)
        lines = _verified("rec_meter_chars.txt").read_text(encoding="utf-8").splitlines()
        # Index 0 is the CTC blank; the characters follow, then the space.
        self.charset = ["", *lines, " "]
        self.digit_index = np.array([self.charset.index(str(d)) for d in range(10)])

    def _tensor(self, crops: list[np.ndarray], width: int) -> np.ndarray:
        batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
        for i, crop in enumerate(crops):
            h, w = crop.shape[:2]
            new_w = min(width, max(1, math.ceil(REC_HEIGHT * w / max(h, 1))))
            resized = cv2.resize(crop, (new_w, REC_HEIGHT)).astype(np.float32)
            batch[i, :, :, :new_w] = (resized / 255.0 - 0.5).transpose(2, 0, 1) / 0.5
        return batch

    def recognise(self, crops: list[np.ndarray], batch: int = 8) -> list[LineText]:
        """Read each crop (BGR); crops of similar width are batched together."""
        order = sorted(
            range(len(crops)), key=lambda i: crops[i].shape[1] / max(crops[i].shape[0], 1)
        )
        results: list[LineText | None] = [None] * len(crops)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            width = self._tensor_width(chunk, crops)
            tensor = self._tensor([crops[i] for i in chunk], width)
            output = self._session.run(None, {"x": tensor})[0]
            for index, probs in zip(chunk, output, strict=True):
                results[index] = self._decode(probs, self._content_share(crops[index], width))
        return [r for r in results if r is not None]

    @staticmethod
    def _tensor_width(chunk: list[int], crops: list[np.ndarray]) -> int:
        ratio = max(_ratio(crops[i]) for i in chunk)
        ratio = min(max(ratio, REC_MIN_WIDTH / REC_HEIGHT), REC_MAX_RATIO)
        return math.ceil(REC_HEIGHT * ratio)

    @staticmethod
    def _content_share(crop: np.ndarray, width: int) -> float:
        """How much of the padded input row the crop itself fills."""
        h, w = crop.shape[:2]
        return min(width, max(1, math.ceil(REC_HEIGHT * w / max(h, 1)))) / width

    def _decode(self, probs: np.ndarray, share: float = 1.0) -> LineText:
        best = probs.argmax(axis=1)
        chars, scores, positions, kept = [], [], [], []
        previous = -1
        steps = len(best)
        for step, index in enumerate(best):
            if index != 0 and index != previous:
                chars.append(self.charset[index])
                scores.append(float(probs[step, index]))
                positions.append(min(1.0, (step + 0.5) / steps / share))
                kept.append(step)
            previous = index
        return LineText("".join(chars), tuple(scores), tuple(positions), tuple(kept), probs)


__all__ = [
    "MODELS",
    "LineText",
    "ModelFileError",
    "TextBox",
    "TextDetector",
    "TextRecognizer",
    "crop_box",
    "order_corners",
]
