"""Train the Tesseract digits model from synthetic counter lines, reproducibly from a seed.

    nice -n 10 .venv/bin/python -m ocr.training.train --difficulty 0 --lines 3000 ...
    nice -n 10 .venv/bin/python -m ocr.training.train --difficulty 0.8 --resume ...

Work files go to ocr/training/work/ (git-ignored); the result is copied to
ocr/tessdata/<name>.traineddata. See ocr/training/README.md for what each step is for.
"""

# Seeded pseudo-randomness is the point here, and the tools are Tesseract's from PATH.
# ruff: noqa: S311, S603, S607

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / "work"
TESSDATA = HERE.parent / "tessdata"
MODEL_NAME = "meterdigits"
# Small from-scratch net: a conv layer, max-pool, a vertical summary and one bidirectional
# LSTM; ~0.13 M weights. The deeper tesstrain-style stack (Lfx96 Lrx96 Lfx192) sat at
# 92-95 % character error for 10k iterations here; this one was at 17 % after 3.5k.
NET_SPEC = "[1,36,0,1 Ct3,3,16 Mp3,3 Lfys48 Lbx96 O1c{outputs}]"


def _write_line(args: tuple[int, int, str, float, bool, float]) -> str | None:
    """Draw line `index` from its own seed, write png/gt/box, and make its .lstmf."""
    from ocr.synthetic.lines import make_training_line

    seed, index, out_dir, difficulty, variety, small_share = args
    stem = Path(out_dir) / f"line{index:06d}"
    if stem.with_suffix(".lstmf").exists():
        # Same seed, same line: an interrupted generation resumes where it stopped.
        return str(stem.with_suffix(".lstmf"))
    rng = random.Random(f"{seed}:{index}")
    image, label = make_training_line(rng, difficulty, variety, small_share)
    image.save(stem.with_suffix(".png"))
    stem.with_suffix(".gt.txt").write_text(label + "\n", encoding="utf-8")
    w, h = image.size
    # Tesseract 5.3 wants a box file for lstm.train; one WordStr box covers the whole line.
    stem.with_suffix(".box").write_text(
        f"WordStr 0 0 {w} {h} 0 #{label}\n\t 0 0 {w} {h} 0\n", encoding="utf-8"
    )
    subprocess.run(
        ["tesseract", str(stem.with_suffix(".png")), str(stem), "--psm", "13", "lstm.train"],
        check=False,
        capture_output=True,
    )
    lstmf = stem.with_suffix(".lstmf")
    return str(lstmf) if lstmf.exists() else None


def generate_lines(
    seed: int,
    count: int,
    out_dir: Path,
    workers: int,
    difficulty: float = 1.0,
    variety: bool = False,
    small_share: float = 0.0,
) -> list[str]:
    """Generate `count` lines (each from seed:index, so the order of workers does not matter)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, i, str(out_dir), difficulty, variety, small_share) for i in range(count)]
    with ProcessPoolExecutor(workers) as pool:
        made = [path for path in pool.map(_write_line, jobs, chunksize=16) if path]
    print(f"lines: {len(made)} of {count} produced .lstmf", flush=True)
    return made


def build_starter(work: Path, name: str) -> Path:
    """Unicharset of 0-9 and '.', and the starter traineddata that lstmtraining needs."""
    all_text = work / "all-labels.txt"
    labels = "".join("0123456789.") + "\n"
    all_text.write_text(labels, encoding="utf-8")
    unicharset = work / "unicharset"
    subprocess.run(
        [
            "unicharset_extractor",
            "--norm_mode",
            "1",
            "--output_unicharset",
            str(unicharset),
            str(all_text),
        ],
        check=True,
        capture_output=True,
    )
    script_dir = work / "script"
    script_dir.mkdir(exist_ok=True)
    # combine_lang_model silently writes nothing when this file is empty.
    (script_dir / "radical-stroke.txt").write_text("# no radicals in digits\n", encoding="utf-8")
    lang_dir = work / "lang"
    lang_dir.mkdir(exist_ok=True)
    subprocess.run(
        [
            "combine_lang_model",
            "--input_unicharset",
            str(unicharset),
            "--script_dir",
            str(script_dir),
            "--output_dir",
            str(lang_dir),
            "--lang",
            name,
        ],
        check=True,
        capture_output=True,
    )
    starter = lang_dir / name / f"{name}.traineddata"
    if not starter.exists():
        sys.exit("combine_lang_model produced no starter traineddata")
    return starter


def train(args: argparse.Namespace) -> None:
    """Run the whole pipeline: lines, starter, lstmtraining, final traineddata."""
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    tag = (
        f"{args.seed}-{args.difficulty}{'-v' if args.variety else ''}"
        f"{f'-s{args.small_share}' if args.small_share else ''}"
    )
    lines_dir = work / f"lines-{tag}"
    listing = work / f"all-{tag}.txt"
    if args.reuse_lines and listing.exists():
        made = listing.read_text().split()
    else:
        started = time.monotonic()
        made = generate_lines(
            args.seed,
            args.lines,
            lines_dir,
            args.workers,
            args.difficulty,
            args.variety,
            args.small_share,
        )
        listing.write_text("\n".join(made) + "\n")
        print(f"generation took {time.monotonic() - started:.0f}s", flush=True)
    rng = random.Random(args.seed)
    rng.shuffle(made)
    eval_count = max(50, len(made) // 20)
    (work / "eval.txt").write_text("\n".join(made[:eval_count]) + "\n")
    training = made[eval_count:]
    for extra in args.mix:
        # Earlier lines kept in the mix, so what was learnt before is not forgotten.
        training += extra.read_text().split()
    rng.shuffle(training)
    (work / "train.txt").write_text("\n".join(training) + "\n")
    if args.only_lines:
        return
    starter = build_starter(work, args.name)
    outputs = int((work / "unicharset").read_text().split()[0])
    ckpt_dir = work / "checkpoints"
    ckpt_dir.mkdir(exist_ok=True)
    prefix = ckpt_dir / args.name
    command = [
        "lstmtraining",
        "--traineddata",
        str(starter),
        "--model_output",
        str(prefix),
        "--train_listfile",
        str(work / "train.txt"),
        "--max_iterations",
        str(args.iterations),
        "--target_error_rate",
        "0.005",
    ]
    if not args.no_eval:
        # Evaluation runs beside training and costs CPU that a shared machine may not have.
        command += ["--eval_listfile", str(work / "eval.txt")]
    checkpoint = Path(f"{prefix}_checkpoint")
    if args.resume and checkpoint.exists():
        command += ["--continue_from", str(checkpoint)]
    elif args.from_shipped:
        shipped = work / f"{args.name}-shipped.lstm"
        subprocess.run(
            ["combine_tessdata", "-e", str(TESSDATA / f"{args.name}.traineddata"), str(shipped)],
            check=True,
            capture_output=True,
        )
        command += ["--continue_from", str(shipped), "--learning_rate", str(args.learning_rate)]
    else:
        command += [
            "--net_spec",
            NET_SPEC.format(outputs=outputs),
            "--learning_rate",
            str(args.learning_rate),
        ]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True)
    finish(work, args.name, starter, args.convert_to_int)


def finish(work: Path, name: str, starter: Path, convert_to_int: bool) -> Path:
    """Turn the last checkpoint into a traineddata and copy it into ocr/tessdata/."""
    checkpoint = work / "checkpoints" / f"{name}_checkpoint"
    final = work / f"{name}.traineddata"
    command = [
        "lstmtraining",
        "--stop_training",
        "--continue_from",
        str(checkpoint),
        "--traineddata",
        str(starter),
        "--model_output",
        str(final),
    ]
    if convert_to_int:
        command.append("--convert_to_int")
    subprocess.run(command, check=True)
    TESSDATA.mkdir(exist_ok=True)
    target = TESSDATA / f"{name}.traineddata"
    shutil.copyfile(final, target)
    print(f"model: {target} ({target.stat().st_size} bytes)")
    return target


def main(argv: list[str] | None = None) -> None:
    """Command-line entry of the training pipeline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--lines", type=int, default=6000)
    parser.add_argument("--iterations", type=int, default=40000)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument(
        "--difficulty",
        type=float,
        default=1.0,
        help="0..1: clutter, crop errors and photo damage of the lines",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--name", default=MODEL_NAME)
    parser.add_argument(
        "--reuse-lines",
        action="store_true",
        help="reuse the .lstmf files listed by an earlier run with this seed",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint instead of starting afresh",
    )
    parser.add_argument(
        "--finish-only",
        action="store_true",
        help="only write the traineddata from the last checkpoint",
    )
    parser.add_argument("--convert-to-int", action="store_true")
    parser.add_argument(
        "--variety",
        action="store_true",
        help="more fonts, colours, spacings and segment shapes than the bench",
    )
    parser.add_argument(
        "--small-share",
        type=float,
        default=0.0,
        help="share of lines shrunk and enlarged again (distant counters)",
    )
    parser.add_argument(
        "--from-shipped",
        action="store_true",
        help="continue from ocr/tessdata/<name>.traineddata's LSTM",
    )
    parser.add_argument(
        "--mix",
        type=Path,
        action="append",
        default=[],
        help="a listing of earlier .lstmf files to train on as well",
    )
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument(
        "--only-lines", action="store_true", help="generate the lines and lists, do not train"
    )
    args = parser.parse_args(argv)
    if args.finish_only:
        finish(
            args.work,
            args.name,
            args.work / "lang" / args.name / f"{args.name}.traineddata",
            args.convert_to_int,
        )
        return
    train(args)


if __name__ == "__main__":
    main()
