"""Drawing meter counter windows: mechanical drum rows and LCD seven-segment panels.

The renderer is shared by the training-line generator and the whole-photo generator, so the
model learns the same counters the benchmark shows, only framed differently.
"""

from __future__ import annotations

import functools
import glob
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

Color = tuple[int, int, int]

# Upright fonts look like drum print; obliques are rare on meters and would only confuse.
_FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans*.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif*.ttf",
    "/usr/share/fonts/truetype/liberation/Liberation*.ttf",
    "/usr/share/fonts/truetype/freefont/Free*.ttf",
)


@functools.cache
def counter_fonts() -> tuple[str, ...]:
    """Font files usable for drum digits, sorted so a seed always picks the same ones."""
    found: set[str] = set()
    for pattern in _FONT_GLOBS:
        found.update(glob.glob(pattern))
    upright = [
        path
        for path in found
        if not any(word in path for word in ("Oblique", "Italic", "ExtraLight"))
    ]
    return tuple(sorted(upright))


# Training only: more faces than the photo generator uses, so the model learns digits rather
# than a handful of fonts (Debian packages listed in ocr/training/README.md; absent ones are
# skipped). The bench keeps `counter_fonts()`, so its photos do not change with this list.
_TRAINING_FONT_GLOBS = (
    "/usr/share/fonts/opentype/urw-base35/*.otf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto*.ttf",
    "/usr/share/fonts/truetype/croscore/*.ttf",
    "/usr/share/fonts/truetype/crosextra/Carlito*.ttf",
    "/usr/share/fonts/truetype/open-sans/*.ttf",
    "/usr/share/fonts/truetype/lato/*.ttf",
    "/usr/share/fonts/truetype/hack/*.ttf",
    "/usr/share/fonts/truetype/osifont/*.ttf",
    "/usr/share/fonts/opentype/b612/*.otf",
    "/usr/share/fonts/opentype/ocr-b/*.otf",
    "/usr/share/fonts/opentype/league-spartan/*.otf",
)
_NOT_DIGIT_FACES = (
    "Oblique",
    "Italic",
    "Ita.",
    "ExtraLight",
    "Thin",
    "Hairline",
    "Symbol",
    "D050000L",
    "Z003",
    "OCRBE",
    "OCRBF",
    "OCRBL",
    "OCRBX",
)


@functools.cache
def training_fonts() -> tuple[str, ...]:
    """`counter_fonts()` plus the other upright faces installed for training."""
    found: set[str] = set(counter_fonts())
    for pattern in _TRAINING_FONT_GLOBS:
        found.update(
            path
            for path in glob.glob(pattern)
            if not any(word in path for word in _NOT_DIGIT_FACES)
        )
    return tuple(sorted(found))


@functools.cache
def segment_fonts() -> tuple[str, ...]:
    """Seven-segment faces (DSEG7): other segment shapes than our polygons, for training."""
    return tuple(sorted(glob.glob("/usr/share/fonts/truetype/dseg/DSEG7*.ttf")))


@functools.cache
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class Counter:
    """A drawn counter window, its label for training (digits, '.' where printed) and truth."""

    image: Image.Image
    label: str
    integer_digits: str

    @property
    def value(self) -> int:
        """The integer reading the counter shows."""
        return int(self.integer_digits)


def random_reading(rng: random.Random) -> tuple[str, str]:
    """Integer and decimal digit strings of a plausible meter state."""
    n_int = rng.choices([4, 5, 6, 7, 8], weights=[1, 5, 4, 2, 1])[0]
    # Real meters mostly show leading zeros: consumption is far below the drum capacity;
    # but a meter in use for a while has at least three significant digits.
    magnitude = rng.randint(min(3, n_int), n_int)
    value = rng.randint(10 ** (magnitude - 1), 10**magnitude - 1)
    integer = str(value).zfill(n_int)
    n_dec = rng.choices([0, 1, 2, 3], weights=[4, 4, 1, 2])[0]
    decimals = "".join(rng.choice("0123456789") for _ in range(n_dec))
    return integer, decimals


def _jitter(rng: random.Random, color: Color, amount: int) -> Color:
    red, green, blue = (max(0, min(255, c + rng.randint(-amount, amount))) for c in color)
    return red, green, blue


def _dark(rng: random.Random) -> Color:
    base = rng.choice([(15, 15, 15), (30, 30, 35), (20, 25, 45), (45, 40, 35), (10, 10, 10)])
    return _jitter(rng, base, 12)


def _light(rng: random.Random) -> Color:
    base = rng.choice(
        [(240, 240, 235), (225, 225, 215), (250, 250, 250), (210, 210, 200), (235, 230, 210)]
    )
    return _jitter(rng, base, 12)


def _red(rng: random.Random) -> Color:
    return _jitter(rng, rng.choice([(190, 25, 25), (160, 20, 30), (210, 50, 40)]), 20)


def _draw_glyph_cell(
    rng: random.Random,
    digit: int,
    roll: float,
    cell: tuple[int, int],
    font_path: str | None,
    ink: Color,
    paper: Color,
    stretch: float,
    realism: float = 1.0,
    fit_font: bool = False,
) -> Image.Image:
    """One drum cell: digit `digit` centred, shifted up by `roll` of a pitch with its successor.

    `fit_font` sizes the face by its own digit height; the fixed em ratio suits the DejaVu-like
    faces of the photo generator but makes the digits of some faces overlap their neighbours.
    """
    cell_w, cell_h = cell
    digit_h = int(cell_h * rng.uniform(0.55, 0.72))
    size = int(digit_h * 1.38)
    if fit_font and font_path is not None:
        probe = _font(font_path, 100).getbbox("0")
        size = round(100 * digit_h / max(probe[3] - probe[1], 1))
    font = _font(font_path, max(8, size))
    # With less realism the neighbouring digits on the drum stay out of the window.
    pitch = digit_h * (rng.uniform(1.35, 1.6) + (1 - realism) * 0.8)
    strip_w = max(4, int(cell_w / stretch))
    tile = Image.new("RGB", (strip_w, cell_h), paper)
    draw = ImageDraw.Draw(tile)
    for offset in (-1, 0, 1, 2):
        shown = (digit + offset) % 10
        centre_y = cell_h / 2 + (offset - roll) * pitch
        draw.text((strip_w / 2, centre_y), str(shown), font=font, fill=ink, anchor="mm")
    # Drums are cylinders: the window sees them darker towards the top and bottom.
    if rng.random() < 0.7 * realism:
        shade = Image.new("L", (1, cell_h))
        depth = rng.uniform(0.2, 0.6)
        for y in range(cell_h):
            edge = abs(y - cell_h / 2) / (cell_h / 2)
            shade.putpixel((0, y), int(255 * (1 - depth * edge**2)))
        shade = shade.resize((strip_w, cell_h))
        black = Image.new("RGB", tile.size, (0, 0, 0))
        tile = Image.composite(tile, black, shade)
    return tile.resize((cell_w, cell_h), Image.Resampling.BILINEAR)


def draw_drum_counter(
    rng: random.Random, integer: str, decimals: str, realism: float = 1.0, variety: bool = False
) -> Counter:
    """A mechanical drum row: cells with separators, optional red decimal drums and frame.

    `variety` (training) widens fonts, spacings and how often the last drum is turning.
    """
    fonts = training_fonts() if variety else counter_fonts()
    font_path = rng.choice(fonts) if fonts else None
    cell_h = rng.randint(60, 110)
    cell_w = int(cell_h * rng.uniform(0.55, 0.85))
    stretch = rng.uniform(0.75, 1.15)
    gaps = [0.0, 0.05, 0.1, 0.18, 0.3, 0.45] if variety else [0.0, 0.05, 0.1, 0.18, 0.3]
    gap = int(cell_w * rng.choice(gaps))
    dark_drums = rng.random() < 0.55
    drum_ink, drum_paper = (_light(rng), _dark(rng)) if dark_drums else (_dark(rng), _light(rng))
    if variety and rng.random() < 0.3:
        # Coloured drums (blue, green, yellow...) and ink of any hue, as long as they contrast.
        drum_paper = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        luma = 0.3 * drum_paper[0] + 0.59 * drum_paper[1] + 0.11 * drum_paper[2]
        drum_ink = _jitter(rng, (20, 20, 20) if luma > 128 else (235, 235, 230), 20)
        dark_drums = luma <= 128
    separator = rng.choice([_dark(rng), _light(rng), _jitter(rng, (120, 120, 120), 40)])
    frame = rng.choice([_dark(rng), _light(rng), separator])
    red_on_white = rng.random() < 0.5
    cells = len(integer) + len(decimals)
    border = int(cell_h * rng.uniform(0.06, 0.3))
    dec_gap = int(cell_w * rng.uniform(0.1, 0.6)) if decimals else 0
    width = 2 * border + cells * cell_w + (cells - 1) * gap + dec_gap
    height = 2 * border + cell_h
    image = Image.new("RGB", (width, height), frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (border - gap // 2 - 1, border - 1, width - border + gap // 2, border + cell_h),
        fill=separator,
    )
    x = border
    point_printed = False
    for index, char in enumerate(integer + decimals):
        is_decimal = index >= len(integer)
        if is_decimal and index == len(integer):
            x += dec_gap
            if rng.random() < 0.4:
                point_printed = True
                dot_r = max(2, cell_h // 18)
                draw.ellipse(
                    (
                        x - dec_gap // 2 - gap // 2 - dot_r,
                        border + cell_h - 3 * dot_r,
                        x - dec_gap // 2 - gap // 2 + dot_r,
                        border + cell_h - dot_r,
                    ),
                    fill=drum_ink if dark_drums else _dark(rng),
                )
        ink, paper = drum_ink, drum_paper
        if is_decimal:
            ink, paper = (_red(rng), _light(rng)) if red_on_white else (_light(rng), _red(rng))
        last_turning = index == len(integer) + len(decimals) - 1 or is_decimal
        roll = 0.0
        turning = (0.7 if variety else 0.5) if last_turning else 0.08
        if rng.random() < turning * realism:
            roll = rng.uniform(-0.3, 0.3)
        tile = _draw_glyph_cell(
            rng,
            int(char),
            roll,
            (cell_w, cell_h),
            font_path,
            ink,
            paper,
            stretch,
            realism,
            fit_font=variety,
        )
        image.paste(tile, (x, border))
        x += cell_w + gap
    # The point is in the label only when it is on the picture: a model cannot be taught
    # to see a colour change in a grey image.
    label = integer + ("." if point_printed else "") + decimals
    return Counter(image=image, label=label, integer_digits=integer)


# Segments a..g as (x0, y0, x1, y1) in a unit cell, horizontal ones are wide and flat.
_SEGMENTS = {
    "a": (0.15, 0.0, 0.85, 0.1),
    "b": (0.85, 0.05, 0.97, 0.48),
    "c": (0.85, 0.52, 0.97, 0.95),
    "d": (0.15, 0.9, 0.85, 1.0),
    "e": (0.03, 0.52, 0.15, 0.95),
    "f": (0.03, 0.05, 0.15, 0.48),
    "g": (0.15, 0.45, 0.85, 0.55),
}
_DIGIT_SEGMENTS = {
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
}


def _segment_polygon(
    box: tuple[float, float, float, float],
    origin: tuple[float, float],
    size: tuple[float, float],
    slant: float,
    thickness: float,
) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    ox, oy = origin
    w, h = size
    horizontal = (x1 - x0) > (y1 - y0)
    cx0, cx1 = ox + x0 * w, ox + x1 * w
    cy0, cy1 = oy + y0 * h, oy + y1 * h
    if horizontal:
        mid = (cy0 + cy1) / 2
        half = (cy1 - cy0) / 2 * thickness
        points = [
            (cx0, mid),
            (cx0 + half, mid - half),
            (cx1 - half, mid - half),
            (cx1, mid),
            (cx1 - half, mid + half),
            (cx0 + half, mid + half),
        ]
    else:
        mid = (cx0 + cx1) / 2
        half = (cx1 - cx0) / 2 * thickness
        points = [
            (mid, cy0),
            (mid + half, cy0 + half),
            (mid + half, cy1 - half),
            (mid, cy1),
            (mid - half, cy1 - half),
            (mid - half, cy0 + half),
        ]
    # Italic LCD digits lean right: shift by height above the baseline.
    return [(px + slant * (oy + h - py), py) for px, py in points]


def draw_lcd_counter(
    rng: random.Random, integer: str, decimals: str, realism: float = 1.0, variety: bool = False
) -> Counter:
    """A seven-segment LCD panel with ghost segments, optional decimal point and polarity.

    `variety` (training) allows stronger ghosts and sometimes draws DSEG7 glyphs instead of
    our own segment polygons.
    """
    digit_h = rng.randint(50, 95)
    digit_w = int(digit_h * rng.uniform(0.45, 0.62))
    spacing = int(digit_w * rng.uniform(0.25, 0.5))
    slant = rng.choice([0.0, 0.0, 0.08, 0.12])
    thickness = rng.uniform(0.7, 1.25)
    negative = rng.random() < 0.25
    panel = _jitter(
        rng,
        rng.choice(
            [(170, 180, 160), (190, 195, 185), (150, 170, 150), (120, 170, 200), (200, 200, 170)]
        ),
        18,
    )
    lit = _jitter(rng, (25, 30, 30), 15)
    if negative:
        panel, lit = _jitter(rng, (20, 25, 30), 10), _jitter(rng, (90, 230, 150), 30)
    ghost_strength = rng.uniform(0.0, 0.32 if variety else 0.22) * realism
    ghost = tuple(int(p + (li - p) * ghost_strength) for p, li in zip(panel, lit, strict=True))
    # Blank leading positions are how many LCDs show small numbers.
    shown = integer
    if rng.random() < 0.35:
        stripped = integer.lstrip("0") or "0"
        shown = " " * (len(integer) - len(stripped)) + stripped
    chars = shown + decimals
    margin_x = int(digit_w * rng.uniform(0.4, 1.5))
    margin_y = int(digit_h * rng.uniform(0.2, 0.6))
    width = 2 * margin_x + len(chars) * (digit_w + spacing)
    height = 2 * margin_y + digit_h
    image = Image.new("RGB", (width, height), panel)
    draw = ImageDraw.Draw(image)
    segment_font = None
    if variety and segment_fonts() and rng.random() < 0.4:
        face = rng.choice(segment_fonts())
        # DSEG glyphs are taller than wide by their own ratio: size by the height of an 8.
        probe = _font(face, 100).getbbox("8")
        segment_font = _font(face, max(8, round(100 * digit_h / max(probe[3] - probe[1], 1))))
    for index, char in enumerate(chars):
        ox = margin_x + index * (digit_w + spacing)
        if segment_font is not None:
            # The font's "8" is every segment: drawn in the ghost colour under the digit.
            bottom = (ox, margin_y + digit_h)
            if ghost_strength >= 0.03:
                draw.text(bottom, "8", font=segment_font, fill=ghost, anchor="ls")
            if char != " ":
                draw.text(bottom, char, font=segment_font, fill=lit, anchor="ls")
        for name, box in _SEGMENTS.items():
            if segment_font is not None:
                break
            on = char != " " and name in _DIGIT_SEGMENTS[char]
            colour = lit if on else ghost
            if not on and ghost_strength < 0.03:
                continue
            draw.polygon(
                _segment_polygon(box, (ox, margin_y), (digit_w, digit_h), slant, thickness),
                fill=colour,
            )
        if decimals and index == len(shown) - 1:
            dot = max(3, digit_w // 7)
            dx = ox + digit_w + spacing / 2 - dot / 2
            draw.rectangle((dx, margin_y + digit_h - dot, dx + dot, margin_y + digit_h), fill=lit)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    label_int = shown.strip()
    label = label_int + ("." + decimals if decimals else "")
    return Counter(image=image, label=label, integer_digits=integer)


def draw_counter(
    rng: random.Random,
    integer: str | None = None,
    decimals: str | None = None,
    lcd_share: float = 0.3,
    realism: float = 1.0,
    variety: bool = False,
) -> Counter:
    """A random counter: drums most of the time, otherwise an LCD.

    `realism` below 1 hides what makes real counters hard to read (drum neighbours in the
    window, rolling drums, ghost segments): the first stage of training needs it.
    """
    if integer is None or decimals is None:
        integer, decimals = random_reading(rng)
    if rng.random() < lcd_share:
        return draw_lcd_counter(rng, integer, decimals, realism, variety)
    return draw_drum_counter(rng, integer, decimals, realism, variety)
