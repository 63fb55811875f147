"""Photo files (issue 18): kept photos keep their real type (extension and content type from
the bytes); pending photos are bounded per person and in total, and go on erasure."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from storage.photo_files import DirectoryPhotoStore

OWNER = 7


def image(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "extension", "content_type"),
    [
        ("JPEG", ".jpg", "image/jpeg"),
        ("PNG", ".png", "image/png"),
        ("WEBP", ".webp", "image/webp"),
        ("GIF", ".gif", "image/gif"),
        ("BMP", ".bmp", "image/bmp"),
        ("TIFF", ".tiff", "image/tiff"),
    ],
)
async def test_a_kept_photo_has_its_real_type(
    tmp_path: Path, kind: str, extension: str, content_type: str
) -> None:
    store = DirectoryPhotoStore(tmp_path)
    content = image(kind)
    sha256 = await store.put_pending(content, OWNER)
    kept = await store.keep(sha256, OWNER)
    assert kept is not None and kept.content_type == content_type
    assert kept.storage_ref.endswith(sha256 + extension)
    assert (tmp_path / kept.storage_ref).read_bytes() == content
    # A retried confirmation finds the same file.
    assert await store.keep(sha256, OWNER) == kept


async def test_bytes_of_no_known_image_type_are_not_called_a_jpeg(tmp_path: Path) -> None:
    store = DirectoryPhotoStore(tmp_path)
    kept = await store.keep(await store.put_pending(b"<svg onload=alert(1)>", OWNER), OWNER)
    assert kept is not None and kept.content_type == "application/octet-stream"
    assert kept.storage_ref.endswith(".bin")


def pending(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "pending").iterdir())


async def test_each_person_keeps_only_their_newest_pending_photos(tmp_path: Path) -> None:
    """Point 5: five padded photos in a row used to stay on disk until "Ні"."""
    store = DirectoryPhotoStore(tmp_path, pending_per_owner=3)
    other = await store.put_pending(b"someone else's", 8)
    names = [await store.put_pending(b"photo %d" % n + bytes(1000), OWNER) for n in range(5)]
    assert pending(tmp_path) == sorted([f"8-{other}", *(f"{OWNER}-{n}" for n in names[2:])])
    # The newest can still be confirmed; an older one is gone (the reading stays typed).
    assert await store.keep(names[-1], OWNER) is not None
    assert await store.keep(names[0], OWNER) is None


async def test_pending_photos_are_bounded_in_total_oldest_first(tmp_path: Path) -> None:
    store = DirectoryPhotoStore(tmp_path, pending_total_bytes=2500)
    names = [await store.put_pending(bytes([n]) * 1000, owner) for n, owner in enumerate(range(5))]
    assert pending(tmp_path) == sorted(f"{o}-{n}" for o, n in list(enumerate(names))[3:])
    assert sum(path.stat().st_size for path in (tmp_path / "pending").iterdir()) <= 2500


async def test_erasure_forgets_a_persons_pending_photos(tmp_path: Path) -> None:
    store = DirectoryPhotoStore(tmp_path)
    other = await store.put_pending(b"someone else's", 8)
    await store.put_pending(b"one", OWNER)
    await store.put_pending(b"two", OWNER)
    assert await store.drop_owner(OWNER) == 2
    assert pending(tmp_path) == [f"8-{other}"]


async def test_a_pending_photo_written_before_owners_can_still_be_kept(tmp_path: Path) -> None:
    (tmp_path / "pending").mkdir()
    content = image("PNG")
    sha256 = hashlib.sha256(content).hexdigest()
    (tmp_path / "pending" / sha256).write_bytes(content)
    kept = await DirectoryPhotoStore(tmp_path).keep(sha256, OWNER)
    assert kept is not None and kept.content_type == "image/png"
