"""Draw the check set into a folder (`labels.csv` like ../shared) and measure the pipeline."""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from bench.ocr.real import figures, load_labels, print_outcomes, read_folder
from bench.ocr_check.scenes import Photo, meter_photo

LCD_METERS = ("nik2301", "nik2303", "gama100", "gama300", "ce102", "ce303")
# The mix of the held-out real set: 28 LCDs, 12 electricity drums, 11 water/gas of 51.
KINDS = (("lcd", 28), ("drum", 12), ("water", 6), ("gas", 5))


def draw(seed: int, index: int) -> Photo:
    """Photo `index` of the set drawn with `seed` (even indices are close-ups)."""
    rng = random.Random(f"ocr-check:{seed}:{index}")
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    meter = rng.choice(LCD_METERS) if kind == "lcd" else kind
    if kind == "drum":
        meter = "drum"
    return meter_photo(rng, meter, "lcd" if kind == "lcd" else "drum", closeup=index % 2 == 0)


def generate(folder: Path, count: int, seed: int) -> None:
    """`count` photos (half close-ups) and their labels into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        photo = draw(seed, index)
        name = f"check_{seed}_{index:04d}.jpg"
        (folder / name).write_bytes(photo.data)
        rows.append(
            {
                "file": name,
                "reading": photo.reading,
                "kind": photo.kind,
                "meter": photo.meter,
                "shot": photo.shot,
            }
        )
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def measure(folder: Path, verbose: bool) -> None:
    """Read every photo once; print exact / one-tap / confident-wrong per kind and shot."""
    shots = {}
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            shots[row["file"]] = row.get("shot", "")
    outcomes = read_folder(folder, load_labels(folder))
    if verbose:
        print_outcomes(outcomes)
    groups: dict[str, list] = {}
    for o in outcomes:
        for key in (
            o.photo.group,
            f"{o.photo.group} {shots[o.photo.file]}",
            shots[o.photo.file],
            "all",
        ):
            groups.setdefault(key, []).append(o)
    print("| set | photos | exact | one-tap | confident-wrong |")
    print("|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k == "all", k)):
        n = figures(groups[key])["all"]
        total = max(n["photos"], 1)
        print(
            f"| {key} | {n['photos']:.0f} | {n['exact']:.0f} ({100 * n['exact'] / total:.0f} %) "
            f"| {n['one_tap']:.0f} ({100 * n['one_tap'] / total:.0f} %) "
            f"| {n['confident_wrong']:.0f} |"
        )
    lat = figures(outcomes)["latency"]
    print(
        f"latency p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms "
        f"(CPU p50 {lat['cpu_p50_ms']:.0f} ms, p95 {lat['cpu_p95_ms']:.0f} ms)"
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.ocr_check")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ocr_check"))
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--seed", type=int, default=51)
    parser.add_argument("--measure", action="store_true", help="read the set after drawing it")
    parser.add_argument("--only-measure", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not args.only_measure:
        generate(args.out, args.count, args.seed)
    if args.measure or args.only_measure:
        measure(args.out, args.verbose)


if __name__ == "__main__":
    main()
