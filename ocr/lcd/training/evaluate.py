"""Measures the shipped LCD model: held-out synthetic lines, real line crops, latency.

    python -m ocr.lcd.training.evaluate --seed 9001 --count 1000 [--real ../shared/ocr-real-dev]

Synthetic lines come from a seed never used for training. The real check-set is the
hand-cut boxes of `real_crops.json` on the development photos (skipped when absent).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from PIL import Image

from ocr.lcd.decoding import parse
from ocr.lcd.recognizer import read_lcd_line
from ocr.lcd.training.synth import sample

CROPS = Path(__file__).parent / "real_crops.json"


def synthetic(seed: int, count: int, realism: int = 1) -> dict[str, float]:
    exact = integer = point = in_top = n = 0
    sure = sure_right = 0  # lines read at confidence >= 0.9
    lcd_right = total = 0
    timings = []
    for i in range(count):
        image, label, is_lcd = sample(seed, i, realism=realism)
        started = time.perf_counter()
        reading = read_lcd_line(image)
        timings.append(time.perf_counter() - started)
        total += 1
        lcd_right += (reading.lcd_likeness > 0.5) == is_lcd
        if not is_lcd:
            continue
        n += 1
        truth = parse(label, 1.0)
        best = reading.best
        if best is None:
            continue
        exact += best.text == label
        integer += best.integer == truth.integer
        if best.confidence >= 0.9:
            sure += 1
            sure_right += best.integer == truth.integer
        point += best.point == truth.point
        in_top += any(c.integer == truth.integer for c in reading.candidates)
    timings.sort()
    return {
        "lines": n,
        "text exact": exact / n,
        "integer exact": integer / n,
        "integer in candidates": in_top / n,
        "decimal point right": point / n,
        "share read at confidence >= 0.9": sure / n,
        "integer right when confidence >= 0.9": sure_right / max(1, sure),
        "lcd-likeness right": lcd_right / total,
        "p50 ms": 1000 * statistics.median(timings),
        "p95 ms": 1000 * timings[int(0.95 * (len(timings) - 1))],
    }


def printed(folder: Path) -> list[tuple[str, float]]:
    """LCD-likeness of printed lines on the real photos (should be low)."""
    rows = []
    for crop in json.loads(CROPS.read_text())["printed"]:
        path = folder / crop["file"]
        if path.exists():
            image = Image.open(path).convert("RGB").crop(tuple(crop["box"]))
            rows.append((crop["what"], round(read_lcd_line(image).lcd_likeness, 3)))
    return rows


def real(folder: Path) -> list[dict[str, object]]:
    rows = []
    for crop in json.loads(CROPS.read_text())["crops"]:
        path = folder / crop["file"]
        if not path.exists():
            continue
        image = Image.open(path).convert("RGB").crop(tuple(crop["box"]))
        reading = read_lcd_line(image)
        best = reading.best
        rows.append(
            {
                "file": crop["file"],
                "want": crop["text"],
                "read": best.text if best else "",
                "confidence": round(best.confidence, 3) if best else 0.0,
                "integer right": bool(best and best.integer == crop["integer"]),
                "lcd-likeness": round(reading.lcd_likeness, 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=9001)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--realism", type=int, default=1, choices=[1, 2, 3])
    parser.add_argument("--real", type=Path, default=Path("../shared/ocr-real-dev"))
    args = parser.parse_args()
    if args.count:
        for key, value in synthetic(args.seed, args.count, args.realism).items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    rows = real(args.real)
    for row in rows:
        print(row)
    if rows:
        right = sum(bool(r["integer right"]) for r in rows)
        print(f"real crops: integer right {right}/{len(rows)}")
        print("LCD-likeness of real printed lines:", printed(args.real))


if __name__ == "__main__":
    main()
