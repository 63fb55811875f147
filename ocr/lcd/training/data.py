"""Synthetic LCD lines drawn once to shards on disk, so training spends its CPU on the net.

    python -m ocr.lcd.training.data --seed 1301 --count 100000 --workers 2 [--realism 2]

A shard holds `SHARD` lines at the recognizer's input height, side by side in one uint8
buffer, with their widths, labels and LCD flags. Line i of a seed is always the same line.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
from pathlib import Path

import numpy as np

from ocr.lcd.training.synth import sample, to_line

WORK = Path(__file__).parent / "work"
SHARD = 5000


def shard_path(seed: int, index: int, realism: int = 1) -> Path:
    tag = "" if realism == 1 else f"r{realism}-"
    return WORK / f"lines-{seed}-{tag}{index:04d}.npz"


def make_shard(args: tuple[int, int, float, int]) -> Path:
    seed, index, negative_share, realism = args
    path = shard_path(seed, index, realism)
    if path.exists():
        return path
    pixels, widths, labels, lcd = [], [], [], []
    for i in range(index * SHARD, (index + 1) * SHARD):
        image, label, is_lcd = sample(seed, i, negative_share, realism)
        line = np.asarray(to_line(image))
        pixels.append(line)
        widths.append(line.shape[1])
        labels.append(label)
        lcd.append(is_lcd)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        pixels=np.concatenate(pixels, axis=1),
        widths=np.array(widths, np.int32),
        labels=np.array(labels),
        lcd=np.array(lcd),
    )
    tmp.rename(path)
    return path


def load_shards(paths: list[Path]) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """All lines of the shards: (list of (32, w) arrays, labels, LCD flags)."""
    lines, labels, flags = [], [], []
    for path in paths:
        with np.load(path) as z:
            offsets = np.concatenate([[0], np.cumsum(z["widths"])])
            buf = z["pixels"]
            lines += [buf[:, a:b] for a, b in itertools.pairwise(offsets)]
            labels += [str(s) for s in z["labels"]]
            flags.append(z["lcd"])
    return lines, labels, np.concatenate(flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--negative-share", type=float, default=0.1)
    parser.add_argument("--realism", type=int, default=1, choices=[1, 2, 3])
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    n = -(-args.count // SHARD)
    jobs = [(args.seed, i, args.negative_share, args.realism) for i in range(n)]
    with multiprocessing.Pool(args.workers) as pool:
        for path in pool.imap_unordered(make_shard, jobs):
            print(path.name, flush=True)


if __name__ == "__main__":
    main()
