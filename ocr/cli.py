"""`kabinet ocr [--previous N] FILE...`: read meter photos as the chat would (DESIGN.md §3)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from core.photo_reading import PhotoProblem, PhotoRecognition, ReadingPrior
from ocr.reader import MeterReader


def format_line(name: str, recognition: PhotoRecognition) -> str:
    """One output line: FILE<TAB>READING<TAB>CONFIDENCE or FILE<TAB>-<TAB>REASON."""
    best = recognition.best
    if best is None:
        reason = recognition.problem.value if recognition.problem else "no_digits"
        return f"{name}\t-\t{reason}"
    return f"{name}\t{best.value}\t{best.confidence:.2f}"


async def _read_all(files: list[str], previous: int | None, out: TextIO) -> int:
    """Read the files one by one through the chat's reader; a missing file is not an image."""
    prior = ReadingPrior(previous=previous) if previous is not None else None
    failures = 0
    reader = MeterReader(workers=1, max_pending=max(8, len(files)), timeout_s=30.0)
    try:
        for name in files:
            try:
                data = await asyncio.to_thread(Path(name).read_bytes)
            except OSError:
                recognition = PhotoRecognition(problem=PhotoProblem.NOT_AN_IMAGE)
            else:
                recognition = await reader.read(data, prior)
            failures += recognition.best is None
            out.write(format_line(name, recognition) + "\n")
            out.flush()
    finally:
        reader.close()
    return failures


def run(files: list[str], previous: int | None, out: TextIO | None = None) -> int:
    """Print one line per file; exit status 0 when every file gave a reading, else 1."""
    failures = asyncio.run(_read_all(files, previous, out or sys.stdout))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m ocr.cli [--previous N] FILE...` for use without the bot."""
    import argparse

    parser = argparse.ArgumentParser(prog="kabinet ocr", description=__doc__)
    parser.add_argument("--previous", type=int, default=None)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    return run(args.files, args.previous)


if __name__ == "__main__":
    raise SystemExit(main())
