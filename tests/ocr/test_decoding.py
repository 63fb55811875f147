"""Untrusted bytes: refused fast with the right reason, orientation applied."""

from __future__ import annotations

import io
import time

from PIL import Image

from core.photo_reading import PhotoProblem
from ocr.decoding import MAX_BYTES, decode_photo
from tests.ocr.conftest import jpeg_bytes


def test_corrupt_bytes_are_not_an_image() -> None:
    assert decode_photo(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50) is PhotoProblem.NOT_AN_IMAGE
    assert decode_photo(b"hello") is PhotoProblem.NOT_AN_IMAGE


def test_truncated_jpeg_is_not_an_image() -> None:
    data = jpeg_bytes(Image.new("RGB", (800, 600), (200, 100, 50)))
    assert decode_photo(data[: len(data) // 3]) in {PhotoProblem.NOT_AN_IMAGE}


def test_pdf_is_not_an_image() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
    assert decode_photo(pdf) is PhotoProblem.NOT_AN_IMAGE


def test_huge_png_is_refused_from_its_header() -> None:
    buffer = io.BytesIO()
    # A one-bit 20000×20000 PNG compresses to a few KB but would decode to 400 MP.
    Image.new("1", (20000, 20000)).save(buffer, "PNG")
    started = time.perf_counter()
    assert decode_photo(buffer.getvalue()) is PhotoProblem.TOO_LARGE
    assert time.perf_counter() - started < 0.5


def test_fifty_megapixels_is_too_large() -> None:
    buffer = io.BytesIO()
    Image.new("1", (8660, 5774)).save(buffer, "PNG")
    assert decode_photo(buffer.getvalue()) is PhotoProblem.TOO_LARGE


def test_too_many_bytes_is_too_large() -> None:
    assert decode_photo(b"\xff\xd8" + b"\x00" * (MAX_BYTES + 1)) is PhotoProblem.TOO_LARGE


def test_tiny_image_is_too_small() -> None:
    assert decode_photo(jpeg_bytes(Image.new("RGB", (30, 20)))) is PhotoProblem.TOO_SMALL


def test_exif_orientation_is_applied_and_big_photos_are_downscaled() -> None:
    image = Image.new("RGB", (3000, 2000), (120, 120, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: the upright photo is portrait
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    decoded = decode_photo(buffer.getvalue())
    assert not isinstance(decoded, PhotoProblem)
    assert decoded.image.height > decoded.image.width
    assert max(decoded.image.size) <= 1280
    assert (decoded.original_width, decoded.original_height) == (3000, 2000)
