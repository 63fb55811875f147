"""Meter photos on disk: pending ones in `pending/`, kept ones by date, named by SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from core.evidence import KeptPhoto, PhotoStore

log = logging.getLogger(__name__)

_HASH = re.compile(r"[0-9a-f]{64}")


DEFAULT_PENDING_PER_OWNER = 3
DEFAULT_PENDING_TOTAL_BYTES = 512 * 1024 * 1024


class DirectoryPhotoStore(PhotoStore):
    """A directory shared by every worker (a volume in production); file I/O off the loop.

    A pending photo is `pending/<owner>-<sha256>`. Each write keeps the owner's newest
    `pending_per_owner` and the whole directory under `pending_total_bytes` (the oldest
    files, anyone's, go first), so neither one person sending photo after photo nor many
    people together can fill the disk before the retention job's next run.
    """

    def __init__(
        self,
        root: Path,
        *,
        pending_per_owner: int = DEFAULT_PENDING_PER_OWNER,
        pending_total_bytes: int = DEFAULT_PENDING_TOTAL_BYTES,
    ) -> None:
        self._root = root
        self._per_owner = pending_per_owner
        self._total_bytes = pending_total_bytes

    def _pending_path(self, sha256: str, owner: int | None) -> Path:
        if not _HASH.fullmatch(sha256):
            raise ValueError("not a SHA-256 name")
        # Files named by the hash alone were written before owners were recorded.
        name = sha256 if owner is None else f"{int(owner)}-{sha256}"
        return self._root / "pending" / name

    async def put_pending(self, content: bytes, owner: int) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._pending_path(sha256, owner)
        await asyncio.to_thread(_write, path, content)
        dropped = await asyncio.to_thread(
            _bound_pending, path, f"{int(owner)}-", self._per_owner, self._total_bytes
        )
        if dropped:
            log.info("photos: %d older pending photo(s) removed to make room", dropped)
        return sha256

    async def keep(self, sha256: str, owner: int) -> KeptPhoto | None:
        owned, legacy = self._pending_path(sha256, owner), self._pending_path(sha256, None)
        source = legacy if not owned.is_file() and legacy.is_file() else owned
        folder = self._root / datetime.now(UTC).strftime("%Y/%m/%d")
        kept = await asyncio.to_thread(_move, source, folder, sha256)
        if kept is None:
            return None
        target, size, content_type = kept
        return KeptPhoto(sha256, size, str(target.relative_to(self._root)), content_type)

    async def drop_pending(self, sha256: str, owner: int) -> None:
        for path in (self._pending_path(sha256, owner), self._pending_path(sha256, None)):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def drop_owner(self, owner: int) -> int:
        return await asyncio.to_thread(_drop_prefixed, self._root / "pending", f"{int(owner)}-")


def _pending_files(directory: Path) -> list[tuple[int, str, int]]:
    """(mtime in ns, name, size) of the pending directory's files."""
    found = []
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        return []
    with entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found.append((stat.st_mtime_ns, entry.name, stat.st_size))
            except FileNotFoundError:  # taken or dropped meanwhile
                continue
    return found


def _bound_pending(written: Path, prefix: str, per_owner: int, total_bytes: int) -> int:
    """Remove the owner's pending files beyond the newest `per_owner`, then the oldest
    files until the directory holds at most `total_bytes`; never `written`. How many went."""
    # Half-written files (another worker's, being written) are left alone.
    files = sorted(
        (f for f in _pending_files(written.parent) if not f[1].endswith(".part")), reverse=True
    )  # newest first
    # The file just written counts as the newest, whatever the clock's resolution says.
    files.sort(key=lambda item: item[1] != written.name)
    gone: set[str] = set()
    own = [name for _, name, _ in files if name.startswith(prefix)]
    gone.update(name for name in own[per_owner:] if name != written.name)
    total = sum(size for _, name, size in files if name not in gone)
    for _, name, size in reversed(files):  # oldest first
        if total <= total_bytes:
            break
        if name != written.name and name not in gone:
            gone.add(name)
            total -= size
    for name in gone:
        (written.parent / name).unlink(missing_ok=True)
    return len(gone)


def _drop_prefixed(directory: Path, prefix: str) -> int:
    names = [name for _, name, _ in _pending_files(directory) if name.startswith(prefix)]
    for name in names:
        (directory / name).unlink(missing_ok=True)
    return len(names)


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
