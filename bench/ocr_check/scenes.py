"""Meter photos for the independent check set: LCD and drum meters, whole or close-up.

Drawn from scratch (no code shared with `ocr/synthetic` or `ocr/lcd/training`), after what
public pages say the displays show:

- НІК 2301/2303: an 8-digit total with two decimals after a comma-like point
  ("00043528,45"), a register code in small digits on the left ("15.8.0" total, "15.8.1"
  day, "15.8.2" night) or, on older ones, "T0" / "T1" / "T2"; "kW·h"; tariff marks and
  arrows across the top; the display cycles date, time and registers.
- Gama 100/300: a 6-7 digit total with one or two decimals, the OBIS code "1.8.0" in small
  digits, "kWh", icons; the 300 has a second row (time, date or a register).
- Energomera CE102/CE303: "T1"…"T4" or "Σ"/"СУМ" printed on the glass beside a 6.2 value
  ("000123.45"), "kW·h", the active tariff marked.
- Drum meters: white-on-black or black-on-white drums with a red decimal drum, "kWh",
  a serial number, the model name, ratings and "imp/kWh" on the faceplate; water and gas
  meters with three red decimal drums and "m³".

Every photo carries the label of the total (integer part) only: the registers, the clock
and the serial number are there to be avoided.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.ocr_check.segments import Color, SegmentStyle, draw_segments

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu/",
    "/usr/share/fonts/truetype/liberation/",
    "/usr/share/fonts/truetype/freefont/",
)
PRINT_FONTS = (
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed-Bold.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationSansNarrow-Bold.ttf",
    "freefont/FreeSans.ttf",
    "freefont/FreeSansBold.ttf",
)
DRUM_FONTS = (
    "liberation/LiberationSansNarrow-Bold.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed-Bold.ttf",
    "freefont/FreeSansBold.ttf",
    "liberation/LiberationMono-Bold.ttf",
    "dejavu/DejaVuSansMono-Bold.ttf",
    "freefont/FreeMonoBold.ttf",
)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font from /usr/share/fonts/truetype/<name>."""
    return ImageFont.truetype("/usr/share/fonts/truetype/" + name, max(6, int(size)))


@dataclass(frozen=True)
class Photo:
    """One check photo: JPEG bytes and its label."""

    data: bytes
    reading: int
    kind: str  # lcd / drum
    meter: str  # nik2303, gama100, ce102, …, water, gas, drum
    shot: str  # close / whole


def _jit(rng: random.Random, color: Color, amount: int) -> Color:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in color)  # type: ignore[return-value]


def _mix(a: Color, b: Color, t: float) -> Color:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


# ---------------------------------------------------------------- LCD panels


def _glass(rng: random.Random) -> tuple[Color, Color]:
    """The glass and the lit-segment colour: grey-green, grey, bluish or backlit."""
    kind = rng.choices(["greygreen", "grey", "yellowgreen", "backlit", "blue"], [4, 3, 2, 1, 1])[0]
    glass = {
        "greygreen": (158, 170, 150),
        "grey": (170, 172, 168),
        "yellowgreen": (170, 182, 120),
        "backlit": (150, 205, 120),
        "blue": (140, 170, 200),
    }[kind]
    glass = _jit(rng, glass, 18)
    ink = _jit(rng, (35, 40, 38), 15)
    # Low contrast: lit segments only part of the way from glass to black.
    ink = _mix(glass, ink, rng.uniform(0.45, 1.0))
    return glass, ink


def _style(rng: random.Random) -> SegmentStyle:
    return SegmentStyle(
        ends=rng.choice(["point", "flat", "mitre", "mitre"]),
        thickness=rng.uniform(0.08, 0.15),
        gap=rng.uniform(0.008, 0.05),
        slant=rng.choice([0.0, 0.0, rng.uniform(0.05, 0.16)]),
        aspect=rng.uniform(0.45, 0.62),
        six_tail=rng.random() < 0.8,
        nine_tail=rng.random() < 0.8,
        seven_hook=rng.random() < 0.15,
    )


def _value_text(rng: random.Random, integer_digits: int, decimals: int) -> tuple[str, int]:
    """A total with leading zeros, its decimals after a point; returns (text, integer)."""
    size = rng.choice([3, 4, 4, 4, 5, 5, 5, 6])
    size = min(size, integer_digits)
    value = rng.randint(10 ** (size - 1), 10**size - 1)
    text = str(value).rjust(integer_digits, "0")
    if decimals:
        text += "." + "".join(rng.choice("0123456789") for _ in range(decimals))
    return text, value


def _icons(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    box: tuple[int, int, int, int],
    ink: Color,
    ghost: Color,
) -> None:
    """Arrows, triangles, a battery and phase marks along a strip of the glass."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    x = x0
    while x < x1 - h:
        choice = rng.random()
        color = ink if rng.random() < 0.45 else ghost
        if choice < 0.3:
            draw.polygon([(x, y1), (x + h * 0.5, y0), (x + h, y1)], fill=color)
        elif choice < 0.5:
            draw.rectangle([x, y0 + h * 0.2, x + h * 1.4, y1 - h * 0.2], outline=color, width=2)
            x += h * 0.6
        elif choice < 0.7:
            draw.polygon([(x, y0), (x + h, y0 + h / 2), (x, y1)], fill=color)
        else:
            draw.text(
                (x, y0 - h * 0.1),
                rng.choice(["L1", "L2", "L3", "R", "P", "Q", "!", "⚠"]),
                fill=color,
                font=font("dejavu/DejaVuSans-Bold.ttf", h),
            )
        x += h * rng.uniform(1.4, 2.6)


def lcd_panel(rng: random.Random, meter: str) -> tuple[Image.Image, int, tuple[int, int, int, int]]:
    """A display glass in the style of `meter`; (image, total, box of the total's row)."""
    glass, ink = _glass(rng)
    ghost_strength = rng.choice([0.0, rng.uniform(0.04, 0.2), rng.uniform(0.1, 0.3)])
    ghost = _mix(glass, ink, ghost_strength) if ghost_strength > 0 else None
    style = _style(rng)
    digit_h = rng.randint(70, 110)
    W = int(digit_h * rng.uniform(8.5, 10.5))
    H = int(digit_h * rng.uniform(2.1, 3.0))
    second_row = meter in ("gama300", "ce303") or rng.random() < 0.25
    if second_row:
        H = int(H + digit_h * 0.8)
    image = Image.new("RGB", (W, H), glass)
    draw = ImageDraw.Draw(image)
    small = font(rng.choice(PRINT_FONTS[:3]), digit_h * 0.32)
    ghost_icon = ghost or _mix(glass, ink, 0.08)

    # Icons across the top.
    _icons(
        draw,
        rng,
        (int(W * 0.04), int(digit_h * 0.12), int(W * 0.96), int(digit_h * 0.38)),
        ink,
        ghost_icon,
    )
    top = int(digit_h * 0.6)
    x = W * rng.uniform(0.03, 0.06)

    if meter.startswith("nik"):
        integer_digits, decimals = rng.choice([(8, 2), (8, 2), (6, 2), (7, 1)])
        code = rng.choice(["15.8.0", "15.8.0", "T0", "", "1.8.0"])
    elif meter.startswith("gama"):
        integer_digits, decimals = rng.choice([(6, 1), (6, 2), (7, 1), (5, 2)])
        code = rng.choice(["1.8.0", "1.8.0", "", "15.8.0"])
    else:  # Energomera
        integer_digits, decimals = rng.choice([(6, 2), (6, 2), (5, 2), (7, 2)])
        code = rng.choice(["T", "Σ", "СУМ", "", "T0"])
    text, value = _value_text(rng, integer_digits, decimals)

    # Register code at the left, in small digits or printed letters.
    if code:
        code_h = digit_h * rng.uniform(0.38, 0.5)
        if code[0].isdigit():
            draw_segments(draw, x, top + digit_h - code_h, code_h, code, style, ink, ghost)
            x += code_h * style.aspect * 1.3 * len(code.replace(".", "")) + digit_h * 0.25
        else:
            draw.text((x, top), code, fill=ink, font=font(PRINT_FONTS[1], digit_h * 0.42))
            x += digit_h * (0.35 * len(code) + 0.4)
    value_x = x
    end = draw_segments(
        draw, x, top, digit_h, text, style, ink, ghost, spacing=rng.uniform(0.18, 0.4)
    )
    row = (int(value_x - digit_h * 0.1), top, int(end), top + digit_h)
    # The unit: printed on the glass (or as segment-like letters), right of or under the value.
    unit = rng.choice(["kWh", "kW·h", "kW h", "кВт·год", "kWh"])
    unit_font = font(rng.choice(PRINT_FONTS), digit_h * rng.uniform(0.28, 0.4))
    if end + digit_h * 1.6 < W:
        draw.text((end + digit_h * 0.1, top + digit_h * 0.55), unit, fill=ink, font=unit_font)
    else:
        draw.text((W * 0.7, top + digit_h * 1.05), unit, fill=ink, font=unit_font)
    # Tariff marks: "T1 T2 T3 T4" with the active one lit, as CE102 and НІК show them.
    if rng.random() < 0.6:
        tx = W * rng.uniform(0.05, 0.5)
        ty = top + digit_h * 1.08
        active = rng.randint(1, 4)
        for t in range(1, rng.choice([3, 5])):
            draw.text((tx, ty), f"T{t}", fill=ink if t == active else ghost_icon, font=small)
            tx += digit_h * 0.7
    if second_row:
        row2_h = digit_h * rng.uniform(0.42, 0.6)
        y2 = H - row2_h - digit_h * 0.15
        content = rng.random()
        if content < 0.35:
            second = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        elif content < 0.6:
            second = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(20, 26):02d}"
        else:
            # A tariff register, smaller than the total: the total's day part.
            part = rng.randint(0, max(0, value - 1))
            second = (
                str(part).rjust(integer_digits, "0") + "." + str(rng.randint(0, 99)).rjust(2, "0")
            )
            draw.text(
                (W * 0.05, y2),
                rng.choice(["T1", "T2", "1.8.1", "15.8.2"]),
                fill=ink,
                font=font(PRINT_FONTS[1], row2_h * 0.7),
            )
        draw_segments(draw, W * rng.uniform(0.25, 0.45), y2, row2_h, second, style, ink, ghost)
    return image, value, row


# ---------------------------------------------------------------- drum counters


def drum_window(rng: random.Random, meter: str) -> tuple[Image.Image, int]:
    """A drum counter window; (image, integer reading)."""
    water_gas = meter in ("water", "gas")
    if water_gas:
        integer_digits, red = 5, rng.choice([3, 3, 2])
    else:
        integer_digits, red = rng.choice([(5, 1), (6, 1), (6, 1), (4, 1), (5, 0), (7, 1)])
    value = (
        rng.randint(0, 10**integer_digits - 1)
        if rng.random() < 0.3
        else rng.randint(10 ** (integer_digits - 3), 10 ** (integer_digits - 1) * 3)
    )
    value = min(value, 10**integer_digits - 1)
    digits = str(value).rjust(integer_digits, "0")
    decimals = "".join(rng.choice("0123456789") for _ in range(red))
    white_on_black = (not water_gas) and rng.random() < 0.55
    cell_h = rng.randint(70, 100)
    cell_w = int(cell_h * rng.uniform(0.55, 0.75))
    gap = int(cell_w * rng.uniform(0.08, 0.3))
    pad = int(cell_h * rng.uniform(0.12, 0.3))
    n = integer_digits + red
    W = pad * 2 + n * cell_w + (n - 1) * gap
    H = int(cell_h + pad * 2)
    frame = _jit(rng, (25, 25, 28), 10) if rng.random() < 0.7 else _jit(rng, (200, 200, 195), 20)
    image = Image.new("RGB", (W, H), frame)
    draw = ImageDraw.Draw(image)
    face = font(rng.choice(DRUM_FONTS), cell_h * rng.uniform(0.62, 0.8))
    for i, char in enumerate(digits + decimals):
        x = pad + i * (cell_w + gap)
        is_red = i >= integer_digits
        if is_red:
            paper, ink = (
                (_jit(rng, (190, 30, 30), 25), (250, 250, 250))
                if rng.random() < 0.6
                else ((245, 245, 240), _jit(rng, (200, 30, 30), 25))
            )
        elif white_on_black:
            paper, ink = _jit(rng, (30, 30, 32), 10), _jit(rng, (235, 235, 230), 15)
        else:
            paper, ink = _jit(rng, (238, 236, 228), 12), _jit(rng, (20, 20, 22), 12)
        cell = Image.new("RGB", (cell_w, cell_h), paper)
        cd = ImageDraw.Draw(cell)
        # Drums turn: the decimal drums are anywhere between two digits; the integer
        # drums sit nearly straight (a label must stay unambiguous).
        shift = rng.uniform(-0.5, 0.5) if is_red else rng.choice([0.0, 0.0, rng.uniform(-0.1, 0.1)])
        for k, ch in ((-1, str((int(char) + 1) % 10)), (0, char), (1, str((int(char) - 1) % 10))):
            bbox = cd.textbbox((0, 0), ch, font=face)
            tw, th = bbox[2] - bbox[0], bbox[3] - bbox[1]
            cy = cell_h / 2 + (k + shift) * cell_h * 0.95
            cd.text((cell_w / 2 - tw / 2 - bbox[0], cy - th / 2 - bbox[1]), ch, fill=ink, font=face)
        # Cylinder shading: darker towards the top and bottom edges.
        shade = np.linspace(-1, 1, cell_h)[:, None]
        factor = 1 - 0.45 * shade**2
        arr = np.asarray(cell).astype(np.float32) * factor[..., None]
        image.paste(Image.fromarray(arr.clip(0, 255).astype(np.uint8)), (x, pad))
    if rng.random() < 0.5:  # a decimal point or comma before the red drums
        px = pad + integer_digits * (cell_w + gap) - gap // 2
        draw.ellipse([px - 4, pad + cell_h - 10, px + 4, pad + cell_h - 2], fill=(230, 230, 230))
    return image, value


# ---------------------------------------------------------------- the meter


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    base = rng.choice(
        [
            (200, 190, 170),
            (120, 125, 130),
            (210, 210, 205),
            (90, 80, 70),
            (160, 170, 180),
            (60, 70, 60),
        ]
    )
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(
        0, rng.uniform(4, 18), (size[1] // 8 + 1, size[0] // 8 + 1, 1)
    )
    arr = np.array(_jit(rng, base, 25), np.float32)[None, None, :] + noise
    image = Image.fromarray(arr.clip(0, 255).astype(np.uint8)).resize(size, Image.BILINEAR)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 5)):  # wires, a cabinet edge, a breaker
        x = rng.randint(0, size[0])
        draw.line(
            [(x, 0), (x + rng.randint(-200, 200), size[1])],
            fill=rng.choice([(20, 20, 20), (200, 40, 40), (40, 40, 200), (230, 230, 230)]),
            width=rng.randint(4, 18),
        )
    return image


def _serial(rng: random.Random) -> str:
    n = "".join(rng.choice("0123456789") for _ in range(rng.choice([7, 8, 9, 10, 12])))
    return rng.choice(["№ ", "No ", "№", "S/N ", "Зав. № "]) + n


MODELS = {
    "nik2301": ["НІК 2301 АП1", "NIK 2301 AP1"],
    "nik2303": ["НІК 2303 АРК1Т", "NIK 2303L АРП3", "НІК 2303 АРТ1"],
    "gama100": ["GAMA 100 G1B.145", "GAMA 100 G1E", "ЕМ GAMA 100"],
    "gama300": ["GAMA 300 G3B.144", "GAMA 300"],
    "ce102": ["CE102 R5 145-A", "СЕ102 S7 145-JV", "CE102 R5.1"],
    "ce303": ["CE303 R33 543-JAZ", "СЕ303 S31 745"],
    "drum": ["СО-505", "СО-И446", "NIK 2100 АП1", "Меркурій 201", "ЦЭ6807Б", "НІК 2102-02.М1"],
    "water": ["NOVATOR ЛК-1.5", "Sensus 620", "GROSS ETR-UA", "Apator JS-1.6"],
    "gas": ["BK-G4", "BK-G4T", "Metrix G4", "Elster BK-G2.5", "Самгаз G4 RS/2001-2П"],
}


def _nameplate(
    rng: random.Random,
    draw: ImageDraw.ImageDraw,
    meter: str,
    area: tuple[int, int, int, int],
    ink: Color,
) -> None:
    """Model, serial number, ratings, year and constants printed on the faceplate."""
    x0, y0, x1, y1 = area
    gas_water = meter in ("water", "gas")
    lines = [rng.choice(MODELS[meter]), _serial(rng)]
    if gas_water:
        lines += [
            rng.choice(["Qmax 6 m³/h", "Qn 1.5 m³/h", "Qmin 0.04 m³/h", "pmax 50 kPa"]),
            rng.choice(["m³", "м³"]),
            str(rng.randint(1998, 2024)),
        ]
    else:
        lines += [
            rng.choice(
                ["220V 5(60)A 50Hz", "230 В 5(60) А 50 Гц", "3×220/380V 5(100)A", "230V 10(100)A"]
            ),
            rng.choice(["1000 imp/kWh", "3200 імп/кВт·год", "1600 imp/kW·h", "600 rev/kWh"]),
            rng.choice(["Кл.т. 1", "Class 1", "кл. точн. 2.0"]),
            str(rng.randint(2005, 2024)) + rng.choice([" р.", "", " year"]),
        ]
    rng.shuffle(lines)
    lines.insert(0, lines.pop(lines.index(next(li for li in lines if li in MODELS[meter]))))
    y = y0
    for line in lines:
        size = rng.randint(22, 44) if line in MODELS[meter] else rng.randint(16, 30)
        if y + size > y1:
            break
        x = rng.randint(x0, max(x0, x0 + (x1 - x0) // 3))
        draw.text((x, y), line, fill=ink, font=font(rng.choice(PRINT_FONTS), size))
        y += int(size * rng.uniform(1.3, 2.0))
    if rng.random() < 0.5:  # a barcode
        bx, by = rng.randint(x0, max(x0, x1 - 220)), max(y0, y1 - 70)
        while bx < min(x1, bx + 200):
            w = rng.randint(1, 4)
            draw.rectangle([bx, by, bx + w, by + 50], fill=ink)
            bx += w + rng.randint(1, 4)
            if rng.random() < 0.03:
                break


def meter_photo(rng: random.Random, meter: str, kind: str, closeup: bool) -> Photo:
    """A photo of a whole meter or a close-up of its counter, through a phone's camera."""
    if kind == "lcd":
        counter, value, row = lcd_panel(rng, meter)
        bezel = (
            _jit(rng, (40, 42, 45), 10) if rng.random() < 0.5 else _jit(rng, (150, 150, 150), 30)
        )
    else:
        counter, value = drum_window(rng, meter)
        row = (0, 0, counter.width, counter.height)
        bezel = _jit(rng, (60, 60, 60), 30)
    cw, ch = counter.size
    # An LCD glass is a small part of an electronic meter's face; a drum window a larger one.
    body_w = int(cw * (rng.uniform(1.5, 2.4) if kind == "lcd" else rng.uniform(1.35, 1.8)))
    body_h = int(body_w * rng.uniform(0.9, 1.4))
    body_color = rng.choice(
        [(235, 235, 230), (215, 218, 220), (200, 205, 200), (70, 72, 75), (230, 220, 170)]
    )
    if meter == "water":
        body_color = rng.choice([(240, 240, 245), (40, 80, 160), (230, 230, 230)])
    body_color = _jit(rng, body_color, 10)
    ink = (20, 20, 25) if sum(body_color) > 360 else (230, 230, 230)
    body = Image.new("RGB", (body_w, body_h), body_color)
    bd = ImageDraw.Draw(body)
    cx = (body_w - cw) // 2 + rng.randint(-body_w // 20, body_w // 20)
    cy = int(body_h * rng.uniform(0.12, 0.3))
    border = rng.randint(6, 24)
    bd.rounded_rectangle(
        [cx - border, cy - border, cx + cw + border, cy + ch + border], radius=border, fill=bezel
    )
    body.paste(counter, (cx, cy))
    # The unit beside a drum counter, the maker's name above it.
    if kind == "drum":
        unit = rng.choice(["kWh", "кВт·год", "kW·h"]) if meter not in ("water", "gas") else "m³"
        bd.text(
            (cx + cw + border + 8, cy + ch // 3),
            unit,
            fill=ink,
            font=font(rng.choice(PRINT_FONTS), ch * 0.35),
        )
    _nameplate(
        rng,
        bd,
        meter,
        (int(body_w * 0.06), cy + ch + border + 20, int(body_w * 0.94), body_h - 20),
        ink,
    )
    if rng.random() < 0.6:  # the pulse LED and a button
        led_y = cy + ch + border + 10
        bd.ellipse([body_w - 80, led_y, body_w - 60, led_y + 20], fill=(180, 30, 30))
        bd.ellipse([30, body_h - 90, 80, body_h - 40], fill=_jit(rng, (90, 90, 90), 30))
    counter_box = (cx, cy, cx + cw, cy + ch)
    if kind == "lcd":
        counter_box = (cx + row[0], cy + row[1], cx + row[2], cy + row[3])

    if closeup:
        # The counter takes 40–85 % of the width.
        share = rng.uniform(0.45, 0.85)
        rw = counter_box[2] - counter_box[0]
        view_w = int(min(body_w, rw / share)) if kind == "drum" else int(rw / share)
        view_h = int(view_w * rng.uniform(0.55, 0.9))
        mx = (counter_box[0] + counter_box[2]) // 2 + rng.randint(-view_w // 10, view_w // 10)
        my = (counter_box[1] + counter_box[3]) // 2 + rng.randint(-view_h // 10, view_h // 10)
        scene = Image.new("RGB", (body_w + 2 * view_w, body_h + 2 * view_h), body_color)
        scene.paste(body, (view_w, view_h))
        left, top = mx + view_w - view_w // 2, my + view_h - view_h // 2
        scene = scene.crop((left, top, left + view_w, top + view_h))
    else:
        sw = int(body_w * rng.uniform(1.1, 1.7))
        sh = int(sw * rng.uniform(1.0, 1.4))
        scene = _background(rng, (sw, max(sh, body_h + 40)))
        # A soft shadow, then the body.
        mask = Image.new("L", body.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle([0, 0, body_w - 1, body_h - 1], radius=30, fill=255)
        bx = rng.randint(10, max(10, scene.width - body_w - 10))
        by = rng.randint(10, max(10, scene.height - body_h - 10))
        shadow = Image.new("RGB", body.size, (0, 0, 0))
        scene.paste(
            shadow,
            (bx + 12, by + 12),
            mask.filter(ImageFilter.GaussianBlur(8)).point(lambda v: v // 2),
        )
        scene.paste(body, (bx, by), mask)
    photo = camera(rng, scene)
    return Photo(photo, value, kind, meter, "close" if closeup else "whole")


# ---------------------------------------------------------------- the camera


def camera(rng: random.Random, scene: Image.Image) -> bytes:
    """Perspective, light, glare, blur, noise and JPEG, as a phone would deliver them."""
    arr = np.asarray(scene.convert("RGB")).astype(np.float32)
    h, w = arr.shape[:2]
    # Perspective and rotation.
    tilt = rng.uniform(0.0, 0.09)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = corners + np.float32(
        [[rng.uniform(-tilt, tilt) * w, rng.uniform(-tilt, tilt) * h] for _ in range(4)]
    )
    angle = math.radians(rng.uniform(-7, 7))
    centre = np.float32([w / 2, h / 2])
    rot = np.float32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = (moved - centre) @ rot.T + centre
    matrix = cv2.getPerspectiveTransform(corners, moved.astype(np.float32))
    border = tuple(float(v) for v in arr[0, 0])
    arr = cv2.warpPerspective(
        arr,
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Uneven light.
    gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
    light = 1 + rng.uniform(0.05, 0.35) * ((xx / w - 0.5) * gx + (yy / h - 0.5) * gy)
    arr *= light[..., None] * rng.uniform(0.75, 1.15)
    # Glare: a bright soft spot, and sometimes a streak of reflection across the glass.
    if rng.random() < 0.55:
        gx0, gy0 = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        radius = rng.uniform(0.04, 0.2) * w
        spot = np.exp(-(((xx - gx0) ** 2 + (yy - gy0) ** 2) / (2 * radius**2)))
        arr += spot[..., None] * rng.uniform(60, 170)
    if rng.random() < 0.35:
        a, b = rng.uniform(-1, 1), rng.uniform(0.2, 0.8) * h
        dist = np.abs(yy - (a * (xx - w / 2) + b)) / math.sqrt(1 + a * a)
        width = rng.uniform(0.01, 0.05) * h
        arr += (np.exp(-(dist**2) / (2 * width**2)) * rng.uniform(30, 90))[..., None]
    # Colour cast.
    arr *= np.float32([rng.uniform(0.9, 1.1) for _ in range(3)])[None, None, :]
    arr = arr.clip(0, 255).astype(np.uint8)
    # Output size, blur (focus or shake), noise.
    out_w = rng.randint(700, 1800)
    out_h = int(h * out_w / w)
    arr = cv2.resize(arr, (out_w, out_h), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.7:
        sigma = rng.uniform(0.3, 1.8) * out_w / 1000
        arr = cv2.GaussianBlur(arr, (0, 0), sigma)
    if rng.random() < 0.2:
        length = rng.randint(3, 9)
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1 / length
        rotation = cv2.getRotationMatrix2D(
            (length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1
        )
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        kernel /= max(kernel.sum(), 1e-6)
        arr = cv2.filter2D(arr, -1, kernel)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(1, 7), arr.shape)
    arr = (arr.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=rng.randint(45, 92))
    return out.getvalue()
