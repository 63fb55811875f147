"""Renders charts (matplotlib, Agg), payment QR codes (segno, Pillow) and PDFs (fpdf2) in
a bounded thread pool.

These libraries block for milliseconds to tens of milliseconds per document, so they never
run on the event loop; the pool bounds how many render at once, and a semaphore bounds how
many wait.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.documents import (
    ConsumptionChart,
    DocumentRenderer,
    PaymentQrImage,
    PdfDocument,
    StoredDocuments,
)

if TYPE_CHECKING:  # imported where they are used: they take a second to import
    from fpdf import FPDF
    from segno import QRCode

_Input = TypeVar("_Input")

# Zone colours that stay apart for colour-blind readers (Okabe–Ito), last year lighter.
_ZONE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]


def _fonts_dir() -> Path:
    """DejaVu Sans ships with matplotlib, so PDFs get Cyrillic without a system font."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class RendererBusy(Exception):
    """Too many documents are waiting; the person is asked to try again shortly."""


class ThreadedDocumentRenderer(DocumentRenderer):
    """The document port on a small thread pool with a bounded queue."""

    def __init__(self, workers: int = 2, max_waiting: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        self._slots = asyncio.Semaphore(workers + max_waiting)

    async def chart_png(self, chart: ConsumptionChart) -> bytes:
        return await self._run(render_chart_png, chart)

    async def pdf(self, document: PdfDocument) -> bytes:
        return await self._run(render_pdf, document)

    async def payment_qr_png(self, content: str) -> bytes:
        return await self._run(render_payment_qr_png, content)

    async def _run(self, function: Callable[[_Input], bytes], argument: _Input) -> bytes:
        if self._slots.locked():
            raise RendererBusy
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, function, argument)

    def close(self) -> None:
        """Finish queued work and stop the threads."""
        self._pool.shutdown(wait=True)


def render_chart_png(chart: ConsumptionChart) -> bytes:
    """Grouped bars (one group per month, one bar per year), zones stacked; 1080×1080 px."""
    # matplotlib and fpdf take a second to import: only processes that render pay for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 8), dpi=135)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    months = len(chart.month_labels)
    width = 0.8 / max(1, len(chart.series))
    for index, series in enumerate(chart.series):
        offsets = [m - 0.4 + width * (index + 0.5) for m in range(months)]
        bottom = [0] * months
        # Earlier years fade so this year stands out.
        alpha = 0.45 if index < len(chart.series) - 1 else 1.0
        for zone_index, (zone, values) in enumerate(series.values.items()):
            axes.bar(
                offsets,
                values,
                width,
                bottom=bottom,
                alpha=alpha,
                color=_ZONE_COLOURS[zone_index % len(_ZONE_COLOURS)],
                # One zone needs no name: the legend tells the years apart.
                label=f"{series.label} · {zone}" if len(series.values) > 1 else series.label,
                edgecolor="white",
                linewidth=0.5,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for x, total in zip(offsets, bottom, strict=True):
            if total:
                axes.text(x, total, str(total), ha="center", va="bottom", fontsize=7, rotation=90)
    axes.set_xticks(range(months), chart.month_labels, fontsize=12)
    axes.tick_params(axis="y", labelsize=12)
    axes.set_ylabel(chart.y_label, fontsize=13)
    axes.set_title(chart.title, fontsize=15, pad=14)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class QrTooLarge(ValueError):
    """The content does not fit a QR code of the versions the NBU rules allow."""


# NBU resolution No. 97: QR versions 10 to 20, error correction Q, M or L by data size.
# The most robust level that fits is used (the hryvnia sign covers part of the centre).
_QR_VERSIONS = range(10, 21)
_QR_ERRORS = ("Q", "M", "L")


def payment_qr_matrix(content: str) -> QRCode:
    """The segno QR code for `content` within the NBU's versions and error levels."""
    import segno

    for error in _QR_ERRORS:
        code = segno.make_qr(content, error=error, boost_error=False)
        if code.version in _QR_VERSIONS:
            return code
        if isinstance(code.version, int) and code.version < _QR_VERSIONS.start:
            return segno.make_qr(
                content, error=error, version=_QR_VERSIONS.start, boost_error=False
            )
    raise QrTooLarge(f"{len(content)} characters do not fit QR version {_QR_VERSIONS.stop - 1}")


def render_payment_qr_png(content: str, scale: int = 8) -> bytes:
    """The payment QR code as a PNG: black on white, a quiet zone of 4 modules, and the
    hryvnia sign in a white circle in the centre (mandatory for NBU formats 002 and 003)."""
    from PIL import Image, ImageDraw, ImageFont

    code = payment_qr_matrix(content)
    border = 4
    raw = io.BytesIO()
    code.save(raw, kind="png", scale=scale, border=border)
    image = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    side = image.width
    symbol = side - 2 * border * scale
    # A circle of about a fifth of the symbol hides ~3% of the modules, well inside what
    # level L (7%) already recovers.
    radius = round(symbol * 0.1)
    centre = side / 2
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (centre - radius, centre - radius, centre + radius, centre + radius),
        fill="white",
        outline="black",
        width=max(1, scale // 3),
    )
    font = ImageFont.truetype(str(_fonts_dir() / "DejaVuSans-Bold.ttf"), round(radius * 1.3))
    draw.text((centre, centre), "₴", fill="black", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_pdf(document: PdfDocument) -> bytes:
    """An A4 page with DejaVu Sans (Cyrillic), label–value rows and simple tables."""
    from fpdf import FPDF

    fonts = _fonts_dir()
    pdf = FPDF(format="A4")
    pdf.set_title(document.metadata_title or document.title)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 9, document.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    pdf.multi_cell(0, 6, document.subtitle, new_x="LMARGIN", new_y="NEXT")
    for section in document.sections:
        pdf.ln(4)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(0, 7, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 10)
        for label, value in section.rows:
            pdf.set_font("DejaVu", "", 10)
            pdf.cell(70, 6, label)
            pdf.set_font("DejaVu", "B", 10)
            pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT", align="L")
        if section.table:
            pdf.set_font("DejaVu", "", 9)
            with pdf.table(first_row_as_headings=True, line_height=6) as table:
                for row_values in section.table:
                    row = table.row()
                    for value in row_values:
                        row.cell(value)
    if document.qr is not None:
        _pdf_qr(pdf, document.qr)
    if document.footer:
        pdf.ln(6)
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(0, 4.5, document.footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _pdf_qr(pdf: FPDF, qr: PaymentQrImage) -> None:
    """The QR code (50 mm: modules over 0.5 mm, as the NBU recommends) with its text."""
    size = 50
    pdf.ln(4)
    if pdf.get_y() + size + 12 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 7, qr.heading, new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 1
    pdf.image(io.BytesIO(render_payment_qr_png(qr.content)), x=pdf.l_margin, y=top, w=size)
    pdf.set_font("DejaVu", "", 10)
    pdf.set_xy(pdf.l_margin + size + 6, top + 2)
    for line in qr.lines:
        pdf.set_x(pdf.l_margin + size + 6)
        pdf.multi_cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_y(max(pdf.get_y(), top + size + 2))


class DirectoryDocuments(StoredDocuments):
    """Bill PDFs billing drops into a directory; references are paths inside it."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    async def fetch(self, ref: str) -> bytes | None:
        path = (self._root / ref).resolve()
        # A reference must never escape the directory ("../../etc/passwd").
        if not path.is_relative_to(self._root):
            return None
        return await asyncio.to_thread(_read_if_file, path)


def _read_if_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None
