"""Synthetic seven-segment LCD lines for training the LCD recognizer.

A line is what a text detector cuts out of a meter photo around the LCD's main row: a
value (5–8 integer digits, a decimal point, decimals), perhaps a tariff label ("T1",
"T01"), a unit ("kWh"), or instead a clock, a date, an OBIS-like code or the "8.8.8"
test pattern. Digits are drawn either as our own segment polygons (many shapes, thicknesses,
gaps and slants) or in the DSEG7 faces (Debian `fonts-dseg`), over an LCD that looks like
the real ones: low contrast grey-green glass, inactive segments faintly visible ("ghosts"),
light falling unevenly, glare, the window's frame, perspective, blur and JPEG.

Every line is drawn from its own `random.Random`, so a seed and an index give the same line
on any machine with the same fonts.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

LINE_HEIGHT = 32

DSEG_DIR = Path("/usr/share/fonts/truetype/dseg")
TEXT_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/freefont"),
)

# Segments a (top), b (top right), c (bottom right), d (bottom), e (bottom left),
# f (top left), g (middle).
SEGMENTS = {
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
}
# Styles some meters use for the same digit.
VARIANTS = {"7": "abcf", "9": "abcfg", "6": "cdefg"}


@cache
def dseg_fonts() -> tuple[Path, ...]:
    """The seven-segment DSEG faces installed here (empty without `fonts-dseg`)."""
    return tuple(sorted(DSEG_DIR.glob("DSEG7*.ttf"))) if DSEG_DIR.is_dir() else ()


@cache
def text_fonts() -> tuple[Path, ...]:
    """Upright sans faces for the printed labels and units on the glass."""
    found = []
    for folder in TEXT_FONT_DIRS:
        if folder.is_dir():
            found += [
                p
                for p in sorted(folder.glob("*.ttf"))
                if "Sans" in p.name and "Oblique" not in p.name and "Italic" not in p.name
            ]
    return tuple(found)


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


# --- what the line says ---------------------------------------------------------------------


@dataclass
class Cell:
    """One position on the glass: a seven-segment digit (or blank), or a colon."""

    char: str  # "0"-"9", "-", " " (blank position), ":" (colon)
    point: bool = False  # a decimal point after this digit is lit
    gap_before: float = 0.0  # extra space before the cell, in digit widths


@dataclass
class Layout:
    prefix: str = ""  # printed or segment tariff label, e.g. "T1"
    prefix_segments: bool = False  # its digits drawn in segments, like NEVA's "T01"
    cells: list[Cell] = field(default_factory=list)
    unit: str = ""  # printed unit, e.g. "kWh" or "kW·h"
    label: str = ""


def _digits(rng: random.Random, n: int) -> str:
    """A reading's digits: often leading zeros, as on a young meter."""
    zeros = rng.choice([0, 0, 1, 2, 3, n - 2, n - 1]) if n > 2 else 0
    zeros = max(0, min(zeros, n - 1))
    return "0" * zeros + "".join(rng.choice("0123456789") for _ in range(n - zeros))


def sample_layout(rng: random.Random) -> Layout:
    """What one LCD line shows, and its label in the recognizer's alphabet."""
    kind = rng.choices(
        ["energy", "time", "date", "obis", "test", "plain"], weights=[64, 8, 7, 7, 4, 10]
    )[0]
    layout = Layout()
    value = ""
    if kind in ("energy", "plain"):
        n_int = rng.choice([4, 5, 5, 6, 6, 6, 7, 7, 8])
        n_dec = rng.choice([0, 1, 2, 2, 2, 3]) if kind == "energy" else rng.choice([0, 1, 2])
        integer, decimals = _digits(rng, n_int), _digits(rng, n_dec) if n_dec else ""
        # Some meters blank the leading zeros instead of drawing them.
        blank_lead = rng.random() < 0.15
        chars = list(integer + decimals)
        for i, ch in enumerate(chars):
            if blank_lead and ch == "0" and all(c == "0" for c in chars[: i + 1]) and i < n_int - 1:
                layout.cells.append(Cell(" "))
            else:
                layout.cells.append(Cell(ch))
                value += ch
            if n_dec and i == n_int - 1:
                layout.cells[-1].point = True
                value += "."
        if kind == "energy":
            if rng.random() < 0.5:
                layout.prefix = rng.choice(
                    ["T1", "T2", "T3", "T0", "T", "T11", "T12", "T01", "T02"]
                )
                layout.prefix_segments = rng.random() < 0.35
            if rng.random() < 0.55:
                layout.unit = rng.choice(["kWh", "kWh", "kW·h", "kW h", "KWh", "kWh"])
    elif kind == "time":
        hh, mm, ss = rng.randrange(24), rng.randrange(60), rng.randrange(60)
        parts = [f"{hh:02d}", f"{mm:02d}"] + ([f"{ss:02d}"] if rng.random() < 0.6 else [])
        sep = rng.choice([":", ":", "-", "."])
        value = sep.join(parts)
    elif kind == "date":
        dd, mo, yy = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(10, 40)
        sep = rng.choice([".", ".", "-"])
        year = f"20{yy}" if rng.random() < 0.3 else f"{yy:02d}"
        value = sep.join([f"{dd:02d}", f"{mo:02d}", year])
    elif kind == "obis":
        code = rng.choice(["1.8.0", "1.8.1", "1.8.2", "15.8.0", "2.8.0", "0.9.1", "0.9.2"])
        value = code
        if rng.random() < 0.5:  # the value shown beside its code
            value += " " * 0 + "|" + _digits(rng, rng.choice([5, 6])) + "." + _digits(rng, 2)
    else:  # test pattern
        n = rng.choice([6, 7, 8])
        value = "8." * n if rng.random() < 0.7 else "8" * n
    if kind not in ("energy", "plain"):
        for part_index, part in enumerate(value.split("|")):
            for ch in part:
                if ch == ".":
                    layout.cells[-1].point = True
                elif ch == ":":
                    layout.cells.append(Cell(":"))
                else:
                    layout.cells.append(Cell(ch))
                    if part_index and part.index(ch) == 0 and len(layout.cells) > 1:
                        layout.cells[-1].gap_before = rng.uniform(0.6, 1.5)
        value = value.replace("|", " ")
    # Uneven spacing: Landis+Gyr-like gaps inside the digit run, not a word break.
    if layout.cells and rng.random() < 0.12:
        i = rng.randrange(1, max(2, len(layout.cells)))
        if i < len(layout.cells):
            layout.cells[i].gap_before += rng.uniform(0.3, 0.9)
    parts = [layout.prefix, value, "kWh" if layout.unit else ""]
    layout.label = " ".join(p for p in parts if p)
    return layout


# --- drawing --------------------------------------------------------------------------------


@dataclass
class SegmentStyle:
    width: float  # digit width in pixels
    height: float
    thickness: float
    gap: float  # between neighbouring segments
    slant: float  # x shift per unit of height going up (italic)
    ends: str  # "hex" (pointed), "flat", "bevel"
    variants: bool


def _random_style(rng: random.Random, height: float) -> SegmentStyle:
    return SegmentStyle(
        width=height * rng.uniform(0.42, 0.68),
        height=height,
        thickness=height * rng.uniform(0.06, 0.16),
        gap=height * rng.choice([rng.uniform(0.0, 0.02), rng.uniform(0.01, 0.06)]),
        slant=rng.choice([0.0, 0.0, rng.uniform(0.03, 0.2)]),
        ends=rng.choice(["hex", "hex", "flat", "bevel"]),
        variants=rng.random() < 0.3,
    )


def _segment_polygon(seg: str, s: SegmentStyle, x0: float, y0: float) -> list[tuple[float, float]]:
    t, g, w, h = s.thickness, s.gap, s.width, s.height
    half = t / 2
    point = {"hex": half, "bevel": half * 0.5, "flat": 0.0}[s.ends]

    def horizontal(y: float) -> list[tuple[float, float]]:
        xl, xr = half + g, w - half - g
        return [
            (xl, y),
            (xl + point, y - half),
            (xr - point, y - half),
            (xr, y),
            (xr - point, y + half),
            (xl + point, y + half),
        ]

    def vertical(x: float, yt: float, yb: float) -> list[tuple[float, float]]:
        return [
            (x, yt),
            (x + half, yt + point),
            (x + half, yb - point),
            (x, yb),
            (x - half, yb - point),
            (x - half, yt + point),
        ]

    mid = h / 2
    shape = {
        "a": horizontal(half),
        "g": horizontal(mid),
        "d": horizontal(h - half),
        "f": vertical(half, half + g, mid - g),
        "b": vertical(w - half, half + g, mid - g),
        "e": vertical(half, mid + g, h - half - g),
        "c": vertical(w - half, mid + g, h - half - g),
    }[seg]
    return [(x0 + x + s.slant * (h - y), y0 + y) for x, y in shape]


def _draw_segment_cell(
    on: ImageDraw.ImageDraw,
    ghost: ImageDraw.ImageDraw,
    cell: Cell,
    s: SegmentStyle,
    x0: float,
    y0: float,
    dot_ghost: bool,
) -> float:
    """Draws one cell at (x0, y0); returns its advance."""
    if cell.char == ":":
        r = s.thickness * 0.55
        cx = x0 + r * 2 + s.slant * s.height * 0.5
        for fy in (0.3, 0.72):
            cy = y0 + s.height * fy
            on.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        return r * 4
    segs = SEGMENTS[cell.char]
    if s.variants and cell.char in VARIANTS:
        segs = VARIANTS[cell.char]
    for seg in "abcdefg":
        poly = _segment_polygon(seg, s, x0, y0)
        (on if seg in segs else ghost).polygon(poly, fill=255)
    r = s.thickness * 0.6
    dx, dy = x0 + s.width + s.thickness * 0.9, y0 + s.height - r
    if cell.point or dot_ghost:
        box = [dx - r, dy - r, dx + r, dy + r]
        (on if cell.point else ghost).rectangle(box, fill=255)
    return s.width + s.thickness * 2.0


def _draw_text(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    text: str,
    x: float,
    baseline: float,
    size: int,
) -> float:
    """Printed text (a label or a unit); returns the advance."""
    font = _font(rng.choice(text_fonts()), max(6, size))
    top = baseline - font.getbbox("0")[3]
    draw.text((x, top), text, fill=255, font=font)
    return font.getlength(text)


def _render_masks(
    rng: random.Random, layout: Layout, digit_h: int, realism: int = 1
) -> tuple[Image.Image, Image.Image, tuple[float, int]]:
    """The lit and the ghost segments as two masks, on a canvas with room to spare."""
    faces = dseg_fonts()
    if realism >= 2:
        # SEGG-CHAN draws faces, not digits: stages 1-2 had it by mistake (~2 % of lines).
        faces = tuple(f for f in faces if "SEGGCHAN" not in f.name)
    use_dseg = bool(faces) and rng.random() < 0.4
    style = _random_style(rng, digit_h)
    spacing = rng.uniform(0.05, 0.45)
    canvas_w = int(digit_h * (3 + 1.1 * (len(layout.cells) + len(layout.prefix) + 4)))
    canvas_h = int(digit_h * 2.2)
    on, ghost = Image.new("L", (canvas_w, canvas_h)), Image.new("L", (canvas_w, canvas_h))
    d_on, d_ghost = ImageDraw.Draw(on), ImageDraw.Draw(ghost)
    y0 = (canvas_h - digit_h) / 2
    x = digit_h * 0.6
    dot_ghost = rng.random() < 0.5

    if layout.prefix:
        size = int(digit_h * rng.uniform(0.35, 0.8))
        if layout.prefix_segments:
            small = _random_style(rng, digit_h * rng.uniform(0.6, 1.0))
            x += _draw_text(d_on, rng, "T", x, y0 + digit_h, int(small.height * 1.3))
            x += small.thickness
            for ch in layout.prefix[1:]:
                x += _draw_segment_cell(
                    d_on, d_ghost, Cell(ch), small, x, y0 + digit_h - small.height, False
                )
        else:
            # Printed above the digits' baseline, like Energomera's "T1" in the corner.
            high = rng.random() < 0.5
            baseline = y0 + (size if high else digit_h)
            advance = _draw_text(d_on, rng, layout.prefix, x, baseline, size)
            if realism >= 2 and high and rng.random() < 0.4:
                advance *= 0.3  # the label stands over the first digit (Energomera)
            x += advance
        x += digit_h * (rng.uniform(0.08, 0.8) if realism >= 2 else rng.uniform(0.25, 0.8))

    if use_dseg:
        font = _font(rng.choice(faces), int(digit_h * 1.23))
        adv = font.getlength("8")
        for cell in layout.cells:
            x += cell.gap_before * adv
            glyph = {" ": "!"}.get(cell.char, cell.char)
            top = y0 - (font.getbbox("8")[1])
            if cell.char == ":":
                d_on.text((x, top), ":", fill=255, font=font)
                x += font.getlength(":") * (1 + spacing)
                continue
            d_ghost.text((x, top), "8." if dot_ghost else "8", fill=255, font=font)
            d_on.text((x, top), glyph + ("." if cell.point else ""), fill=255, font=font)
            x += adv * (1 + spacing * 0.5)
    else:
        for cell in layout.cells:
            x += cell.gap_before * style.width
            x += _draw_segment_cell(d_on, d_ghost, cell, style, x, y0, dot_ghost)
            x += style.width * spacing * 0.5

    if layout.unit:
        x += digit_h * rng.uniform(0.15, 0.6)
        size = int(digit_h * rng.uniform(0.3, 0.6))
        high = rng.random() < 0.5  # printed at the top right, as on many meters
        baseline = y0 + (size * 1.1 if high else digit_h)
        x += _draw_text(d_on, rng, layout.unit, x, baseline, size)

    # Other icons on the glass: arrows, phase marks, bars, cut by the crop.
    for _ in range(rng.choice([0, 0, 1, 2, 4])):
        ix = rng.uniform(0, x)
        iy = rng.choice([rng.uniform(0, y0 * 0.8), rng.uniform(y0 + digit_h * 1.05, canvas_h)])
        sz = digit_h * rng.uniform(0.08, 0.25)
        target = d_on if rng.random() < 0.6 else d_ghost
        if rng.random() < 0.5:
            target.rectangle([ix, iy, ix + sz * rng.uniform(1, 4), iy + sz], fill=255)
        else:
            target.polygon([(ix, iy), (ix + sz, iy + sz / 2), (ix, iy + sz)], fill=255)
    # A strip of the display's content cut at the top or bottom of the crop.
    if rng.random() < 0.15:
        dy = rng.choice([y0 - digit_h * 1.05, y0 + digit_h * 1.1])
        cut = _random_style(rng, digit_h * rng.uniform(0.5, 1.0))
        cx = rng.uniform(0, x / 2)
        for ch in _digits(rng, rng.randrange(2, 6)):
            cx += _draw_segment_cell(d_on, d_ghost, Cell(ch), cut, cx, dy, False)
            cx += cut.width * 0.2

    end_x = x + digit_h * 0.6
    box = (0, 0, min(int(end_x), canvas_w), canvas_h)
    return on.crop(box), ghost.crop(box), (y0, digit_h)


# --- the LCD look ---------------------------------------------------------------------------


def _lcd_colours(rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """Glass and lit segment colours (RGB floats)."""
    kind = rng.choices(["grey-green", "grey", "backlit", "negative"], weights=[45, 30, 12, 13])[0]
    if kind == "grey-green":
        bg = np.array([rng.uniform(140, 205), rng.uniform(155, 215), rng.uniform(125, 190)])
    elif kind == "grey":
        v = rng.uniform(120, 225)
        bg = np.array([v, v, v]) + np.array([rng.uniform(-10, 10) for _ in range(3)])
    elif kind == "backlit":
        bg = np.array([rng.uniform(120, 200), rng.uniform(170, 240), rng.uniform(60, 150)])
        if rng.random() < 0.4:
            bg = np.array([rng.uniform(60, 140), rng.uniform(140, 210), rng.uniform(190, 250)])
    else:  # light segments on a dark glass
        bg = np.array([rng.uniform(10, 70)] * 3) + np.array([rng.uniform(-8, 25) for _ in range(3)])
        fg = np.array([rng.uniform(150, 250)] * 3) + np.array(
            [rng.uniform(-30, 5) for _ in range(3)]
        )
        return bg, fg
    contrast = rng.uniform(0.3, 0.85)
    fg = bg * (1 - contrast) + np.array([rng.uniform(0, 40)] * 3)
    return bg, fg


def _shade(
    rng: random.Random, w: int, h: int, band: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth light field: a gradient plus a soft glare spot or streak.

    With `band` (the digits' rows, realism 3) the glare is often a bright spot right on the
    digits, as a phone's flash or a window makes on real glass, washing part of a digit out.
    """
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field_ = 1 + rng.uniform(-0.25, 0.25) * (xx / w - 0.5) + rng.uniform(-0.2, 0.2) * (yy / h - 0.5)
    glare = np.zeros_like(field_)
    if band is not None and rng.random() < 0.55:
        cx, cy = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(*band)
        rx, ry = rng.uniform(0.03, 0.2) * w, rng.uniform(0.3, 1.2) * (band[1] - band[0])
        glare = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)) * rng.uniform(0.5, 1.0)
    elif rng.random() < 0.35:
        cx, cy = rng.uniform(0, w), rng.uniform(-0.3 * h, 1.3 * h)
        rx, ry = rng.uniform(0.05, 0.4) * w, rng.uniform(0.2, 1.0) * h
        glare = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2))
        glare *= rng.uniform(0.3, 1.0)
    elif rng.random() < 0.15:  # a reflected streak across the glass
        angle = rng.uniform(-1.2, 1.2)
        dist = (xx - rng.uniform(0, w)) * math.cos(angle) + (yy - h / 2) * math.sin(angle)
        glare = np.exp(-((dist / rng.uniform(0.02, 0.15) / w) ** 2)) * rng.uniform(0.2, 0.7)
    return field_.astype(np.float32), glare.astype(np.float32)


def _perspective(rng: random.Random, image: Image.Image, strength: float) -> Image.Image:
    w, h = image.size
    d = strength * h
    src = [(rng.uniform(-d, d), rng.uniform(-d, d)) for _ in range(4)]
    corners = [(0, 0), (0, h), (w, h), (w, 0)]  # PIL's QUAD order
    quad = [(cx + dx, cy + dy) for (cx, cy), (dx, dy) in zip(corners, src, strict=True)]
    flat = [v for p in quad for v in p]
    return image.transform((w, h), Image.Transform.QUAD, flat, Image.Resampling.BILINEAR)


def _bezel(rng: random.Random, img: np.ndarray, y0: float, digit_h: int) -> None:
    """The plastic around the glass on one to three sides, with the glass's edge line."""
    h, w = img.shape[:2]
    colour = rng.choice([rng.uniform(5, 60), rng.uniform(170, 250)])
    edge = rng.uniform(0, 255)
    for side in rng.sample(["top", "bottom", "left", "right"], rng.randrange(1, 4)):
        if side in ("top", "bottom"):
            m = int(max(2, y0 * rng.uniform(0.3, 0.95)))
            band = (slice(0, m), slice(None)) if side == "top" else (slice(h - m, h), slice(None))
            inner = (
                (slice(m - 2, m), slice(None))
                if side == "top"
                else (slice(h - m, h - m + 2), slice(None))
            )
        else:
            m = int(max(2, digit_h * rng.uniform(0.1, 0.6)))
            band = (slice(None), slice(0, m)) if side == "left" else (slice(None), slice(w - m, w))
            inner = (
                (slice(None), slice(m - 2, m))
                if side == "left"
                else (slice(None), slice(w - m, w - m + 2))
            )
        img[band] = colour + rng.uniform(-10, 10)
        img[inner] = edge


def compose(
    rng: random.Random,
    on: Image.Image,
    ghost: Image.Image,
    geometry: tuple[float, int],
    realism: int = 1,
) -> Image.Image:
    """Puts the masks on a photographed LCD and cuts the detector's box around the digits."""
    y0, digit_h = geometry
    w, h = on.size
    bg, fg = _lcd_colours(rng)
    ghost_level = rng.choice([0.0, rng.uniform(0.03, 0.12), rng.uniform(0.08, 0.25)])
    if realism >= 3 and rng.random() < 0.5:
        # Inactive segments nearly as dark as lit ones (cheap glass seen at an angle).
        ghost_level = rng.uniform(0.2, 0.38)
    on_a = np.asarray(on.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2))), np.float32) / 255
    gh_a = np.asarray(ghost.filter(ImageFilter.GaussianBlur(0.8)), np.float32) / 255 * ghost_level
    alpha = np.clip(on_a + gh_a, 0, 1)[..., None]
    # A faint shadow of the segments on the back plate, offset: real LCDs show one.
    if rng.random() < 0.3:
        shift = int(rng.uniform(1, digit_h * 0.06) + 1)
        shadow = np.roll(np.roll(on_a, shift, axis=0), shift, axis=1)[..., None]
        alpha = np.clip(alpha + shadow * rng.uniform(0.05, 0.2) * (1 - alpha), 0, 1)
    img = bg * (1 - alpha) + fg * alpha
    band = (y0, y0 + digit_h) if realism >= 3 else None
    light, glare = _shade(rng, w, h, band)
    img = img * light[..., None] + glare[..., None] * rng.uniform(60, 200)
    img += np.asarray([rng.gauss(0, 1) for _ in range(3)], np.float32) * rng.uniform(0, 8)
    # The LCD window's frame, when the box spills over the glass.
    if rng.random() < 0.3:
        frame = np.array([rng.uniform(10, 240)] * 3)
        side = rng.choice(["top", "bottom", "left", "right"])
        if side in ("top", "bottom"):
            m = int(max(1, y0 * rng.uniform(0.2, 0.8)))
            rows = slice(0, m) if side == "top" else slice(h - m, h)
            img[rows] = frame
        else:
            m = int(digit_h * rng.uniform(0.05, 0.4))
            cols = slice(0, m) if side == "left" else slice(w - m, w)
            img[:, cols] = frame
    if realism >= 2 and rng.random() < 0.5:
        _bezel(rng, img, y0, digit_h)
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")

    # Geometry: slant, small rotation, perspective.
    if rng.random() < 0.3:
        shear = rng.uniform(-0.15, 0.15)
        image = image.transform(
            image.size,
            Image.Transform.AFFINE,
            (1, shear, -shear * h / 2, 0, 1, 0),
            Image.Resampling.BILINEAR,
        )
    if rng.random() < 0.5:
        image = image.rotate(
            rng.uniform(-3, 3), Image.Resampling.BILINEAR, fillcolor=tuple(bg.astype(int))
        )
    if rng.random() < 0.4:
        image = _perspective(rng, image, rng.uniform(0.02, 0.12))

    # The detector's box: the digits plus an uneven margin, sometimes a tight one.
    top = y0 - digit_h * rng.uniform(-0.05, 0.45)
    bottom = y0 + digit_h * (1 + rng.uniform(-0.05, 0.45))
    if realism >= 2 and rng.random() < 0.25:  # a loose box
        top, bottom = y0 - digit_h * rng.uniform(0.3, 0.8), y0 + digit_h * rng.uniform(1.3, 1.8)
    left = rng.uniform(0, digit_h * 0.55)
    right = w - rng.uniform(0, digit_h * 0.55)
    image = image.crop((int(left), int(max(0, top)), int(right), int(min(h, bottom))))

    # The camera: a small, soft, noisy, compressed picture of it.
    src_h = rng.choice(
        [rng.uniform(14, 24), rng.uniform(20, 48), rng.uniform(24, 48), rng.uniform(32, 80)]
    )
    scale = src_h / image.height
    small = image.resize(
        (max(8, int(image.width * scale)), max(8, int(image.height * scale))),
        Image.Resampling.BILINEAR,
    )
    if rng.random() < 0.5:
        small = small.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.2)))
    if rng.random() < 0.15:
        k = rng.choice([3, 5])
        small = small.filter(ImageFilter.BoxBlur(k // 2))
    arr = np.asarray(small, np.float64)  # the noise added below is float64 anyway
    arr = arr + np.random.default_rng(rng.randrange(1 << 30)).normal(
        0, rng.uniform(0, 10), arr.shape
    )
    small = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.7:
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=rng.randrange(25, 95))
        small = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return small


def make_line(rng: random.Random, realism: int = 1) -> tuple[Image.Image, str]:
    """One synthetic LCD line crop (RGB) and its label.

    Realism 2 (the third training stage) adds the plastic bezel around the glass, loose
    boxes, labels close to or over the first digit; realism 1 draws the lines of stages 1-2.
    Realism 3 (stage 5) adds glare spots on the digits and ghosts nearly as dark as the lit
    segments.
    """
    layout = sample_layout(rng)
    on, ghost, geometry = _render_masks(rng, layout, rng.randrange(34, 60), realism)
    return compose(rng, on, ghost, geometry, realism), layout.label


# --- lines that are not seven-segment (for the LCD-likeness score) --------------------------


def make_negative(rng: random.Random) -> tuple[Image.Image, str]:
    """Printed text or a drum counter: what a detector also cuts out of a meter photo."""
    kind = rng.choice(["serial", "rating", "drum", "model"])
    if kind == "serial":
        text = rng.choice(["№ ", "N ", "No ", ""]) + _digits(rng, rng.randrange(6, 14))
        if rng.random() < 0.3:
            text += "-" + str(rng.randrange(1990, 2030))
    elif kind == "rating":
        text = rng.choice(
            [
                "230V 5(60)A 50Hz",
                "1000 imp/kWh",
                "220V 10-40A",
                "3200 imp/kW h",
                "ГОСТ 31818.11-2012",
                "cl.1",
                "2019",
                "50 Hz",
                "U=230V",
            ]
        )
    elif kind == "model":
        text = rng.choice(["CE102M", "НІК 2303", "GAMA 100", "BK-G4", "NIK 2104", "MTX 1A10"])
        text += " " + _digits(rng, rng.randrange(2, 5))
    else:
        text = _digits(rng, rng.randrange(5, 9))
    size = rng.randrange(28, 56)
    font = _font(rng.choice(text_fonts()), size)
    pad = size // 3
    tw = int(font.getlength(text)) + 2 * pad
    light = rng.uniform(150, 250)
    dark = rng.uniform(0, 90)
    if kind == "drum":
        image = Image.new("RGB", (tw + len(text) * pad, size + 2 * pad), (int(dark),) * 3)
        draw = ImageDraw.Draw(image)
        x: float = pad
        for ch in text:
            cw = font.getlength("0") + pad
            draw.rectangle([x - 2, 2, x + cw - 2, image.height - 3], outline=(128, 128, 128))
            draw.text((x + pad / 2, pad / 2), ch, fill=(int(light),) * 3, font=font)
            x += cw
    else:
        invert = rng.random() < 0.2
        bgc, fgc = (dark, light) if invert else (light, dark)
        image = Image.new("RGB", (tw, size + 2 * pad), (int(bgc),) * 3)
        ImageDraw.Draw(image).text((pad, pad / 2), text, fill=(int(fgc),) * 3, font=font)
    if rng.random() < 0.5:
        image = image.rotate(rng.uniform(-3, 3), Image.Resampling.BILINEAR, expand=False)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    label = "".join(ch for ch in text if ch in "0123456789.:-")
    return image, label


def to_line(image: Image.Image) -> Image.Image:
    """What the recognizer sees (the same steps as at run time)."""
    from ocr.lcd.recognizer import line_pixels

    return Image.fromarray(line_pixels(image))


def sample(
    seed: int, index: int, negative_share: float = 0.1, realism: int = 1
) -> tuple[Image.Image, str, bool]:
    """Training sample `index` of run `seed`: (line image, label, is seven-segment)."""
    rng = random.Random(f"{seed}:{index}")  # noqa: S311 - reproducible drawing
    if rng.random() < negative_share:
        image, label = make_negative(rng)
        return image, label, False
    image, label = make_line(rng, realism)
    return image, label, True


__all__ = ["LINE_HEIGHT", "make_line", "make_negative", "sample", "to_line"]
