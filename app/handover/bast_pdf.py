"""The BAST as a printable PDF: the office template in its order and wording, then the annex."""

from __future__ import annotations

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import cm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
    TableStyle,
)

from app.handover import _content as content
from app.handover._pdf import (
    BODY,
    BOLD,
    CELL,
    CELL_HEAD,
    CELL_MONO,
    CENTER,
    CENTER_BOLD,
    GRID,
    HEAD_FILL,
    JUSTIFIED,
    MONO,
    TEXT_WIDTH,
    TITLE,
    QrCode,
    build_pdf,
    esc,
    letterhead,
)
from app.handover.document import BastDocument, Checkpoint, ClipRow

_COLUMNS = [0.8 * cm, 2.3 * cm, 3.1 * cm, 3.4 * cm, 2.8 * cm]
_COLUMNS.append(TEXT_WIDTH - sum(_COLUMNS))
_LABEL_WIDTH = 3.4 * cm
_QR_SIZE = 3.2 * cm
_COMPACT = [("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5)]


def render_bast_pdf(doc: BastDocument) -> bytes:
    """Render the BAST and its integrity annex as an A4 PDF."""
    story = [*_template_part(doc), PageBreak(), *_annex(doc)]
    return build_pdf(
        story,
        title=f"{content.TITLE} {doc.number}",
        subject=f"Berita Acara Serah Terima Nomor {doc.number}",
        footer=f"BAST Nomor: {doc.number}",
    )


def _template_part(doc: BastDocument) -> list[Flowable]:
    story: list[Flowable] = [
        *letterhead(doc.letterhead, content.letterhead_lines(doc.letterhead)),
        Paragraph(esc(content.TITLE), TITLE),
        Paragraph(f"Nomor: {esc(doc.number)}", CENTER),
        Spacer(1, 8),
        _opening(doc),
        Spacer(1, 6),
        *_party("PIHAK PERTAMA (Pemberi Rekaman)", content.pihak_pertama(doc)),
        *_party("PIHAK KEDUA (Penerima Rekaman)", content.pihak_kedua(doc)),
        Paragraph("Rincian Rekaman :", BODY),
        Spacer(1, 3),
        _details_table(doc),
        Spacer(1, 8),
        *_statements(doc),
    ]
    if doc.via_google_drive:
        story += [Spacer(1, 4), Paragraph(esc(content.DRIVE_NOTE), _NOTE)]
    # The closing sentence travels with the signatures: a signature page never stands alone.
    closing = [Spacer(1, 6), Paragraph(esc(content.CLOSING), JUSTIFIED), Spacer(1, 10)]
    story.append(KeepTogether([*closing, *_signatures(doc)]))
    return story


def _opening(doc: BastDocument) -> Paragraph:
    before, place, after = content.opening(doc)
    return Paragraph(f"{esc(before)}<b>{esc(place)}</b>{esc(after)}", JUSTIFIED)


_NOTE = ParagraphStyle("note", parent=JUSTIFIED, fontName="Helvetica-Oblique", fontSize=9.5)


def _party(heading: str, lines: list[tuple[str, str]]) -> list[Flowable]:
    rows = [[label, ":", Paragraph(esc(value), BODY)] for label, value in lines]
    table = Table(rows, colWidths=[2.4 * cm, 0.4 * cm, TEXT_WIDTH - 2.8 * cm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (1, -1), "Helvetica", 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
            ]
        )
    )
    return [Paragraph(esc(heading), BOLD), table, Spacer(1, 8)]


def _details_table(doc: BastDocument) -> Table:
    header = [Paragraph(esc(cell), CELL_HEAD) for cell in content.table_header(doc)]
    body = [[Paragraph(esc(cell), CELL) for cell in row] for row in content.table_rows(doc)]
    table = Table([header, *body], colWidths=_COLUMNS, repeatRows=1)
    table.setStyle(TableStyle([*GRID, ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL)]))
    return table


def _statements(doc: BastDocument) -> list[Flowable]:
    rows = [
        [f"{number}.", Paragraph(esc(text), JUSTIFIED)]
        for number, text in enumerate(content.statements(doc), start=1)
    ]
    table = Table(rows, colWidths=[0.7 * cm, TEXT_WIDTH - 0.7 * cm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (0, -1), "Helvetica", 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return [table]


def _signatures(doc: BastDocument) -> list[Flowable]:
    first, second, known = content.signatures(doc)
    half = TEXT_WIDTH / 2
    pair = Table(
        [
            ["", Paragraph(esc(content.place_and_date(doc)), CENTER)],
            [Paragraph(first.heading, CENTER_BOLD), Paragraph(second.heading, CENTER_BOLD)],
            ["", ""],
            [_signer(first), _signer(second)],
        ],
        colWidths=[half, half],
        rowHeights=[None, None, 1.7 * cm, None],
    )
    single = Table(
        [
            [Paragraph(known.heading, CENTER_BOLD)],
            [""],
            [_signer(known)],
        ],
        colWidths=[half],
        rowHeights=[None, 1.7 * cm, None],
    )
    return [pair, Spacer(1, 8), single]


def _signer(block: content.SignatureBlock) -> list[Flowable]:
    lines = [Paragraph(f"<b><u>{esc(block.name)}</u></b>", CENTER)]
    if block.id_line:
        lines.append(Paragraph(esc(block.id_line), CENTER))
    lines.append(Paragraph(esc(block.role), CENTER))
    return lines


def _annex(doc: BastDocument) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(esc(content.ANNEX_TITLE), TITLE),
        Paragraph(f"BAST Nomor: {esc(doc.number)}", CENTER),
        Spacer(1, 8),
        Paragraph(esc(content.ANNEX_INTRO), JUSTIFIED),
        Spacer(1, 8),
    ]
    for index, clip in content.numbered_clips(doc):
        story += [KeepTogether(_clip_table(doc, index, clip)), Spacer(1, 8)]
    if doc.checkpoint is not None:
        story += [KeepTogether(_checkpoint(doc.checkpoint)), Spacer(1, 6)]
    story.append(KeepTogether(_qr_block(doc)))
    return story


def _clip_table(doc: BastDocument, index: int, clip: ClipRow) -> Table:
    rows: list[list[object]] = [[Paragraph(f"Rekaman {index}", CELL_HEAD), ""]]
    rows.append([Paragraph("SHA-256", CELL), Paragraph(clip.sha256, CELL_MONO)])
    rows += [
        [Paragraph(label, CELL), Paragraph(esc(value), CELL)]
        for label, value in content.annex_entries(doc, clip)
    ]
    table = Table(rows, colWidths=[_LABEL_WIDTH, TEXT_WIDTH - _LABEL_WIDTH])
    table.setStyle(
        TableStyle(
            [
                *GRID,
                *_COMPACT,
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
            ]
        )
    )
    return table


def _checkpoint(checkpoint: Checkpoint) -> list[Flowable]:
    note = checkpoint.signed_note.rstrip("\n")
    longest = max(len(line) for line in note.splitlines())
    # Shrink the note to fit one line per note line: a wrapped signed note no longer verifies.
    size = min(8.0, (TEXT_WIDTH - 12) / (0.6 * max(longest, 1)))
    note_style = ParagraphStyle("note-mono", fontName=MONO, fontSize=size, leading=size * 1.3)
    rows = [
        [Paragraph("<b>Checkpoint log custody (saat serah terima)</b>", CELL), ""],
        [Paragraph("Origin", CELL), Paragraph(esc(checkpoint.origin), CELL_MONO)],
        [Paragraph("Ukuran pohon", CELL), Paragraph(str(checkpoint.tree_size), CELL)],
        [Paragraph("Akar (base64)", CELL), Paragraph(esc(checkpoint.root), CELL_MONO)],
        [Paragraph("Checkpoint paket", CELL),
         Paragraph(esc(checkpoint.relation_to_package() or "—"), CELL)],
        [Paragraph("Catatan bertanda tangan (Ed25519)", CELL), ""],
        [Preformatted(note, note_style), ""],
    ]  # fmt: skip
    table = Table(rows, colWidths=[_LABEL_WIDTH, TEXT_WIDTH - _LABEL_WIDTH])
    spans = [("SPAN", (0, 0), (-1, 0)), ("SPAN", (0, 5), (-1, 5)), ("SPAN", (0, 6), (-1, 6))]
    table.setStyle(
        TableStyle([*GRID, *_COMPACT, *spans, ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL)])
    )
    return [table]


def _qr_block(doc: BastDocument) -> list[Flowable]:
    caption = [
        Paragraph("<b>Verifikasi BAST ini</b>", BODY),
        Paragraph(esc(content.QR_CAPTION), JUSTIFIED),
        Paragraph(esc(doc.verification_url), CELL_MONO),
    ]
    table = Table(
        [[QrCode(doc.verification_url, _QR_SIZE), caption]],
        colWidths=[_QR_SIZE + 0.4 * cm, TEXT_WIDTH - _QR_SIZE - 0.4 * cm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
            ]
        )
    )
    return [table]
