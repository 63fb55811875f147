"""Meter photos kept as evidence of photo readings.

A photo waits as "pending" while the person checks what was read; only "Так" keeps it (and
records it in the database with the reading). Pending photos live in shared storage, not in
one process's memory, so any worker can finish the conversation.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class KeptPhoto:
    """Where a kept photo is and what it is."""

    sha256: str
    size: int
    storage_ref: str
    content_type: str


class PhotoStore(abc.ABC):
    """Port: holds photo bytes; the database holds their records.

    Pending photos belong to the person (`owner`, their id) who sent them: a store keeps
    a few per person and a bounded total, and forgets a person's on erasure."""

    @abc.abstractmethod
    async def put_pending(self, content: bytes, owner: int) -> str:
        """Hold a photo while the person confirms; its SHA-256 names it. Older pending
        photos of the person, or of anyone when the store is full, may go to make room."""

    @abc.abstractmethod
    async def keep(self, sha256: str, owner: int) -> KeptPhoto | None:
        """Make a pending photo permanent; None when it is gone (expired or never there)."""

    @abc.abstractmethod
    async def drop_pending(self, sha256: str, owner: int) -> None:
        """Forget a pending photo the person rejected."""

    @abc.abstractmethod
    async def drop_owner(self, owner: int) -> int:
        """Forget every pending photo of a person ("delete my data"); how many went."""
