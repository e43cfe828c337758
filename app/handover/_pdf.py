"""Shared PDF pieces: page, styles, letterhead, numbered footer and the QR flowable."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import cm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    HRFlowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from app.handover.document import Letterhead
from app.handover.qr import qr_matrix

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT, MARGIN_RIGHT = 2.5 * cm, 2.0 * cm
MARGIN_TOP, MARGIN_BOTTOM = 1.5 * cm, 2.2 * cm
TEXT_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
MONO = "Courier"

BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13.4)
JUSTIFIED = ParagraphStyle("justified", parent=BODY, alignment=TA_JUSTIFY)
BOLD = ParagraphStyle("bold", parent=BODY, fontName="Helvetica-Bold")
CENTER = ParagraphStyle("center", parent=BODY, alignment=TA_CENTER)
CENTER_BOLD = ParagraphStyle("center-bold", parent=CENTER, fontName="Helvetica-Bold")
TITLE = ParagraphStyle(
    "title", parent=CENTER_BOLD, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=2
)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8.8, leading=11)
CELL_HEAD = ParagraphStyle("cell-head", parent=CELL, fontName="Helvetica-Bold", alignment=TA_CENTER)
CELL_MONO = ParagraphStyle("cell-mono", parent=CELL, fontName=MONO, fontSize=8.2)
_GOVERNMENT = ParagraphStyle("gov", parent=CENTER_BOLD, fontSize=14, leading=17)
_AGENCY = ParagraphStyle("agency", parent=CENTER_BOLD, fontSize=16, leading=20)
_CONTACT = ParagraphStyle("contact", parent=CENTER, fontSize=9, leading=11.5)
GRID = [
    ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 4),
    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
]
HEAD_FILL = colors.HexColor("#e6e6e6")


def esc(text: str) -> str:
    """Escape text for reportlab's paragraph markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def letterhead(head: Letterhead, lines: Sequence[str]) -> list[Flowable]:
    """Return the kop surat: government, agency, contact lines and the double rule under them."""
    return [
        Paragraph(esc(head.government.upper()), _GOVERNMENT),
        Paragraph(esc(head.agency.upper()), _AGENCY),
        *(Paragraph(esc(line), _CONTACT) for line in lines),
        Spacer(1, 3),
        HRFlowable(width="100%", thickness=2.2, color=colors.black, spaceAfter=1.2),
        HRFlowable(width="100%", thickness=0.6, color=colors.black, spaceAfter=6),
    ]


class QrCode(Flowable):  # type: ignore[misc]
    """A QR code drawn as vector squares, so it stays sharp at any print resolution."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        self.matrix = qr_matrix(payload)
        self.size = size
        self.width = self.height = size

    def wrap(self, *_available: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        canvas: Any = self.canv
        module = self.size / len(self.matrix)
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        last = len(self.matrix) - 1
        for row_index, row in enumerate(self.matrix):
            y = (last - row_index) * module
            for column, dark in enumerate(row):
                if dark:
                    canvas.rect(column * module, y, module, module, stroke=0, fill=1)


def _footer_canvas(footer_left: str) -> type[Canvas]:
    """Build a canvas class that writes the footer once the page count is known."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._draw_footer(number, total)
                super().showPage()
            super().save()

        def _draw_footer(self, number: int, total: int) -> None:
            y = MARGIN_BOTTOM - 0.9 * cm
            self.setLineWidth(0.4)
            self.line(MARGIN_LEFT, y + 11, PAGE_WIDTH - MARGIN_RIGHT, y + 11)
            self.setFont("Helvetica", 8.5)
            self.drawString(MARGIN_LEFT, y, footer_left)
            self.drawRightString(PAGE_WIDTH - MARGIN_RIGHT, y, f"Halaman {number} dari {total}")

    return NumberedCanvas


def build_pdf(story: list[Flowable], *, title: str, subject: str, footer: str) -> bytes:
    """Lay out the story on A4 with the numbered footer and return the PDF bytes."""
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_LEFT,
        rightMargin=MARGIN_RIGHT,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        subject=subject,
        author="Saksi",
        creator="Saksi",
        lang="id-ID",
        invariant=True,
    )
    template.build(story, canvasmaker=_footer_canvas(footer))
    return buffer.getvalue()
