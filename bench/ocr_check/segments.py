"""Seven-segment glyphs drawn as polygons, for the independent check set.

Written apart from `ocr/synthetic` and `ocr/lcd/training` on purpose: the check set must not
share a renderer with anything the pipeline was trained or tuned on. A glyph cell is
`width × height`; segments are hexagons (pointed ends), rectangles (flat ends) or
trapezoids (mitred ends, as on most meter glasses), with a gap between neighbours and an
optional italic slant.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageDraw

Color = tuple[int, int, int]

# Which segments each character lights (a top, b upper right, c lower right, d bottom,
# e lower left, f upper left, g middle).
LIT = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "-": "g",
    " ": "",
    "E": "adefg",
    "L": "def",
    "P": "abefg",
    "A": "abcefg",
    "t": "defg",
}


@dataclass(frozen=True)
class SegmentStyle:
    """How one display draws its segments."""

    ends: str  # "point", "flat" or "mitre"
    thickness: float  # stroke as a share of the cell height
    gap: float  # gap between segments, share of the height
    slant: float  # horizontal shift per unit of height (italic)
    aspect: float  # cell width / height
    six_tail: bool  # 6 with its top segment
    nine_tail: bool  # 9 with its bottom segment
    seven_hook: bool  # 7 with the upper-left segment


def _lit(char: str, style: SegmentStyle) -> str:
    segs = LIT.get(char, "")
    if char == "6" and not style.six_tail:
        segs = segs.replace("a", "")
    if char == "9" and not style.nine_tail:
        segs = segs.replace("d", "")
    if char == "7" and style.seven_hook:
        segs += "f"
    return segs


def _bar(x0: float, y0: float, x1: float, y1: float, t: float, ends: str) -> list[tuple]:
    """A segment from (x0, y0) to (x1, y1), horizontal or vertical, `t` thick."""
    h = t / 2
    if y0 == y1:  # horizontal
        if ends == "flat":
            return [(x0, y0 - h), (x1, y0 - h), (x1, y0 + h), (x0, y0 + h)]
        if ends == "mitre":
            return [(x0, y0 - h), (x1, y0 - h), (x1 - h, y0 + h), (x0 + h, y0 + h)]
        return [
            (x0, y0),
            (x0 + h, y0 - h),
            (x1 - h, y0 - h),
            (x1, y0),
            (x1 - h, y0 + h),
            (x0 + h, y0 + h),
        ]
    if ends == "flat":
        return [(x0 - h, y0), (x0 + h, y0), (x0 + h, y1), (x0 - h, y1)]
    if ends == "mitre":
        return [(x0 - h, y0), (x0 + h, y0 + h), (x0 + h, y1 - h), (x0 - h, y1)]
    return [
        (x0, y0),
        (x0 + h, y0 + h),
        (x0 + h, y1 - h),
        (x0, y1),
        (x0 - h, y1 - h),
        (x0 - h, y0 + h),
    ]


def segment_polygons(
    x: float, y: float, height: float, style: SegmentStyle
) -> dict[str, list[tuple[float, float]]]:
    """The seven segments of a cell whose top-left corner is (x, y)."""
    w, h = style.aspect * height, height
    t = max(1.0, style.thickness * h)
    g = style.gap * h
    left, right = x + t / 2, x + w - t / 2
    top, mid, bottom = y + t / 2, y + h / 2, y + h - t / 2
    raw = {
        "a": _bar(left + g, top, right - g, top, t, "point" if style.ends == "point" else "flat"),
        "g": _bar(left + g, mid, right - g, mid, t, "point"),
        "d": _bar(
            left + g, bottom, right - g, bottom, t, "point" if style.ends == "point" else "flat"
        ),
        "f": _bar(left, top + g, left, mid - g, t, style.ends),
        "e": _bar(left, mid + g, left, bottom - g, t, style.ends),
        "b": _bar(right, top + g, right, mid - g, t, style.ends),
        "c": _bar(right, mid + g, right, bottom - g, t, style.ends),
    }
    if style.ends == "mitre":
        # Mirror the mitre on the right-hand bars so both sides lean inwards.
        for key in ("b", "c"):
            x0 = right
            raw[key] = [(2 * x0 - px, py) for px, py in raw[key]]
    sheared = {}
    for key, points in raw.items():
        sheared[key] = [(px + style.slant * (y + h - py), py) for px, py in points]
    return sheared


def draw_segments(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    height: float,
    text: str,
    style: SegmentStyle,
    lit: Color,
    ghost: Color | None,
    spacing: float = 0.28,
) -> float:
    """Draw `text` (digits, '-', ' ', '.', ':') from (x, y); return the x after the last cell.

    A '.' lights the point after the previous cell, ':' draws a colon in a narrow cell; the
    ghost colour (inactive segments, seen on every real glass) is drawn under each cell.
    """
    cell = style.aspect * height
    step = cell * (1 + spacing)
    dot = max(1.5, style.thickness * height * 0.62)
    cursor = x
    for index, char in enumerate(text):
        if char == ".":
            continue
        if char == ":":
            cx = cursor + cell * 0.15 + style.slant * height * 0.3
            for fy in (0.3, 0.72):
                cy = y + height * fy
                draw.rectangle([cx - dot, cy - dot, cx + dot, cy + dot], fill=lit)
            cursor += cell * 0.5
            continue
        polygons = segment_polygons(cursor, y, height, style)
        if ghost is not None:
            for polygon in polygons.values():
                draw.polygon(polygon, fill=ghost)
        for key in _lit(char, style):
            draw.polygon(polygons[key], fill=lit)
        point_x = cursor + cell + cell * spacing * 0.5
        point_y = y + height - dot
        has_point = index + 1 < len(text) and text[index + 1] == "."
        if has_point or ghost is not None:
            draw.ellipse(
                [point_x - dot, point_y - dot, point_x + dot, point_y + dot],
                fill=lit if has_point else ghost,
            )
        cursor += step
    return cursor
