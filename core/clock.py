"""The Clock port: every "now" in the domain comes from here, so demos and tests can freeze time."""

from __future__ import annotations

import abc
from datetime import UTC, datetime


class Clock(abc.ABC):
    """Tells the current time, timezone-aware."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC unless frozen with another offset)."""


class SystemClock(Clock):
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock stopped at one moment; `advance` moves it (tests, demos, KABINET_NOW)."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a frozen clock needs a timezone-aware moment")
        self._moment = moment

    def now(self) -> datetime:
        return self._moment

    def set(self, moment: datetime) -> None:
        """Move the clock to another moment."""
        if moment.tzinfo is None:
            raise ValueError("a frozen clock needs a timezone-aware moment")
        self._moment = moment
