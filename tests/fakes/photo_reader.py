"""The meter photo reader port: answers what a test set."""

from __future__ import annotations

from core.photo_reading import (
    MeterPhotoReader,
    PhotoProblem,
    PhotoRecognition,
    ReadingCandidate,
    ReadingPrior,
)


class FakePhotoReader(MeterPhotoReader):
    """Answers with the recognition a test set, and remembers what it was asked."""

    def __init__(self) -> None:
        self.next = PhotoRecognition(problem=PhotoProblem.NO_DIGITS)
        self.calls: list[tuple[bytes, ReadingPrior | None]] = []

    async def read(self, image: bytes, prior: ReadingPrior | None = None) -> PhotoRecognition:
        self.calls.append((image, prior))
        return self.next

    def will_read(self, digits: str, confidence: float = 0.95) -> None:
        """The next photo reads as `digits`."""
        self.next = PhotoRecognition((ReadingCandidate(int(digits), digits, confidence),))
