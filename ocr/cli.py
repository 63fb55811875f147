"""`kabinet ocr [--previous N] FILE...`: read meter photos as the chat would (DESIGN.md §3)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from core.photo_reading import ReadingPrior
from ocr.reader import TesseractMeterReader

# A missing or unreadable file is reported like a photo that is not an image.
UNREADABLE = "not_an_image"


def format_line(name: str, recognition_line: tuple[str, str]) -> str:
    """One output line: FILE<TAB>READING<TAB>CONFIDENCE or FILE<TAB>-<TAB>REASON."""
    first, second = recognition_line
    return f"{name}\t{first}\t{second}"


async def _read_all(files: list[str], previous: int | None, out: TextIO) -> int:
    prior = ReadingPrior(previous=previous) if previous is not None else None
    failures = 0
    reader = TesseractMeterReader(workers=1, max_pending=max(8, len(files)), timeout_s=30.0)
    try:
        for name in files:
            try:
                data = await asyncio.to_thread(Path(name).read_bytes)
            except OSError:
                out.write(format_line(name, ("-", UNREADABLE)) + "\n")
                failures += 1
                continue
            recognition = await reader.read(data, prior)
            best = recognition.best
            if best is None:
                reason = recognition.problem.value if recognition.problem else "no_digits"
                out.write(format_line(name, ("-", reason)) + "\n")
                failures += 1
            else:
                out.write(format_line(name, (str(best.value), f"{best.confidence:.2f}")) + "\n")
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
