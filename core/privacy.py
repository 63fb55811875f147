"""Masking personal data before it reaches a log."""

from __future__ import annotations


def mask(value: str | None, keep: int = 3) -> str:
    """Keep the last `keep` characters and hide the rest: "380501234567" → "*********567"."""
    if not value:
        return "-"
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]
