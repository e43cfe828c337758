"""The BAST as an editable DOCX: real paragraphs and a real table, the same words as the PDF."""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from app.handover import _content as content
from app.handover.document import BastDocument, Checkpoint, ClipRow
from app.handover.qr import qr_png

_FONT = "Arial"
_MONO = "Courier New"
_MONO_SIZE = Pt(8)
_COLUMN_WIDTHS = (Cm(0.9), Cm(2.4), Cm(3.1), Cm(3.5), Cm(2.6), Cm(4.0))


def render_bast_docx(doc: BastDocument) -> bytes:
    """Render the BAST and its integrity annex as an editable DOCX."""
    document = Document()
    _page_setup(document, doc.number)
    _letterhead(document, doc)
    _template_part(document, doc)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _annex(document, doc)
    document.core_properties.title = f"{content.TITLE} {doc.number}"
    document.core_properties.author = "Saksi"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _page_setup(document: DocxDocument, number: str) -> None:
    style = document.styles["Normal"]
    style.font.name = _FONT
    style.font.size = Pt(10.5)
    style.paragraph_format.space_after = Pt(2)
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin, section.right_margin = Cm(2.5), Cm(2.0)
    section.top_margin, section.bottom_margin = Cm(1.5), Cm(2.0)
    footer = section.footer.paragraphs[0]
    footer.paragraph_format.tab_stops.add_tab_stop(Cm(16.5), WD_TAB_ALIGNMENT.RIGHT)
    footer.add_run(f"BAST Nomor: {number}\tHalaman ").font.size = Pt(8.5)
    _field(footer, "PAGE")
    footer.add_run(" dari ").font.size = Pt(8.5)
    _field(footer, "NUMPAGES")


def _field(paragraph: Paragraph, instruction: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) that Word updates when it lays out the pages."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _paragraph(
    document: DocxDocument, text: str = "", *, bold: bool = False, center: bool = False
) -> Paragraph:
    paragraph = document.add_paragraph()
    if text:
        paragraph.add_run(text).bold = bold
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return paragraph


def _letterhead(document: DocxDocument, doc: BastDocument) -> None:
    head = doc.letterhead
    _paragraph(document, head.government.upper(), bold=True, center=True).runs[0].font.size = Pt(14)
    _paragraph(document, head.agency.upper(), bold=True, center=True).runs[0].font.size = Pt(16)
    for line in content.letterhead_lines(head):
        _paragraph(document, line, center=True).runs[0].font.size = Pt(9)
    _bottom_rule(document.paragraphs[-1])


def _bottom_rule(paragraph: Paragraph) -> None:
    """Draw the kop surat's double rule as the paragraph's bottom border."""
    properties = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "thinThickSmallGap"), ("w:sz", "18"), ("w:space", "4")):
        bottom.set(qn(key), value)
    bottom.set(qn("w:color"), "000000")
    borders.append(bottom)
    properties.append(borders)


def _template_part(document: DocxDocument, doc: BastDocument) -> None:
    _paragraph(document)
    _paragraph(document, content.TITLE, bold=True, center=True).runs[0].font.size = Pt(12.5)
    _paragraph(document, f"Nomor: {doc.number}", center=True)
    before, place, after = content.opening(doc)
    opening = _paragraph(document, before)
    opening.add_run(place).bold = True
    opening.add_run(after)
    opening.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _party(document, "PIHAK PERTAMA (Pemberi Rekaman)", content.pihak_pertama(doc))
    _party(document, "PIHAK KEDUA (Penerima Rekaman)", content.pihak_kedua(doc))
    _paragraph(document, "Rincian Rekaman :")
    _details_table(document, doc)
    _paragraph(document)
    for number, text in enumerate(content.statements(doc), start=1):
        item = _paragraph(document, f"{number}.\t{text}")
        item.paragraph_format.left_indent = Cm(0.7)
        item.paragraph_format.first_line_indent = Cm(-0.7)
    if doc.via_google_drive:
        _paragraph(document, content.DRIVE_NOTE).runs[0].italic = True
    _paragraph(document, content.CLOSING)
    _signatures(document, doc)


def _party(document: DocxDocument, heading: str, lines: list[tuple[str, str]]) -> None:
    _paragraph(document, heading, bold=True).paragraph_format.space_before = Pt(6)
    for label, value in lines:
        line = _paragraph(document, f"{label}\t: {value}")
        line.paragraph_format.tab_stops.add_tab_stop(Cm(2.4))
        line.paragraph_format.space_after = Pt(0)


def _details_table(document: DocxDocument, doc: BastDocument) -> None:
    rows = content.table_rows(doc)
    table = document.add_table(rows=1 + len(rows), cols=len(_COLUMN_WIDTHS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for column, title in enumerate(content.table_header(doc)):
        cell = table.rows[0].cells[column]
        cell.text = title
        cell.paragraphs[0].runs[0].bold = True
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for row_index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            table.rows[row_index].cells[column].text = value
    _set_widths(table, _COLUMN_WIDTHS)
    _shrink(table, Pt(9))


def _set_widths(table: Table, widths: tuple[Cm, ...] | tuple[int, ...]) -> None:
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def _shrink(table: Table, size: Pt) -> None:
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.space_after = Pt(0)
                for run in paragraph.runs:
                    run.font.size = size


def _signatures(document: DocxDocument, doc: BastDocument) -> None:
    first, second, known = content.signatures(doc)
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _sign_cell(table.rows[0].cells[0], first, "")
    _sign_cell(table.rows[0].cells[1], second, content.place_and_date(doc))
    known_table = document.add_table(rows=1, cols=1)
    known_table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _sign_cell(known_table.rows[0].cells[0], known, "")


def _sign_cell(cell: _Cell, block: content.SignatureBlock, dateline: str) -> None:
    lines = [dateline, block.heading, "", "", "", block.name]
    if block.id_line:
        lines.append(block.id_line)
    lines.append(block.role)
    cell.text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)
    for paragraph in cell.paragraphs:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
    cell.paragraphs[1].runs[0].bold = True
    cell.paragraphs[5].runs[0].bold = True
    cell.paragraphs[5].runs[0].underline = True


def _annex(document: DocxDocument, doc: BastDocument) -> None:
    _paragraph(document, content.ANNEX_TITLE, bold=True, center=True).runs[0].font.size = Pt(12.5)
    _paragraph(document, f"BAST Nomor: {doc.number}", center=True)
    _paragraph(document, content.ANNEX_INTRO).alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    for index, clip in content.numbered_clips(doc):
        _clip_table(document, doc, index, clip)
        _paragraph(document)
    if doc.checkpoint is not None:
        _checkpoint(document, doc.checkpoint)
        _paragraph(document)
    _paragraph(document, "Verifikasi BAST ini", bold=True)
    document.add_picture(io.BytesIO(qr_png(doc.verification_url)), width=Cm(3.6))
    _paragraph(document, content.QR_CAPTION)
    _mono(_paragraph(document, doc.verification_url))


def _clip_table(document: DocxDocument, doc: BastDocument, index: int, clip: ClipRow) -> None:
    entries = [("SHA-256", clip.sha256), *content.annex_entries(doc, clip)]
    table = _key_value_table(document, f"Rekaman {index}", entries)
    _mono(table.rows[1].cells[1].paragraphs[0])


def _checkpoint(document: DocxDocument, checkpoint: Checkpoint) -> None:
    entries = [
        ("Origin", checkpoint.origin),
        ("Ukuran pohon", str(checkpoint.tree_size)),
        ("Akar (base64)", checkpoint.root),
        ("Checkpoint paket", checkpoint.relation_to_package() or "—"),
    ]
    table = _key_value_table(document, "Checkpoint log custody (saat serah terima)", entries)
    _mono(table.rows[3].cells[1].paragraphs[0])
    _paragraph(document, "Catatan bertanda tangan (Ed25519):", bold=True)
    for line in checkpoint.signed_note.rstrip("\n").split("\n"):
        note = _mono(_paragraph(document, line), Pt(7))
        note.paragraph_format.space_after = Pt(0)


def _key_value_table(document: DocxDocument, title: str, entries: list[tuple[str, str]]) -> Table:
    table: Table = document.add_table(rows=1 + len(entries), cols=2)
    table.style = "Table Grid"
    merged = table.rows[0].cells[0].merge(table.rows[0].cells[1])
    merged.text = title
    merged.paragraphs[0].runs[0].bold = True
    for row, (label, value) in zip(table.rows[1:], entries, strict=True):
        row.cells[0].text = label
        row.cells[1].text = value
    _set_widths(table, (Cm(3.4), Cm(13.1)))
    _shrink(table, Pt(9))
    return table


def _mono(paragraph: Paragraph, size: Pt = _MONO_SIZE) -> Paragraph:
    for run in paragraph.runs:
        run.font.name = _MONO
        run.font.size = size
    return paragraph
