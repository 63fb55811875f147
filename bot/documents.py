"""Renders charts (matplotlib, Agg) and PDFs (fpdf2) in a bounded thread pool.

Both libraries block for tens of milliseconds per document, so they never run on the event
loop; the pool bounds how many render at once, and a semaphore bounds how many wait.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.documents import ConsumptionChart, DocumentRenderer, PdfDocument, StoredDocuments

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

    async def _run(self, function, argument) -> bytes:  # type: ignore[no-untyped-def]
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
                label=f"{series.label} · {zone}",
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
            pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
        if section.table:
            pdf.set_font("DejaVu", "", 9)
            with pdf.table(first_row_as_headings=True, line_height=6) as table:
                for row_values in section.table:
                    row = table.row()
                    for value in row_values:
                        row.cell(value)
    if document.footer:
        pdf.ln(6)
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(0, 4.5, document.footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


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
