"""Whole synthetic meter photos for the benchmark: body, labels, serials, clutter, perspective.

Close-ups are crops of the same scenes where the counter spans at least 40 % of the width.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ocr.synthetic.counters import _font, counter_fonts, draw_counter, random_reading
from ocr.synthetic.lines import degrade

Point = tuple[float, float]

_MAKERS = (
    "НІК 2102",
    "ЛЕО",
    "GAMA 100",
    "Energomera CE101",
    "МТХ 1A10",
    "Меркурій 201",
    "ЕМОС",
    "NIK 2104",
    "Elster AS1440",
    "Телекарт",
)
_SPECS = (
    "220 V  5(60) A  50 Hz",
    "кл.т. 1,0",
    "3200 imp/kWh",
    "1000 імп/кВт·год",
    "230V 10(100)A",
    "IP54",
    "ДСТУ EN 50470-3",
    "Т1 Т2",
)


@dataclass(frozen=True)
class MeterPhoto:
    """A generated photo and what it shows."""

    image: Image.Image
    reading: int
    digit_count: int
    closeup: bool
    counter_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


def homography(src: list[Point], dst: list[Point]) -> tuple[float, ...]:
    """Coefficients (a..h) of the projective map taking the four `src` points to `dst`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return tuple(float(c) for c in np.linalg.solve(np.array(rows), np.array(rhs)))


def _apply(coeffs: tuple[float, ...], point: Point) -> Point:
    a, b, c, d, e, f, g, h = coeffs
    x, y = point
    w = g * x + h * y + 1
    return ((a * x + b * y + c) / w, (d * x + e * y + f) / w)


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A wall, a panel or wood: smooth colour with texture noise and a few stripes."""
    w, h = size
    base = np.array(
        rng.choice(
            [
                (190, 185, 175),
                (120, 110, 100),
                (210, 200, 170),
                (90, 95, 100),
                (160, 130, 90),
                (230, 230, 225),
                (60, 60, 60),
            ]
        ),
        dtype=np.float32,
    )
    small = np.random.default_rng(rng.randrange(2**32)).normal(0, 25, (h // 16 + 1, w // 16 + 1, 3))
    texture = (
        np.asarray(
            Image.fromarray(np.clip(small + 128, 0, 255).astype(np.uint8)).resize(
                (w, h), Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
        - 128
    )
    image = Image.fromarray(np.clip(base + texture, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 6)):
        # Pipes, cables and box edges.
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x1, y1 = x0 + rng.uniform(-w, w), y0 + rng.uniform(-h, h)
        draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(3, max(4, w // 25)))
    return image


def _text(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    xy: Point,
    text: str,
    size: int,
    fill: tuple[int, int, int],
) -> None:
    fonts = counter_fonts()
    draw.text(xy, text, font=_font(rng.choice(fonts) if fonts else None, max(6, size)), fill=fill)


def _meter_body(rng: random.Random) -> tuple[Image.Image, tuple[int, int, int, int], int, int]:
    """The meter's face with a counter; returns image, counter box, reading and digit count."""
    integer, decimals = random_reading(rng)
    counter = draw_counter(rng, integer, decimals)
    body_w = int(counter.image.width / rng.uniform(0.45, 0.8))
    body_h = int(body_w * rng.uniform(0.9, 1.6))
    light_face = rng.random() < 0.75
    face = (
        tuple(rng.randint(200, 245) for _ in range(3))
        if light_face
        else tuple(rng.randint(25, 70) for _ in range(3))
    )
    ink = (25, 25, 25) if light_face else (225, 225, 225)
    body = Image.new("RGBA", (body_w, body_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(body)
    casing = tuple(max(0, c - rng.randint(10, 60)) for c in face)
    draw.rounded_rectangle((0, 0, body_w - 1, body_h - 1), radius=body_w // 12, fill=(*casing, 255))
    inset = int(body_w * 0.05)
    draw.rounded_rectangle(
        (inset, inset, body_w - inset, body_h - inset), radius=body_w // 20, fill=(*face, 255)
    )
    cx = (body_w - counter.image.width) // 2 + rng.randint(-inset, inset)
    cy = int(body_h * rng.uniform(0.22, 0.45))
    body.paste(counter.image, (cx, cy))
    box = (cx, cy, cx + counter.image.width, cy + counter.image.height)
    digit_h = counter.image.height // 2
    _text(draw, rng, (inset * 2, inset * 1.5), rng.choice(_MAKERS), int(digit_h * 0.6), ink)
    if rng.random() < 0.8:
        _text(
            draw,
            rng,
            (box[2] + inset * 0.3, cy + counter.image.height * 0.3),
            "kWh",
            int(digit_h * 0.5),
            ink,
        )
    y = box[3] + digit_h * 0.4
    for _ in range(rng.randint(2, 5)):
        if y > body_h - inset * 2:
            break
        if rng.random() < 0.4:
            serial = "№ " + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 12)))
            _text(draw, rng, (inset * 2, y), serial, int(digit_h * rng.uniform(0.35, 0.7)), ink)
        else:
            _text(draw, rng, (inset * 2, y), rng.choice(_SPECS), int(digit_h * 0.35), ink)
        y += digit_h * rng.uniform(0.6, 1.0)
    if rng.random() < 0.6:
        # The pulse LED and a barcode, both common on Ukrainian meters.
        r = max(3, body_w // 60)
        lx, ly = body_w - inset * 3, box[3] + digit_h
        draw.ellipse((lx - r, ly - r, lx + r, ly + r), fill=(200, 30, 30, 255))
        bx = inset * 2
        by = body_h - inset * 4
        for _ in range(40):
            bw = rng.randint(1, 4)
            draw.rectangle((bx, by, bx + bw, by + inset * 1.5), fill=(*ink, 255))
            bx += bw + rng.randint(1, 4)
    for sx, sy in (
        (inset, inset),
        (body_w - inset, inset),
        (inset, body_h - inset),
        (body_w - inset, body_h - inset),
    ):
        draw.ellipse(
            (sx - inset // 3, sy - inset // 3, sx + inset // 3, sy + inset // 3),
            fill=(150, 150, 150, 255),
        )
    return body, box, counter.value, len(integer)


def make_meter_photo(rng: random.Random, closeup: bool) -> MeterPhoto:
    """A phone-like photo of a meter; `closeup` crops so the counter spans ≥ 40 % of the width."""
    body, box, reading, digits = _meter_body(rng)
    out_w = rng.choice([960, 1200, 1280, 1600, 2000])
    portrait = rng.random() < 0.6
    out_h = int(out_w * (4 / 3 if portrait else 3 / 4))
    scene_scale = rng.uniform(0.45, 0.85) * out_w / body.width
    bw, bh = int(body.width * scene_scale), int(body.height * scene_scale)
    body = body.resize((bw, bh), Image.Resampling.LANCZOS)
    canvas = _background(rng, (out_w, out_h))
    # Place the body with a random perspective: corners moved by a few per cent.
    ox = (out_w - bw) / 2 + rng.uniform(-0.1, 0.1) * out_w
    oy = (out_h - bh) / 2 + rng.uniform(-0.1, 0.1) * out_h
    src = [(0.0, 0.0), (bw, 0.0), (bw, bh), (0.0, bh)]
    angle = np.deg2rad(rng.gauss(0, 4))
    centre = (bw / 2, bh / 2)
    dst = []
    for x, y in src:
        rx = centre[0] + (x - centre[0]) * np.cos(angle) - (y - centre[1]) * np.sin(angle)
        ry = centre[1] + (x - centre[0]) * np.sin(angle) + (y - centre[1]) * np.cos(angle)
        jitter = 0.05 * bw
        dst.append((ox + rx + rng.uniform(-jitter, jitter), oy + ry + rng.uniform(-jitter, jitter)))
    inverse = homography(dst, src)
    forward = homography(src, dst)
    warped = body.transform(
        (out_w, out_h), Image.Transform.PERSPECTIVE, inverse, Image.Resampling.BILINEAR
    )
    canvas.paste(warped, (0, 0), warped)
    corners = [
        _apply(forward, (box[0] * scene_scale, box[1] * scene_scale)),
        _apply(forward, (box[2] * scene_scale, box[3] * scene_scale)),
        _apply(forward, (box[0] * scene_scale, box[3] * scene_scale)),
        _apply(forward, (box[2] * scene_scale, box[1] * scene_scale)),
    ]
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    counter_box = (min(xs), min(ys), max(xs), max(ys))
    if closeup:
        counter_w = max(xs) - min(xs)
        crop_w = counter_w / rng.uniform(0.42, 0.9)
        crop_h = crop_w * rng.choice([3 / 4, 4 / 3, 1.0])
        cx = (max(xs) + min(xs)) / 2 + rng.uniform(-0.1, 0.1) * (crop_w - counter_w)
        cy = (max(ys) + min(ys)) / 2 + rng.uniform(-0.25, 0.25) * crop_h
        region = (
            int(cx - crop_w / 2),
            int(cy - crop_h / 2),
            int(cx + crop_w / 2),
            int(cy + crop_h / 2),
        )
        canvas = canvas.crop(region)
        target_w = rng.choice([800, 1024, 1280, 1600])
        zoom = target_w / canvas.width
        canvas = canvas.resize(
            (target_w, int(target_w * canvas.height / canvas.width)), Image.Resampling.LANCZOS
        )
        left, top, right, bottom = counter_box
        counter_box = (
            (left - region[0]) * zoom,
            (top - region[1]) * zoom,
            (right - region[0]) * zoom,
            (bottom - region[1]) * zoom,
        )
    if rng.random() < 0.3:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    canvas = degrade(rng, canvas, strength=rng.uniform(0.2, 0.8))
    return MeterPhoto(
        image=canvas, reading=reading, digit_count=digits, closeup=closeup, counter_box=counter_box
    )
