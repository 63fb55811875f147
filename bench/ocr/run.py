"""Benchmark of meter photo reading on generated photos and on real labelled photos.

    python -m bench.ocr [--count 300] [--seed 8675309] [--no-write]
    python -m bench.ocr --real DIR [--verbose] [--calibrate]

Without `--real`: 300 photos from our generator (half whole-meter, half close-ups) with a
fixed seed that no training run uses, the previous reading 50–400 kWh below the truth; then
the real photos in ../shared/ocr-real-dev and ../shared/ocr-real when present (see
bench/ocr/real.py). Latency is measured in this process, one photo at a time, the models
loaded first. Figures go into bench/RESULTS.md under "## OCR"; other sections are kept.

With `--real DIR`: only that folder (a `labels.csv` with file, reading and kind columns),
printed, RESULTS.md untouched; `--calibrate` adds a two-fold check of the threshold.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.ocr.real import (
    RealOutcome,
    Timed,
    cross_validate,
    latency,
    load_labels,
    print_outcomes,
    read_folder,
    render_real,
    shared_folder,
)
from core.photo_reading import ReadingPrior
from ocr.pipeline import CONFIDENT, default_engine, recognise_photo

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
CACHE = ROOT / "bench" / "out" / "ocr"
REAL_FOLDERS = ("ocr-real-dev", "ocr-real")
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
class Outcome(Timed):
    """A generated photo and what was read."""

    case: Case = field(kw_only=True)

    @property
    def correct(self) -> bool:
        """Best candidate equals the truth."""
        return self.value == self.case.reading

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


def run_cases(cases: list[Case]) -> list[Outcome]:
    """Read every case in this process and time it (models loaded before the first)."""
    default_engine()
    outcomes = []
    for case in cases:
        started, cpu = time.perf_counter(), time.process_time()
        recognition = recognise_photo(case.data, ReadingPrior(previous=case.previous))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        outcomes.append(Outcome(recognition, seconds, cpu, case=case))
    return outcomes


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
    confident = [o for o in outcomes if o.confident()]
    return {
        "photos": len(outcomes),
        "exact_all": exact(outcomes),
        "exact_closeup": exact(close),
        "exact_whole": exact(whole),
        "per_digit": 100 * right / max(total, 1),
        "confident_share": 100 * len(confident) / max(len(outcomes), 1),
        "confident_wrong": 100 * sum(not o.correct for o in confident) / max(len(outcomes), 1),
        "confident_right": 100 * sum(o.correct for o in confident) / max(len(outcomes), 1),
        **latency(outcomes),
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


def render(
    figures: dict[str, float], real: dict[str, list[RealOutcome]], seed: int, load: str
) -> str:
    """The "## OCR" section of bench/RESULTS.md."""
    lines = [
        HEADING,
        "",
        "`python -m bench.ocr` — the pipeline of ocr/README.md (PP-OCRv5 detector and "
        "recognizer on onnxruntime, our counter choice and prior, Tesseract `meterdigits` as "
        f"second reader); confident means confidence ≥ `ocr.CONFIDENT` = {CONFIDENT}; latency "
        f"per photo in one process, models loaded first; {load}.",
        "",
        f"{figures['photos']:.0f} photos from our own generator (seed {seed}; half "
        "whole-meter, half close-ups with the counter ≥ 40 % of the width), previous reading "
        "50–400 kWh below the truth as the prior. Nothing in the pipeline was tuned on them.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| exact integer reading, close-ups | {figures['exact_closeup']:.1f} % | ≥ 90 % |",
        f"| exact integer reading, whole-meter photos | {figures['exact_whole']:.1f} % | ≥ 70 % |",
        f"| exact integer reading, all | {figures['exact_all']:.1f} % | |",
        f"| per-digit accuracy | {figures['per_digit']:.1f} % | |",
        f"| confident (no typing needed) | {figures['confident_share']:.1f} % | |",
        f"| confident-wrong | {figures['confident_wrong']:.2f} % | ≤ 0.5 % |",
        f"| latency p50 (CPU time) | {figures['p50_ms']:.0f} ms ({figures['cpu_p50_ms']:.0f} ms)"
        " | ≤ 1000 ms |",
        f"| latency p95 (CPU time) | {figures['p95_ms']:.0f} ms ({figures['cpu_p95_ms']:.0f} ms)"
        " | |",
        "",
    ]
    for name in REAL_FOLDERS:
        if real.get(name):
            lines += render_real(f"../shared/{name}", real[name])
        else:
            lines += [f"Real photos: `../shared/{name}` absent, skipped.", ""]
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


def machine_load() -> str:
    """The load average while the benchmark ran: figures on a busy 2-core machine swing."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"{os.cpu_count()} cores, load average {one:.1f} (5 min {five:.1f}) at the end"


def run_real(folder: Path, verbose: bool, calibrate: bool) -> int:
    """`--real DIR`: read one labelled folder and print its figures."""
    if not (folder / "labels.csv").exists():
        print(f"{folder}: no labels.csv")
        return 2
    outcomes = read_folder(folder, load_labels(folder))
    if verbose:
        print_outcomes(outcomes)
    print("\n".join(render_real(str(folder), outcomes)))
    if calibrate:
        cross_validate(outcomes)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures and update bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=BENCH_SEED)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--real", type=Path, default=None, metavar="DIR")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="print confident share and confident-wrong for other thresholds",
    )
    args = parser.parse_args(argv)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if args.real is not None:
        return run_real(args.real, args.verbose, args.calibrate)
    cases = make_cases(args.seed, args.count)
    outcomes = run_cases(cases)
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
    real = {}
    for name in REAL_FOLDERS:
        folder = shared_folder(name)
        if folder is not None:
            real[name] = read_folder(folder)
    section = render(figures, real, args.seed, machine_load())
    print(section)
    if not args.no_write:
        write_section(section)
    return 0
