"""Masking personal data before it reaches a log; pseudonymous keys for counters."""

from __future__ import annotations

import hashlib


def mask(value: str | None, keep: int = 3) -> str:
    """Keep the last `keep` characters and hide the rest: "380501234567" → "*********567"."""
    if not value:
        return "-"
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def attempt_key(kind: str, *parts: str) -> str:
    """A key that failed tries are counted under, without the data it is made of.

    Brute-force counters must outlive "delete my data", so they cannot point at a person;
    a hash of the messenger identity or of the account number tried keeps them apart.
    """
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()
