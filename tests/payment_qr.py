"""Reads payment QR codes back as a banking app would: decode the image (zxing-cpp), then
the NBU link's payload, in the encoding its third line declares."""

from __future__ import annotations

import base64
import io

from PIL import Image
from pypdf import PdfReader

from core.payment_qr import NBU_QR_LINK


def scan(image: Image.Image) -> str:
    """The text of the only QR code in the image."""
    import zxingcpp

    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes found"
    return found[0].text


def payload_lines(link: str) -> list[str]:
    """The 13 lines of an NBU format 002 link."""
    assert link.startswith(NBU_QR_LINK), link
    data = link.removeprefix(NBU_QR_LINK)
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    encoding = {b"1": "utf-8", b"2": "cp1251"}[raw.split(b"\r\n")[2]]
    return raw.decode(encoding).split("\r\n")


def scan_png(content: bytes) -> list[str]:
    """The payload lines of a QR code PNG."""
    return payload_lines(scan(Image.open(io.BytesIO(content))))


def scan_pdf(content: bytes) -> list[str]:
    """The payload lines of the QR code image on the first page of a PDF."""
    images = PdfReader(io.BytesIO(content)).pages[0].images
    assert len(images) == 1, f"{len(images)} images in the PDF"
    return payload_lines(scan(images[0].image))
