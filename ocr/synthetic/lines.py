"""Training lines for the digits model: a counter as the locator would crop it, degraded.

The crop is deliberately imperfect (loose or tight margins, a bit of frame, stray label text
beside the digits) because that is what the model will be fed from real photos.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from ocr.synthetic.counters import (
    Counter,
    _font,
    counter_fonts,
    draw_counter,
    random_reading,
)

LINE_HEIGHTS = (40, 56)
# Heights of the crop before enlarging, for counters small in the photo.
SMALL_HEIGHTS = (14, 32)

# Words printed next to counters; they carry no label so the model learns to ignore them.
_CLUTTER_WORDS = ("kWh", "кВт·год", "m³", "x1", "T1", "T2", "Wh", "1.8.0", "imp/kWh", "▲", "■")


def _add_clutter(rng: random.Random, image: Image.Image) -> Image.Image:
    """Widen the crop with a strip of the meter face, sometimes with a unit label on it."""
    pad_l = int(image.height * rng.uniform(0.0, 0.5))
    pad_r = int(image.height * rng.uniform(0.0, 1.6))
    face = (
        tuple(int(c) for c in np.asarray(image)[0, 0])
        if rng.random() < 0.5
        else (rng.choice([(235, 235, 230), (40, 40, 45), (200, 200, 195)]))
    )
    canvas = Image.new("RGB", (image.width + pad_l + pad_r, image.height), face)
    canvas.paste(image, (pad_l, 0))
    if pad_r > image.height * 0.8 and rng.random() < 0.6:
        draw = ImageDraw.Draw(canvas)
        fonts = counter_fonts()
        size = int(image.height * rng.uniform(0.2, 0.4))
        font = _font(rng.choice(fonts) if fonts else None, size)
        ink = (20, 20, 20) if sum(face) > 380 else (230, 230, 230)
        draw.text(
            (pad_l + image.width + image.height * 0.15, image.height * rng.uniform(0.2, 0.6)),
            rng.choice(_CLUTTER_WORDS),
            font=font,
            fill=ink,
        )
    return canvas


def degrade(rng: random.Random, image: Image.Image, strength: float = 1.0) -> Image.Image:
    """Photo-like damage: uneven light, glare, blur, noise, contrast and JPEG loss."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    if rng.random() < 0.6 * strength:
        # A smooth light gradient across the crop, as from a lamp on one side.
        ys, xs = np.mgrid[0:h, 0:w]
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xs / max(w, 1) + np.sin(angle) * ys / max(h, 1)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        rgb *= (1 - rng.uniform(0.1, 0.55) * strength * ramp)[..., None]
    if rng.random() < 0.25 * strength:
        # Flash glare: a bright soft blob.
        ys, xs = np.mgrid[0:h, 0:w]
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        radius = rng.uniform(0.1, 0.4) * max(w, h)
        blob = np.exp(-(((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)))
        rgb += (rng.uniform(60, 160) * strength * blob)[..., None]
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    out = Image.fromarray(rgb)
    out = ImageEnhance.Contrast(out).enhance(rng.uniform(1 - 0.5 * strength, 1.2))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(1 - 0.4 * strength, 1 + 0.2 * strength))
    if rng.random() < 0.7:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.6 * strength)))
    if rng.random() < 0.6:
        arr = np.asarray(out, dtype=np.float32)
        noise = np.random.default_rng(rng.randrange(2**32)).normal(
            0, rng.uniform(2, 14 * strength), arr.shape
        )
        out = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        out.save(buffer, "JPEG", quality=rng.randint(int(85 - 60 * min(strength, 1.0)), 92))
        buffer.seek(0)
        out = Image.open(buffer).convert("RGB")
    return out


def crop_like_locator(
    rng: random.Random, image: Image.Image, difficulty: float = 1.0
) -> Image.Image:
    """Rotate slightly and crop with imperfect margins, as a located window would be."""
    angle = rng.gauss(0, 0.4 + 0.8 * difficulty)
    fill = tuple(int(c) for c in np.asarray(image.convert("RGB"))[0, 0])
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    w, h = rotated.size
    # Negative margins cut into the digits a little: the locator is not always generous.
    top = int(h * rng.uniform(-0.04 * difficulty, 0.12))
    bottom = int(h * rng.uniform(-0.04 * difficulty, 0.12))
    left = int(h * rng.uniform(-0.05 * difficulty, 0.1 + 0.2 * difficulty))
    right = int(h * rng.uniform(-0.05 * difficulty, 0.1 + 0.2 * difficulty))
    canvas = Image.new("RGB", (w + 2 * h, h + 2 * h), fill)
    canvas.paste(rotated, (h, h))
    box = (h - left, h - top, h + w + right, h + h + bottom)
    return canvas.crop(box)


def training_reading(rng: random.Random) -> tuple[str, str]:
    """Digits for a training line: mostly uniform, so the model cannot settle on zeros.

    Real counters show many leading zeros; a model trained on that distribution first
    learns to answer "00" to everything and stays there for thousands of iterations.
    """
    if rng.random() < 0.25:
        return random_reading(rng)
    n_int = rng.randint(4, 8)
    integer = "".join(rng.choice("0123456789") for _ in range(n_int))
    n_dec = rng.choice([0, 0, 1, 1, 2, 3])
    return integer, "".join(rng.choice("0123456789") for _ in range(n_dec))


def make_training_line(
    rng: random.Random, difficulty: float = 1.0, variety: bool = False, small_share: float = 0.0
) -> tuple[Image.Image, str]:
    """One grey line image and its label (digits, '.' where a point is shown).

    `difficulty` (0..1) scales clutter, crop errors and photo damage; training starts easy
    because a from-scratch LSTM does not get off the ground on the hardest lines alone.
    `variety` draws from more fonts, colours, spacings and segment shapes than the photo
    generator knows, so the model is not fitted to our own generator's few styles.
    `small_share` of the lines are shrunk and enlarged again, as a distant counter is.
    """
    integer, decimals = training_reading(rng)
    counter: Counter = draw_counter(rng, integer, decimals, realism=difficulty, variety=variety)
    image = counter.image
    if rng.random() < 0.35 * difficulty:
        image = _add_clutter(rng, image)
    image = crop_like_locator(rng, image, difficulty)
    image = degrade(rng, image, strength=rng.uniform(0.1, 0.3 + 0.7 * difficulty))
    height = rng.randint(*LINE_HEIGHTS)
    width = max(8, round(image.width * height / image.height * rng.uniform(0.85, 1.15)))
    gray = image.convert("L")
    if small_share and rng.random() < small_share:
        # A counter far from the camera: few pixels, enlarged by the locator's cut.
        small = rng.randint(*SMALL_HEIGHTS)
        gray = gray.resize(
            (max(4, round(gray.width * small / gray.height)), small), Image.Resampling.BILINEAR
        )
        return gray.resize((width, height), Image.Resampling.BICUBIC), counter.label
    line = gray.resize((width, height), Image.Resampling.LANCZOS)
    return line, counter.label
