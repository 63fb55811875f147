"""Documents the bot sends: the consumption chart and payment QR codes (PNG), and PDFs
(bills, receipts).

Core decides what a document says; a renderer (an adapter, off the event loop) decides how
it looks. Texts arrive already translated, so renderers know no language.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChartSeries:
    """One year's monthly kWh per zone: values[zone_label][month_index 0..11]."""

    label: str
    values: dict[str, list[int]]


@dataclass(frozen=True)
class ConsumptionChart:
    """This year against last year, by month, zones stacked."""

    title: str
    month_labels: list[str]
    series: list[ChartSeries]
    y_label: str


@dataclass(frozen=True)
class PdfSection:
    """A heading and label–value rows; `table` adds a grid (first row is the header)."""

    heading: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class PaymentQrImage:
    """A payment QR code to print: what it holds (`core.payment_qr.nbu_qr_link`) and the
    lines printed beside it."""

    content: str
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PdfDocument:
    """A one-page document: title, subtitle, sections, a payment QR code, a note."""

    title: str
    subtitle: str
    sections: list[PdfSection]
    footer: str = ""
    metadata_title: str = ""
    qr: PaymentQrImage | None = None


class DocumentRenderer(abc.ABC):
    """Port: renders documents without blocking the event loop."""

    @abc.abstractmethod
    async def chart_png(self, chart: ConsumptionChart) -> bytes:
        """A PNG readable on a phone screen."""

    @abc.abstractmethod
    async def pdf(self, document: PdfDocument) -> bytes:
        """A PDF with Cyrillic text."""

    @abc.abstractmethod
    async def payment_qr_png(self, content: str) -> bytes:
        """The payment QR code holding `content`, with the hryvnia sign in its centre."""


class StoredDocuments(abc.ABC):
    """Port: files billing produced (bill PDFs), found by their reference."""

    @abc.abstractmethod
    async def fetch(self, ref: str) -> bytes | None:
        """The file's bytes, or None when it is not there."""
