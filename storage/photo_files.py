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
        folder = self._root / datetime.now(UTC).strftime("%Y/%m/%d")
        kept = await asyncio.to_thread(_move, source, folder, sha256)
        if kept is None:
            return None
        target, size, content_type = kept
        return KeptPhoto(sha256, size, str(target.relative_to(self._root)), content_type)

    async def drop_pending(self, sha256: str) -> None:
        await asyncio.to_thread(self._pending_path(sha256).unlink, missing_ok=True)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(content)
    temporary.replace(path)  # atomic: a reader never sees half a photo


# What the photo is, from its first bytes (the messengers send JPEG mostly, but a file sent
# "as a document", the console and the fakes bring PNG, WebP, HEIC and others): the kept
# file's extension and the content type it is served with must say what it really is.
_SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"\xff\xd8\xff", ".jpg", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (0, b"GIF87a", ".gif", "image/gif"),
    (0, b"GIF89a", ".gif", "image/gif"),
    (8, b"WEBP", ".webp", "image/webp"),  # after "RIFF" and the size
    (0, b"BM", ".bmp", "image/bmp"),
    (0, b"II*\x00", ".tiff", "image/tiff"),
    (0, b"MM\x00*", ".tiff", "image/tiff"),
    (4, b"ftypheic", ".heic", "image/heic"),
    (4, b"ftypheix", ".heic", "image/heic"),
    (4, b"ftypmif1", ".heif", "image/heif"),
    (4, b"ftypavif", ".avif", "image/avif"),
)
_UNKNOWN = (".bin", "application/octet-stream")


def photo_type(head: bytes) -> tuple[str, str]:
    """(extension, content type) of an image from its first 16 bytes; unknown: .bin."""
    for offset, magic, extension, content_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if magic == b"WEBP" and not head.startswith(b"RIFF"):
                continue
            return extension, content_type
    return _UNKNOWN


def _move(source: Path, folder: Path, sha256: str) -> tuple[Path, int, str] | None:
    if not source.is_file():
        # Kept already (a retried confirmation): whatever extension it got then.
        for earlier in sorted(folder.glob(f"{sha256}.*")):
            return earlier, earlier.stat().st_size, _type_of_suffix(earlier.suffix)
        return None
    with source.open("rb") as file:
        extension, content_type = photo_type(file.read(16))
    target = folder / f"{sha256}{extension}"
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)
    return target, target.stat().st_size, content_type


def _type_of_suffix(suffix: str) -> str:
    return next((t for _, _, ext, t in _SIGNATURES if ext == suffix), _UNKNOWN[1])
