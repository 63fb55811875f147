"""Reading a meter from a photo: the port that `ocr/` implements and the rule that picks a value.

Core knows nothing of Tesseract or Pillow; it hands bytes to a `MeterPhotoReader` and gets
back candidates. Which candidate is plausible is a domain rule, so it lives here.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum


class PhotoProblem(StrEnum):
    """Why a photo gave no usable reading; each has its own advice for the person."""

    NOT_AN_IMAGE = "not_an_image"
    TOO_LARGE = "too_large"
    TOO_SMALL = "too_small"
    TOO_DARK = "too_dark"
    BLURRED = "blurred"
    COUNTER_NOT_FOUND = "counter_not_found"
    NO_DIGITS = "no_digits"
    TIMEOUT = "timeout"
    BUSY = "busy"


@dataclass(frozen=True)
class ReadingCandidate:
    """One way of reading the counter: the integer value, the digits as seen, 0..1 confidence."""

    value: int
    digits: str
    confidence: float


@dataclass(frozen=True)
class PhotoRecognition:
    """What the reader made of one photo: candidates best first, or the problem."""

    candidates: tuple[ReadingCandidate, ...] = ()
    problem: PhotoProblem | None = None
    width: int = 0
    height: int = 0
    details: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> ReadingCandidate | None:
        """The most confident candidate, if any."""
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class ReadingPrior:
    """What we already know about the meter, used to choose among candidates."""

    previous: int | None = None
    digit_count: int | None = None
    max_increase: int | None = None


class MeterPhotoReader(abc.ABC):
    """Port: photo bytes in, candidates out. Implementations must not block the event loop."""

    @abc.abstractmethod
    async def read(self, image: bytes, prior: ReadingPrior | None = None) -> PhotoRecognition:
        """Recognise the counter in `image`; never raises for bad input, reports a problem."""


def implied_increase(candidate: ReadingCandidate, prior: ReadingPrior) -> int | None:
    """Consumption the candidate implies since `prior.previous`, counting a drum roll-over.

    None when the candidate cannot follow the previous reading: it has the wrong number of
    digits, goes backwards without being a plausible roll-over (which needs the meter's digit
    count), or jumps by more than `prior.max_increase`. With no previous reading, any
    candidate of the right length fits (0).
    """
    digit_count = prior.digit_count
    shown = len(candidate.digits)
    # LCDs blank leading zeros, so fewer digits fit only when none of them is a zero pad.
    if (
        digit_count is not None
        and shown != digit_count
        and (shown > digit_count or candidate.digits.startswith("0"))
    ):
        return None
    if prior.previous is None:
        return 0
    increase = candidate.value - prior.previous
    if increase < 0:
        # Only a meter whose digit count we know can be said to have rolled over.
        if digit_count is None:
            return None
        capacity = 10**digit_count
        if prior.previous >= capacity:
            return None
        increase += capacity
        # Without a stated maximum, a roll-over is believed only for a small step past zero.
        limit = prior.max_increase if prior.max_increase is not None else capacity // 10
        return increase if increase <= limit else None
    if prior.max_increase is not None and increase > prior.max_increase:
        return None
    return increase


def fits_prior(candidate: ReadingCandidate, prior: ReadingPrior | None) -> bool:
    """Whether the candidate is a reading this meter can show next."""
    return prior is None or implied_increase(candidate, prior) is not None


def choose_fitting(
    candidates: tuple[ReadingCandidate, ...] | list[ReadingCandidate], prior: ReadingPrior | None
) -> ReadingCandidate | None:
    """The most confident candidate that fits the prior, or None when none does."""
    fitting = [c for c in candidates if fits_prior(c, prior)]
    return max(fitting, key=lambda c: c.confidence) if fitting else None
