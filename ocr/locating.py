"""Finding counter rows in a photo and cutting them out straight, with numpy and Pillow.

A counter is a row of digit-sized blobs of equal height at an even pitch, brighter or darker
than their surroundings. Blobs come from a local-contrast threshold in both polarities; their
outlines are traced with contourpy (Matplotlib's contour engine), which gives connected
components without SciPy. Rows are scored by how counter-like they are; the best few are cut
out along their own slope, so the reader sees them level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import contourpy
import numpy as np
from PIL import Image

# Locating runs on a small copy: digits of a whole-meter photo stay ≥ 8 px there.
LOCATE_SIDE = 640
# A second look for small counters, when the first finds nothing convincing.
DETAIL_SIDE = 1024
LINE_HEIGHT = 48
MIN_BLOB_HEIGHT = 8
# How much redder than the first drums a drum must be to count as a decimal (R − max(G, B)).
RED_DECIMALS = 15.0


@dataclass(frozen=True)
class Blob:
    """A connected component's box (locate-scale pixels) and how red it is."""

    x0: float
    y0: float
    x1: float
    y1: float
    redness: float = 0.0
    guessed: bool = False

    @property
    def height(self) -> float:
        """Box height."""
        return self.y1 - self.y0

    @property
    def width(self) -> float:
        """Box width."""
        return self.x1 - self.x0

    @property
    def cx(self) -> float:
        """Centre x."""
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        """Centre y."""
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class CounterRow:
    """A row of digit-like blobs, with its slope and how counter-like it looks (score)."""

    blobs: tuple[Blob, ...]
    slope: float
    score: float
    light_on_dark: bool

    @property
    def digit_height(self) -> float:
        """Median blob height."""
        return float(np.median([b.height for b in self.blobs]))


@dataclass(frozen=True)
class PhotoQuality:
    """Cheap measures that explain a failure: brightness and sharpness."""

    brightness: float
    bright_percentile: float
    sharpness: float


def box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size×size window (edge-padded) via an integral image."""
    half = size // 2
    padded = np.pad(values, half + 1, mode="edge").astype(np.float64)
    integral = padded.cumsum(0).cumsum(1)
    h, w = values.shape
    top, left = 0, 0
    a = integral[top + size : top + size + h, left + size : left + size + w]
    b = integral[top : top + h, left + size : left + size + w]
    c = integral[top + size : top + size + h, left : left + w]
    d = integral[top : top + h, left : left + w]
    return ((a - b - c + d) / (size * size)).astype(np.float32)


def measure_quality(gray: np.ndarray) -> PhotoQuality:
    """Brightness, and sharpness as the steepest edges relative to the photo's contrast.

    A step edge blurred by σ pixels rises over about 2.5σ pixels, so its steepest gradient is
    the contrast divided by that: near 1 when sharp, below ~0.15 when blurred by 3+ pixels.
    Sensor noise barely moves it, unlike a Laplacian measure.
    """
    grad = np.maximum(np.abs(np.diff(gray, axis=1))[:-1, :], np.abs(np.diff(gray, axis=0))[:, :-1])
    sample = gray[::3, ::3]
    low, high = np.percentile(sample, [1, 99])
    return PhotoQuality(
        brightness=float(sample.mean()),
        bright_percentile=float(high),
        sharpness=float(np.percentile(grad, 99.9)) / max(float(high - low), 1.0),
    )


def _outer_boxes(mask: np.ndarray, min_height: float) -> np.ndarray:
    """Bounding boxes (x0, y0, x1, y1, fill) of the connected regions of a boolean mask."""
    generator = contourpy.contour_generator(
        z=mask.astype(np.float32),
        name="serial",
        line_type=contourpy.LineType.Separate,
        corner_mask=False,
    )
    # An outline shorter than twice the minimum height cannot enclose a digit.
    lines = [line for line in generator.lines(0.5) if len(line) >= 2 * min_height]
    if not lines:
        return np.zeros((0, 5), dtype=np.float32)
    starts = np.cumsum([0] + [len(line) for line in lines[:-1]])
    points = np.concatenate(lines)
    xs, ys = points[:, 0], points[:, 1]
    x0, x1 = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
    y0, y1 = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    # Shoelace area per closed outline; holes (the inside of a 0) wind the other way.
    cross = np.append(xs[:-1] * ys[1:] - xs[1:] * ys[:-1], 0.0)
    cross[np.append(starts[1:], len(points)) - 1] = 0.0
    area = 0.5 * np.add.reduceat(cross, starts)
    fill = area / np.maximum((x1 - x0) * (y1 - y0), 1.0)
    boxes = np.stack([x0, y0, x1, y1, fill], axis=1).astype(np.float32)
    return boxes[area > 0]


def _box_means(integral: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean of the image behind `integral` over each box, in O(1) per box."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    x0 = np.clip(boxes[:, 0].astype(int), 0, w - 1)
    y0 = np.clip(boxes[:, 1].astype(int), 0, h - 1)
    x1 = np.clip(boxes[:, 2].astype(int) + 1, x0 + 1, w)
    y1 = np.clip(boxes[:, 3].astype(int) + 1, y0 + 1, h)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return total / ((x1 - x0) * (y1 - y0))


def dilate(mask: np.ndarray, up_down: int, sideways: int) -> np.ndarray:
    """Binary dilation by a (2·up_down+1)×(2·sideways+1) rectangle, with shifted maxima."""
    out = mask.copy()
    for dy in range(1, up_down + 1):
        out[dy:] |= mask[:-dy]
        out[:-dy] |= mask[dy:]
    grown = out.copy()
    for dx in range(1, sideways + 1):
        grown[:, dx:] |= out[:, :-dx]
        grown[:, :-dx] |= out[:, dx:]
    return grown


def _digit_blobs(mask: np.ndarray, redness_integral: np.ndarray, max_height: float) -> list[Blob]:
    boxes = _outer_boxes(mask, MIN_BLOB_HEIGHT)
    if not len(boxes):
        return []
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    keep = (
        (h >= MIN_BLOB_HEIGHT)
        & (h <= max_height)
        & (w >= 0.1 * h)
        & (w <= 1.15 * h)
        & (boxes[:, 4] >= 0.12)
    )
    boxes = boxes[keep]
    redness = _box_means(redness_integral, boxes)
    return [
        Blob(float(x0), float(y0), float(x1), float(y1), float(red))
        for (x0, y0, x1, y1, _), red in zip(boxes, redness, strict=True)
    ]


def _chain_rows(blobs: list[Blob]) -> list[list[Blob]]:
    """Link each blob to its nearest right neighbour of the same size on the same line."""
    blobs = sorted(blobs, key=lambda b: b.x0)
    if len(blobs) < 3:
        return []
    x0 = np.array([b.x0 for b in blobs])
    x1 = np.array([b.x1 for b in blobs])
    cy = np.array([b.cy for b in blobs])
    hh = np.array([b.height for b in blobs])
    successor: dict[int, int] = {}
    claimed: dict[int, float] = {}
    for i, blob in enumerate(blobs):
        gap = x0 - x1[i]
        ratio = hh / hh[i]
        ok = (
            (x0 > blob.x0 + 0.3 * blob.width)
            & (gap > -0.2 * hh[i])
            & (gap < 1.3 * hh[i])
            & (ratio > 0.75)
            & (ratio < 1.33)
            & (np.abs(cy - cy[i]) < 0.3 * hh[i])
        )
        candidates = np.flatnonzero(ok)
        if not len(candidates):
            continue
        j = int(candidates[np.argmin(x0[candidates])])
        distance = float(x0[j] - x1[i])
        if j in claimed and claimed[j] <= distance:
            continue
        if j in claimed:
            successor = {k: v for k, v in successor.items() if v != j}
        successor[i] = j
        claimed[j] = distance
    starts = set(successor) - set(successor.values())
    rows = []
    for start in starts:
        chain = [start]
        while chain[-1] in successor and len(chain) < 40:
            chain.append(successor[chain[-1]])
        if len(chain) >= 3:
            rows.append([blobs[k] for k in chain])
    return rows


def _score_row(row: list[Blob], image_height: float) -> float:
    """How counter-like a row is: digit count, even pitch, equal heights, size."""
    n = len(row)
    heights = np.array([b.height for b in row])
    centres = np.array([b.cx for b in row])
    pitch = np.diff(centres)
    pitch_cv = float(pitch.std() / max(pitch.mean(), 1e-6))
    height_cv = float(heights.std() / max(heights.mean(), 1e-6))
    count_score = {3: 0.5, 4: 0.85}.get(n, 1.0 if n <= 9 else max(0.1, 1.0 - 0.15 * (n - 9)))
    size_score = min(1.0, float(heights.mean()) / (0.05 * image_height)) ** 0.5
    return count_score * size_score * math.exp(-3 * pitch_cv) * math.exp(-4 * height_cv)


def find_counter_rows(
    rgb_small: np.ndarray, max_rows: int = 4, join_segments: bool = True
) -> list[CounterRow]:
    """Counter-like rows in a locate-scale RGB array, best first.

    `join_segments` also looks at masks grown to join seven-segment digits (twice the work).
    """
    gray = rgb_small.mean(axis=2).astype(np.float32)
    h, w = gray.shape
    redness = rgb_small[..., 0].astype(np.float32) - np.maximum(
        rgb_small[..., 1], rgb_small[..., 2]
    ).astype(np.float32)
    redness_integral = np.pad(redness.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    window = max(15, (max(h, w) // 14) | 1)
    local = box_mean(gray, window)
    spread = float(np.percentile(gray, 98) - np.percentile(gray, 2))
    threshold = max(6.0, 0.07 * spread)
    rows: list[CounterRow] = []
    dark, light = gray < local - threshold, gray > local + threshold
    # Seven-segment digits are several blobs; growing the mask upwards and downwards joins
    # the segments of one digit without joining neighbouring digits.
    masks = [(False, dark), (True, light)]
    if join_segments:
        masks += [(False, dilate(dark, 3, 1)), (True, dilate(light, 3, 1))]
    for light_on_dark, mask in masks:
        blobs = _digit_blobs(mask, redness_integral, max_height=0.45 * h)
        for chain in _chain_rows(blobs):
            xs = np.array([b.cx for b in chain])
            ys = np.array([b.cy for b in chain])
            slope = float(np.polyfit(xs, ys, 1)[0]) if len(chain) >= 2 else 0.0
            rows.append(CounterRow(tuple(chain), slope, _score_row(chain, h), light_on_dark))
    # The counter's digits are the biggest print on a meter: weigh rows by their height
    # relative to the tallest convincing row.
    if rows:
        tallest = max(r.digit_height for r in rows if r.score > 0.2 * max(x.score for x in rows))
        rows = [
            CounterRow(
                r.blobs,
                r.slope,
                r.score * min(1.0, r.digit_height / tallest) ** 0.7,
                r.light_on_dark,
            )
            for r in rows
        ]
    rows.sort(key=lambda r: r.score, reverse=True)
    best = _distinct(rows)[:max_rows]
    edges = np.zeros_like(gray)
    edges[:, 1:] = np.abs(np.diff(gray, axis=1))
    edges_integral = np.pad(edges.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return [_extend(row, edges_integral, redness_integral) for row in best]


def _extend(
    row: CounterRow, edges_integral: np.ndarray, redness_integral: np.ndarray
) -> CounterRow:
    """Add stand-in blobs where the row's band goes on looking like digits.

    A digit that touches a drum frame or an underline is not a separate blob, so rows often
    miss their first or last digits. Walking outwards one pitch at a time while the band
    keeps as many vertical edges as inside the row recovers them.
    """
    blobs = sorted(row.blobs, key=lambda b: b.x0)
    height = row.digit_height
    centres = [b.cx for b in blobs]
    pitch = (centres[-1] - centres[0]) / max(len(blobs) - 1, 1)
    mid_x, mid_y = float(np.mean(centres)), float(np.mean([b.cy for b in blobs]))
    limit_x = edges_integral.shape[1] - 2

    def band(x0: float, x1: float, top: float = 0.0, bottom: float = 1.0) -> np.ndarray:
        cy = mid_y + row.slope * ((x0 + x1) / 2 - mid_x) - height / 2
        return np.array([[x0, cy + top * height, x1, cy + bottom * height]], dtype=np.float32)

    def energy(x0: float, x1: float) -> np.ndarray:
        # Whole band, top quarter, bottom quarter: digits fill all three, unit labels do not.
        boxes = np.concatenate([band(x0, x1), band(x0, x1, 0.0, 0.25), band(x0, x1, 0.75, 1.0)])
        return _box_means(edges_integral, boxes)

    inside = energy(blobs[0].x0, blobs[-1].x1)
    added: list[Blob] = []
    for direction in (-1, 1):
        edge = blobs[0].x0 if direction < 0 else blobs[-1].x1
        for _ in range(4):
            x0, x1 = (edge - pitch, edge) if direction < 0 else (edge, edge + pitch)
            if x0 < 0 or x1 > limit_x:
                break
            box = band(x0, x1)
            whole, top, bottom = energy(x0, x1) / np.maximum(inside, 1e-6)
            # A half-rolled drum fills the top or the bottom of the band, not always both.
            if whole < 0.45 or max(top, bottom) < 0.3:
                break
            red = float(_box_means(redness_integral, box)[0])
            added.append(
                Blob(
                    x0 + 0.08 * pitch,
                    float(box[0, 1]),
                    x1 - 0.08 * pitch,
                    float(box[0, 3]),
                    red,
                    guessed=True,
                )
            )
            edge = x0 if direction < 0 else x1
    if not added:
        return row
    merged = tuple(sorted([*blobs, *added], key=lambda b: b.x0))
    return CounterRow(merged, row.slope, row.score, row.light_on_dark)


def _distinct(rows: list[CounterRow]) -> list[CounterRow]:
    """Drop rows that overlap a better one (cells and their digits give two rows)."""
    kept: list[CounterRow] = []
    for row in rows:
        x0 = min(b.x0 for b in row.blobs)
        x1 = max(b.x1 for b in row.blobs)
        cy = float(np.mean([b.cy for b in row.blobs]))
        duplicate = False
        for other in kept:
            ox0 = min(b.x0 for b in other.blobs)
            ox1 = max(b.x1 for b in other.blobs)
            ocy = float(np.mean([b.cy for b in other.blobs]))
            overlap = min(x1, ox1) - max(x0, ox0)
            if overlap > 0.6 * min(x1 - x0, ox1 - ox0) and abs(cy - ocy) < other.digit_height:
                duplicate = True
                break
        if not duplicate:
            kept.append(row)
    return kept


def integer_part(row: CounterRow) -> tuple[Blob, ...]:
    """The row without trailing red (decimal) drums, when it has them."""
    blobs = list(row.blobs)
    # Relative to the first drums found, so a colour cast over the photo does not count.
    found = [b for b in blobs if not b.guessed] or blobs
    baseline = float(np.median([b.redness for b in found[:3]]))
    # ... and red in absolute terms too: under a blue cast a white drum is "redder" than
    # a black one without being red.
    while (
        len(blobs) > 3
        and blobs[-1].redness - baseline > RED_DECIMALS
        and blobs[-1].redness > RED_DECIMALS / 2
    ):
        blobs.pop()
    return tuple(blobs)


def cut_row(
    gray: Image.Image,
    blobs: tuple[Blob, ...],
    slope: float,
    scale: float,
    pad_x: float = 0.45,
    pad_y: float = 0.28,
) -> Image.Image:
    """Cut the row out of `gray` (whose pixels are `scale` × locate pixels), levelled.

    The output is LINE_HEIGHT tall, like the lines the model was trained on.
    """
    digit_h = float(np.median([b.height for b in blobs])) * scale
    angle = math.atan(slope)
    cos, sin = math.cos(angle), math.sin(angle)
    centres = [(b.cx * scale, b.cy * scale) for b in blobs]
    # Along-row extent measured on the levelled axis.
    cx = float(np.mean([c[0] for c in centres]))
    cy = float(np.mean([c[1] for c in centres]))
    along = [((x - cx) * cos + (y - cy) * sin) for x, y in centres]
    half_widths = [b.width * scale / 2 for b in blobs]
    left = min(a - hw for a, hw in zip(along, half_widths, strict=True)) - pad_x * digit_h
    right = max(a + hw for a, hw in zip(along, half_widths, strict=True)) + pad_x * digit_h
    src_h = digit_h * (1 + 2 * pad_y)
    src_w = right - left
    mid = (left + right) / 2
    centre_x, centre_y = cx + mid * cos, cy + mid * sin
    k = LINE_HEIGHT / src_h
    out_w = max(8, round(src_w * k))
    source = gray
    # Affine sampling does not antialias: shrink first when the row is much taller than a line.
    reduce_by = int(1 / (k * 1.5)) if k < 0.66 else 1
    if reduce_by > 1:
        source = gray.reduce(reduce_by)
        centre_x, centre_y, k = centre_x / reduce_by, centre_y / reduce_by, k * reduce_by
    a, b = cos / k, -sin / k
    d, e = sin / k, cos / k
    c = centre_x - a * out_w / 2 - b * LINE_HEIGHT / 2
    f = centre_y - d * out_w / 2 - e * LINE_HEIGHT / 2
    return source.transform(
        (out_w, LINE_HEIGHT),
        Image.Transform.AFFINE,
        (a, b, c, d, e, f),
        resample=Image.Resampling.BICUBIC,
    )
