"""`MeterReader`: the `MeterPhotoReader` port, run in a bounded pool off the event loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Literal

from core.photo_reading import MeterPhotoReader, PhotoProblem, PhotoRecognition, ReadingPrior
from ocr.pipeline import default_engine, recognise_photo

log = logging.getLogger(__name__)

Recogniser = Callable[[bytes, ReadingPrior | None], PhotoRecognition]


def _prepare_worker() -> None:
    """Worker start-up: load the models now, so that the first photo is not the slow one.

    Tesseract's OpenMP threads only slow small lines on a shared CPU.
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"
    default_engine()


class MeterReader(MeterPhotoReader):
    """Reads meter photos with `ocr.pipeline` in a pool of `workers`.

    At most `max_pending` photos are queued or running; beyond that `read` answers BUSY at
    once instead of letting a burst of photos stall every chat. A photo that takes longer
    than `timeout_s` is answered with TIMEOUT (its work still occupies a slot until it ends).
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        max_pending: int = 8,
        timeout_s: float = 10.0,
        executor: Literal["process", "thread"] = "process",
        recogniser: Recogniser = recognise_photo,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._recogniser = recogniser
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False
        self._pool: Executor
        if executor == "process":
            # spawn, not fork: the bot's process has threads and an event loop.
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_prepare_worker,
            )
        else:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")

    @property
    def pending(self) -> int:
        """Photos queued or being read right now."""
        return self._pending

    def _release(self, _: Future[PhotoRecognition]) -> None:
        with self._lock:
            self._pending -= 1

    async def read(self, image: bytes, prior: ReadingPrior | None = None) -> PhotoRecognition:
        """Recognise the counter in `image` without blocking the loop; BUSY/TIMEOUT when due."""
        if self._closed:
            raise RuntimeError("MeterReader is closed")
        with self._lock:
            if self._pending >= self.max_pending:
                return PhotoRecognition(problem=PhotoProblem.BUSY)
            self._pending += 1
        try:
            future = self._pool.submit(self._recogniser, image, prior)
        except RuntimeError:
            with self._lock:
                self._pending -= 1
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError:
            future.cancel()
            return PhotoRecognition(problem=PhotoProblem.TIMEOUT)
        except Exception:
            # A broken model file or a worker crash must not take the chat down with it.
            log.exception("photo recognition failed")
            return PhotoRecognition(problem=PhotoProblem.NO_DIGITS, details={"failed": 1.0})

    def close(self) -> None:
        """Stop the workers; queued photos are dropped."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> MeterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["MeterReader", "Recogniser"]
