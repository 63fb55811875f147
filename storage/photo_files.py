"""Meter photos on disk: pending ones in `pending/`, kept ones by date, named by SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from core.evidence import KeptPhoto, PhotoStore

_HASH = re.compile(r"[0-9a-f]{64}")


class DirectoryPhotoStore(PhotoStore):
    """A directory shared by every worker (a volume in production); file I/O off the loop."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _pending_path(self, sha256: str) -> Path:
        if not _HASH.fullmatch(sha256):
            raise ValueError("not a SHA-256 name")
        return self._root / "pending" / sha256

    async def put_pending(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        await asyncio.to_thread(_write, self._pending_path(sha256), content)
        return sha256

    async def keep(self, sha256: str) -> KeptPhoto | None:
        source = self._pending_path(sha256)
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        target = self._root / day / f"{sha256}.jpg"
        size = await asyncio.to_thread(_move, source, target)
        if size is None:
            return None
        return KeptPhoto(sha256, size, str(target.relative_to(self._root)), "image/jpeg")

    async def drop_pending(self, sha256: str) -> None:
        await asyncio.to_thread(self._pending_path(sha256).unlink, missing_ok=True)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(content)
    temporary.replace(path)  # atomic: a reader never sees half a photo


def _move(source: Path, target: Path) -> int | None:
    if not source.is_file():
        return target.stat().st_size if target.is_file() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)
    return target.stat().st_size
