"""Domain errors: each one is a distinct answer the person gets, never a crash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.model import Zone


class DomainError(Exception):
    """A rule said no; the flow turns it into a polite message."""


class EicInvalid(DomainError):
    """The EIC code has a typo (wrong length, characters or check character)."""


class AccountNumberInvalid(DomainError):
    """The account number is not 6–13 digits."""


class AccountNotFound(DomainError):
    """No account with this number AND this EIC (also when only one of them matches)."""


@dataclass
class TooManyLinkAttempts(DomainError):
    """Five failed tries within the hour; the person must wait `wait`."""

    wait: timedelta


class AlreadyLinked(DomainError):
    """The person already has this account."""


class AccountNotLinked(DomainError):
    """The person tried to use an account that is not theirs."""


@dataclass
class OutsideReadingWindow(DomainError):
    """Readings are not taken now; the next window is `opens`..`closes` (inclusive dates)."""

    opens: date
    closes: date


class NoMeter(DomainError):
    """The account has no meter in service."""


class ReadingFormatInvalid(DomainError):
    """The text is not a whole number of kWh."""


@dataclass
class ReadingTooLong(DomainError):
    """More digits than the meter has."""

    digit_count: int


@dataclass
class ReadingBelowPrevious(DomainError):
    """Lower than the previous reading and not a plausible roll-over of the counter."""

    zone: Zone
    previous: int
