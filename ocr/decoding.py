"""Turning untrusted photo bytes into a modest-size RGB image, or saying why not.

Limits are checked from the header before any pixel is decoded, so a decompression bomb or a
huge photo costs a header parse, not memory and seconds.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from core.photo_reading import PhotoProblem

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
MIN_SIDE = 48
# Phone photos are 12+ MP; the counter is findable and readable at this size.
WORKING_SIDE = 1280
# JPEG covers MPO (multi-picture JPEG from some phones) too.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


@dataclass(frozen=True)
class DecodedPhoto:
    """The photo, upright and downscaled, with its original pixel size."""

    image: Image.Image
    original_width: int
    original_height: int


def decode_photo(data: bytes, working_side: int = WORKING_SIDE) -> DecodedPhoto | PhotoProblem:
    """Decode `data` into an upright RGB image no larger than `working_side`, or a problem."""
    if len(data) > MAX_BYTES:
        return PhotoProblem.TOO_LARGE
    if len(data) < 16 or data.lstrip()[:5] == b"%PDF-":
        return PhotoProblem.NOT_AN_IMAGE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        return PhotoProblem.TOO_LARGE
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return PhotoProblem.NOT_AN_IMAGE
    width, height = image.size
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        return PhotoProblem.TOO_LARGE
    if min(width, height) < MIN_SIDE:
        return PhotoProblem.TOO_SMALL
    try:
        if image.format in {"JPEG", "MPO"}:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far faster than a full decode.
            image.draft("RGB", (working_side, working_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.thumbnail((working_side, working_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except Image.DecompressionBombError:
        return PhotoProblem.TOO_LARGE
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning):
        return PhotoProblem.NOT_AN_IMAGE
    return DecodedPhoto(image=image, original_width=width, original_height=height)
