"""Reading a folder of real meter photos with known readings: `python -m bench.ocr --real DIR`.

The folder holds the photos and a `labels.csv` with at least `file` and `reading` (or
`integer_reading`) columns; `kind` (drum / lcd, default drum), `digits` (the counter's digit
positions) and `meter` are used when present. Each photo is read once, with the previous
reading `truth − k` (k drawn per file, 30..400 kWh, the same on every run) as the prior, the
way the bot reads a photo sent during the reading window.
"""

from __future__ import annotations

import csv
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.photo_reading import PhotoRecognition, ReadingPrior
from ocr.pipeline import CONFIDENT, recognise_photo


def shared_folder(name: str, start: Path | None = None) -> Path | None:
    """`shared/<name>` beside the repository (or beside any folder above it), if present.

    A clone next to `shared/` finds it as `../shared`; a worktree deeper down finds it too.
    """
    here = (start or Path(__file__)).resolve()
    for folder in here.parents:
        candidate = folder / "shared" / name
        if (candidate / "labels.csv").exists():
            return candidate
    return None


@dataclass(frozen=True)
class RealPhoto:
    """One labelled photo."""

    file: str
    reading: int
    kind: str
    digits: int | None
    meter: str

    def previous(self) -> int:
        """The previous reading given as the prior: a little below the truth."""
        step = random.Random(f"previous:{self.file}").randint(30, 400)
        return max(0, self.reading - step)

    @property
    def group(self) -> str:
        """drum / lcd for electricity; water or gas meters (always drums) apart."""
        meter = self.meter.lower()
        if meter.startswith(("gas", "water")):
            return "water/gas"
        return self.kind


@dataclass(frozen=True)
class Timed:
    """What the pipeline made of one photo, and how long it took."""

    recognition: PhotoRecognition
    seconds: float
    # CPU seconds of this process (all threads): what the photo costs on an idle machine.
    cpu_seconds: float = 0.0

    @property
    def value(self) -> int | None:
        """The best candidate's value."""
        best = self.recognition.best
        return best.value if best else None

    @property
    def confidence(self) -> float:
        """The best candidate's confidence (0 when nothing was read)."""
        best = self.recognition.best
        return best.confidence if best else 0.0

    def confident(self, threshold: float = CONFIDENT) -> bool:
        """The bot would offer the value for one tap."""
        return self.confidence >= threshold


@dataclass(frozen=True)
class RealOutcome(Timed):
    """A labelled real photo and what was read."""

    photo: RealPhoto = field(kw_only=True)

    @property
    def exact(self) -> bool:
        """The best candidate is the truth."""
        return self.value == self.photo.reading


def load_labels(folder: Path) -> list[RealPhoto]:
    """The labelled photos of a folder (either labels.csv layout of ../shared)."""
    photos = []
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            reading = row.get("reading") or row.get("integer_reading")
            if not reading:
                continue
            kind = (row.get("kind") or "drum").strip().lower()
            digits = row.get("digits")
            photos.append(
                RealPhoto(
                    file=row["file"],
                    reading=int(reading),
                    kind=kind,
                    digits=int(digits) if digits else None,
                    meter=(row.get("meter") or "").strip(),
                )
            )
    return photos


def read_folder(
    folder: Path, photos: list[RealPhoto] | None = None, with_digits: bool = False
) -> list[RealOutcome]:
    """Read every labelled photo once, timing each (models loaded before the first)."""
    from ocr.pipeline import default_engine

    default_engine()
    outcomes = []
    for photo in photos if photos is not None else load_labels(folder):
        data = (folder / photo.file).read_bytes()
        prior = ReadingPrior(
            previous=photo.previous(), digit_count=photo.digits if with_digits else None
        )
        started, cpu = time.perf_counter(), time.process_time()
        recognition = recognise_photo(data, prior)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        outcomes.append(RealOutcome(recognition, seconds, cpu, photo=photo))
    return outcomes


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(
    outcomes: list[RealOutcome], threshold: float = CONFIDENT
) -> dict[str, dict[str, float]]:
    """Exact, one-tap and confident-wrong counts per group and for all, with latency."""
    groups: dict[str, list[RealOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.photo.group, []).append(outcome)
    groups["all"] = outcomes
    result = {}
    for name, items in groups.items():
        result[name] = {
            "photos": len(items),
            "exact": sum(o.exact for o in items),
            "one_tap": sum(o.exact and o.confident(threshold) for o in items),
            "confident_wrong": sum(o.confident(threshold) and not o.exact for o in items),
        }
    result["latency"] = latency(outcomes)
    return result


def latency(outcomes: Sequence[Timed]) -> dict[str, float]:
    """p50 and p95 of wall-clock and of CPU time per photo, in ms."""
    if not outcomes:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "cpu_p50_ms": 0.0, "cpu_p95_ms": 0.0}
    wall = [o.seconds for o in outcomes]
    cpu = [o.cpu_seconds for o in outcomes]
    return {
        "p50_ms": 1000 * statistics.median(wall),
        "p95_ms": 1000 * percentile(wall, 0.95),
        "cpu_p50_ms": 1000 * statistics.median(cpu),
        "cpu_p95_ms": 1000 * percentile(cpu, 0.95),
    }


def render_real(name: str, outcomes: list[RealOutcome], threshold: float = CONFIDENT) -> list[str]:
    """Markdown lines: a per-kind table for one folder."""
    numbers = figures(outcomes, threshold)
    lines = [
        f"Real photos in `{name}` ({len(outcomes)}, not in this repository), previous reading "
        "30–400 below the truth as the prior (no digit count):",
        "",
        "| kind | photos | exact | one-tap (exact and confident) | confident-wrong |",
        "|---|---|---|---|---|",
    ]
    for group in ("drum", "lcd", "water/gas", "all"):
        if group not in numbers:
            continue
        n = numbers[group]
        total = max(n["photos"], 1)
        lines.append(
            f"| {group} | {n['photos']:.0f} | {n['exact']:.0f} ({100 * n['exact'] / total:.0f} %) "
            f"| {n['one_tap']:.0f} ({100 * n['one_tap'] / total:.0f} %) "
            f"| {n['confident_wrong']:.0f} |"
        )
    latency = numbers["latency"]
    lines += [
        "",
        f"Latency per photo: p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms "
        f"(CPU time p50 {latency['cpu_p50_ms']:.0f} ms, p95 {latency['cpu_p95_ms']:.0f} ms).",
        "",
    ]
    return lines


def print_outcomes(outcomes: list[RealOutcome]) -> None:
    """One line per photo, for looking into failures."""
    for o in outcomes:
        best = o.recognition.best
        others = " ".join(f"{c.digits}:{c.confidence:.2f}" for c in o.recognition.candidates[1:3])
        mark = "OK" if o.exact else "XX"
        tap = "TAP" if o.confident() else "   "
        if o.confident() and not o.exact:
            tap = "BAD"
        print(
            f"{mark} {tap} {o.photo.file:36} {o.photo.group:9} truth={o.photo.reading:<7} "
            f"prev={o.photo.previous():<7} read={best.digits if best else '-':9} "
            f"conf={o.confidence:.2f} {o.recognition.problem or ''} [{others}] {o.seconds:.2f}s"
        )


def cross_validate(outcomes: list[RealOutcome]) -> None:
    """Two-fold check of the threshold: choose it on one half, count on the other.

    The threshold chosen on a half is the lowest at which that half has no confident-wrong
    photo; what it gives on the other half is what a new set of photos can expect.
    """
    halves: list[list[RealOutcome]] = [[], []]
    for outcome in outcomes:
        halves[random.Random(f"fold:{outcome.photo.file}").randint(0, 1)].append(outcome)
    grid = [step / 100 for step in range(30, 100)]
    for fold in (0, 1):
        tune, check = halves[fold], halves[1 - fold]
        chosen = next(
            (t for t in grid if not any(o.confident(t) and not o.exact for o in tune)), 1.0
        )
        taps = sum(o.exact and o.confident(chosen) for o in check)
        wrong = sum(o.confident(chosen) and not o.exact for o in check)
        print(
            f"fold {fold}: threshold {chosen:.2f} chosen on {len(tune)} photos; on the other "
            f"{len(check)}: one-tap {taps} ({100 * taps / max(len(check), 1):.0f} %), "
            f"confident-wrong {wrong}; at CONFIDENT={CONFIDENT}: one-tap "
            f"{sum(o.exact and o.confident() for o in check)}, confident-wrong "
            f"{sum(o.confident() and not o.exact for o in check)}"
        )
    print("threshold\tone-tap\tconfident-wrong (all photos)")
    for threshold in grid[::5]:
        taps = sum(o.exact and o.confident(threshold) for o in outcomes)
        wrong = sum(o.confident(threshold) and not o.exact for o in outcomes)
        print(f"{threshold:.2f}\t{taps}\t{wrong}")
