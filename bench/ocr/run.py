"""Benchmark of meter photo reading on generated photos and on the shared real photos.

    python -m bench.ocr [--count 300] [--seed 8675309] [--no-write]

300 photos from our generator (half whole-meter, half close-ups) with a fixed seed that no
training run uses; the previous reading is 50–400 kWh below the truth. Latency is measured
in this process, one photo at a time, with Tesseract limited to one thread (one core).
Figures go into bench/RESULTS.md under "## OCR"; other sections are kept.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from core.photo_reading import PhotoRecognition, ReadingPrior
from ocr.line_reading import TesseractModel
from ocr.recognition import CONFIDENT, recognise_photo

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
CACHE = ROOT / "bench" / "out" / "ocr"
REAL_PHOTOS = ROOT.parent / "shared" / "ocr-real"
# Training uses seeds around 20261127; this one is for the benchmark only.
BENCH_SEED = 8675309
HEADING = "## OCR"


@dataclass(frozen=True)
class Case:
    """One benchmark photo: JPEG bytes, the truth and the previous reading given as prior."""

    name: str
    data: bytes
    reading: int
    digit_count: int
    previous: int
    closeup: bool


@dataclass(frozen=True)
class Outcome:
    """What the reader made of a case, and how long it took."""

    case: Case
    recognition: PhotoRecognition
    seconds: float

    @property
    def value(self) -> int | None:
        """The best candidate's value."""
        best = self.recognition.best
        return best.value if best else None

    @property
    def correct(self) -> bool:
        """Best candidate equals the truth."""
        return self.value == self.case.reading

    @property
    def confident(self) -> bool:
        """The best candidate reaches the bot's threshold."""
        best = self.recognition.best
        return best is not None and best.confidence >= CONFIDENT

    def digits_right(self) -> tuple[int, int]:
        """Correct digit positions (aligned at the right) and the truth's digit count."""
        truth = str(self.case.reading).zfill(self.case.digit_count)
        best = self.recognition.best
        if best is None:
            return 0, len(truth)
        read = best.digits[-len(truth) :].rjust(len(truth))
        return sum(a == b for a, b in zip(read, truth, strict=True)), len(truth)


def make_cases(seed: int, count: int) -> list[Case]:
    """Generate (or load from bench/out/ocr) the benchmark photos for `seed`."""
    from ocr.synthetic.meters import make_meter_photo

    cache = CACHE / str(seed)
    cache.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(count):
        closeup = index % 2 == 1
        rng = random.Random(f"{seed}:{index}")
        path = cache / f"{index:04d}.jpg"
        meta = cache / f"{index:04d}.txt"
        if path.exists() and meta.exists():
            reading, digit_count = (int(v) for v in meta.read_text().split())
            data = path.read_bytes()
            rng = random.Random(f"{seed}:{index}:prior")
        else:
            photo = make_meter_photo(rng, closeup=closeup)
            buffer = io.BytesIO()
            photo.image.save(buffer, "JPEG", quality=88)
            data = buffer.getvalue()
            reading, digit_count = photo.reading, photo.digit_count
            path.write_bytes(data)
            meta.write_text(f"{reading} {digit_count}\n")
            rng = random.Random(f"{seed}:{index}:prior")
        previous = max(0, reading - rng.randint(50, 400))
        cases.append(Case(path.name, data, reading, digit_count, previous, closeup))
    return cases


def run_cases(cases: list[Case], model: TesseractModel) -> list[Outcome]:
    """Read every case in this process and time it."""
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        recognition = recognise_photo(case.data, ReadingPrior(previous=case.previous), model)
        outcomes.append(Outcome(case, recognition, time.perf_counter() - started))
    return outcomes


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summarise(outcomes: list[Outcome]) -> dict[str, float]:
    """The headline figures of a set of outcomes."""

    def exact(items: list[Outcome]) -> float:
        return 100 * sum(o.correct for o in items) / max(len(items), 1)

    close = [o for o in outcomes if o.case.closeup]
    whole = [o for o in outcomes if not o.case.closeup]
    right, total = 0, 0
    for outcome in outcomes:
        r, t = outcome.digits_right()
        right += r
        total += t
    confident = [o for o in outcomes if o.confident]
    latencies = [o.seconds for o in outcomes]
    return {
        "photos": len(outcomes),
        "exact_all": exact(outcomes),
        "exact_closeup": exact(close),
        "exact_whole": exact(whole),
        "per_digit": 100 * right / max(total, 1),
        "confident_share": 100 * len(confident) / max(len(outcomes), 1),
        "confident_wrong": 100 * sum(not o.correct for o in confident) / max(len(outcomes), 1),
        "confident_right": 100 * sum(o.correct for o in confident) / max(len(outcomes), 1),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
    }


def print_calibration(outcomes: list[Outcome]) -> None:
    """How the confident share and the confident-wrong rate move with the threshold."""
    print("threshold\tconfident %\tconfident-wrong %")
    for step in range(40, 100, 4):
        threshold = step / 100
        confident = [
            o for o in outcomes if o.recognition.best and o.recognition.best.confidence >= threshold
        ]
        wrong = sum(not o.correct for o in confident)
        print(
            f"{threshold:.2f}\t{100 * len(confident) / len(outcomes):.1f}\t"
            f"{100 * wrong / len(outcomes):.2f}"
        )


def read_real_photos(model: TesseractModel) -> list[tuple[str, int, str, str]]:
    """Read ../shared/ocr-real/ with and without a prior; empty when the folder is absent."""
    labels = REAL_PHOTOS / "labels.csv"
    if not labels.exists():
        return []
    rows = []
    with labels.open(encoding="utf-8") as handle:
        for entry in csv.DictReader(handle):
            data = (REAL_PHOTOS / entry["file"]).read_bytes()
            truth = int(entry["integer_reading"])
            shown = []
            for prior in (None, ReadingPrior(previous=max(0, truth - 120))):
                recognition = recognise_photo(data, prior, model)
                best = recognition.best
                shown.append(
                    f"{best.value} ({best.confidence:.2f})"
                    if best
                    else f"– ({recognition.problem})"
                )
            rows.append((entry["file"], truth, shown[0], shown[1]))
    return rows


def render(
    figures: dict[str, float],
    real: list[tuple[str, int, str, str]],
    seed: int,
    model: TesseractModel,
) -> str:
    """The "## OCR" section of bench/RESULTS.md."""
    size_kb = model.path.stat().st_size / 1024 if model.path.exists() else 0
    lines = [
        HEADING,
        "",
        f"`python -m bench.ocr` — {figures['photos']:.0f} generated photos (seed {seed}; half "
        "whole-meter, half close-ups with the counter ≥ 40 % of the width), previous reading "
        f"50–400 kWh below the truth as the prior; model `{model.name}.traineddata` "
        f"({size_kb:.0f} KB); confident means confidence ≥ `ocr.CONFIDENT` = {CONFIDENT}; "
        "latency per photo in one process with Tesseract on one thread.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| exact integer reading, close-ups | {figures['exact_closeup']:.1f} % | ≥ 90 % |",
        f"| exact integer reading, whole-meter photos | {figures['exact_whole']:.1f} % | ≥ 70 % |",
        f"| exact integer reading, all | {figures['exact_all']:.1f} % | |",
        f"| per-digit accuracy | {figures['per_digit']:.1f} % | |",
        f"| confident (no typing needed) | {figures['confident_share']:.1f} % | |",
        f"| confident-wrong | {figures['confident_wrong']:.2f} % | ≤ 0.5 % |",
        f"| latency p50 | {figures['p50_ms']:.0f} ms | ≤ 500 ms |",
        f"| latency p95 | {figures['p95_ms']:.0f} ms | ≤ 1500 ms |",
        "",
    ]
    if real:
        lines += [
            "Real photos in `../shared/ocr-real/` (not in this repository):",
            "",
            "| file | truth | read, no prior | read, previous = truth − 120 |",
            "|---|---|---|---|",
        ]
        lines += [f"| {name} | {truth} | {a} | {b} |" for name, truth, a, b in real]
        lines.append("")
    else:
        lines += ["Real photos: `../shared/ocr-real/` absent, skipped.", ""]
    return "\n".join(lines)


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace the "## OCR" section of RESULTS.md (or append it), keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == HEADING), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        new = (
            "\n".join(
                [
                    *lines[:start],
                    *section.rstrip("\n").splitlines(),
                    *([""] if end < len(lines) else []),
                    *lines[end:],
                ]
            )
            + "\n"
        )
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures and update bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=BENCH_SEED)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="print confident share and confident-wrong for other thresholds",
    )
    args = parser.parse_args(argv)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    model = TesseractModel()
    cases = make_cases(args.seed, args.count)
    outcomes = run_cases(cases, model)
    if args.verbose:
        for o in outcomes:
            best = o.recognition.best
            print(
                f"{o.case.name}\t{'close' if o.case.closeup else 'whole'}\t{o.case.reading}\t"
                f"{best.digits if best else '-'}\t{best.confidence if best else 0:.2f}\t"
                f"{o.recognition.problem or ''}\t{'OK' if o.correct else 'XX'}\t{o.seconds:.2f}"
            )
    figures = summarise(outcomes)
    if args.calibrate:
        print_calibration(outcomes)
    real = read_real_photos(model)
    section = render(figures, real, args.seed, model)
    print(section)
    if not args.no_write:
        write_section(section)
    return 0
