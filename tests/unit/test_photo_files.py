"""Kept photos keep their real type: extension and content type from the bytes (issue 18)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from storage.photo_files import DirectoryPhotoStore


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
    sha256 = await store.put_pending(content)
    kept = await store.keep(sha256)
    assert kept is not None and kept.content_type == content_type
    assert kept.storage_ref.endswith(sha256 + extension)
    assert (tmp_path / kept.storage_ref).read_bytes() == content
    # A retried confirmation finds the same file.
    assert await store.keep(sha256) == kept


async def test_bytes_of_no_known_image_type_are_not_called_a_jpeg(tmp_path: Path) -> None:
    store = DirectoryPhotoStore(tmp_path)
    kept = await store.keep(await store.put_pending(b"<svg onload=alert(1)>"))
    assert kept is not None and kept.content_type == "application/octet-stream"
    assert kept.storage_ref.endswith(".bin")
