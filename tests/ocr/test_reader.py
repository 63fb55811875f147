"""The reader's pool: bounded queue (BUSY), timeout (TIMEOUT), a real read in a process."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.photo_reading import PhotoProblem, PhotoRecognition, ReadingCandidate, ReadingPrior
from ocr.reader import MeterReader
from ocr.synthetic.meters import MeterPhoto
from tests.ocr.conftest import jpeg_bytes


def make_slow(release: threading.Event):
    def slow(data: bytes, prior: ReadingPrior | None) -> PhotoRecognition:
        release.wait(5)
        return PhotoRecognition(candidates=(ReadingCandidate(1, "0001", 0.9),))

    return slow


async def test_overload_answers_busy() -> None:
    release = threading.Event()
    reader = MeterReader(
        executor="thread", workers=1, max_pending=2, timeout_s=5, recogniser=make_slow(release)
    )
    try:
        first = asyncio.create_task(reader.read(b"a"))
        second = asyncio.create_task(reader.read(b"b"))
        await asyncio.sleep(0.05)
        third = await reader.read(b"c")
        assert third.problem is PhotoProblem.BUSY
        release.set()
        assert (await first).best is not None
        assert (await second).best is not None
    finally:
        release.set()
        reader.close()


async def test_slow_photo_times_out_without_blocking_the_loop() -> None:
    release = threading.Event()
    reader = MeterReader(
        executor="thread", workers=1, max_pending=4, timeout_s=0.2, recogniser=make_slow(release)
    )
    try:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        result = await reader.read(b"x")
        ticker.cancel()
        assert result.problem is PhotoProblem.TIMEOUT
        assert ticks >= 5
        assert reader.pending == 1  # the slot stays taken until the work really ends
        release.set()
        await asyncio.sleep(0.1)
        assert reader.pending == 0
    finally:
        release.set()
        reader.close()


@pytest.mark.e2e  # a process pool
async def test_process_pool_reads_a_photo(closeup_photo: MeterPhoto) -> None:
    with MeterReader(workers=1, timeout_s=20) as reader:
        recognition = await reader.read(
            jpeg_bytes(closeup_photo.image), ReadingPrior(previous=closeup_photo.reading - 100)
        )
        assert recognition.best is not None
        assert recognition.best.value == closeup_photo.reading
        bad = await reader.read(b"%PDF-1.7 not a photo at all")
        assert bad.problem is PhotoProblem.NOT_AN_IMAGE
