"""The berita acara pemusnahan: the record that a delivery was purged, file by file."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib.units import cm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.handover._content import letterhead_lines, size_text
from app.handover._pdf import (
    BODY,
    CELL,
    CELL_HEAD,
    CENTER,
    CENTER_BOLD,
    GRID,
    HEAD_FILL,
    JUSTIFIED,
    TEXT_WIDTH,
    TITLE,
    build_pdf,
    esc,
    letterhead,
)
from app.handover.document import DestructionRecord, Party, zone_label
from app.handover.terbilang import date_in_words, format_date

DESTRUCTION_TITLE = "BERITA ACARA PEMUSNAHAN REKAMAN CCTV"
_FILE_COLUMNS = [0.8 * cm, 6.0 * cm, 4.6 * cm]
_FILE_COLUMNS.append(TEXT_WIDTH - sum(_FILE_COLUMNS))


def render_destruction_pdf(record: DestructionRecord) -> bytes:
    """Render the destruction record of one purged delivery as an A4 PDF."""
    story: list[Flowable] = [
        *letterhead(record.letterhead, letterhead_lines(record.letterhead)),
        Paragraph(esc(DESTRUCTION_TITLE), TITLE),
        Paragraph(f"Nomor: {esc(record.reference)}", CENTER),
        Spacer(1, 8),
        Paragraph(esc(_opening(record)), JUSTIFIED),
        Spacer(1, 6),
        _facts(record),
        Spacer(1, 8),
        Paragraph("Rincian berkas yang dihapus :", BODY),
        Spacer(1, 3),
        _files(record),
        Spacer(1, 8),
        Paragraph(esc(_closing(record)), JUSTIFIED),
        Spacer(1, 10),
        KeepTogether(_signatures(record)),
    ]
    return build_pdf(
        story,
        title=f"{DESTRUCTION_TITLE} {record.reference}",
        subject=f"Berita Acara Pemusnahan Nomor {record.reference}",
        footer=f"BA Pemusnahan Nomor: {record.reference}",
    )


def _local(record: DestructionRecord, moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(record.office_zone))
    return f"{format_date(local.date())} pukul {local:%H:%M:%S} {zone_label(record.office_zone)}"


def _opening(record: DestructionRecord) -> str:
    day = record.purged_at.astimezone(ZoneInfo(record.office_zone)).date()
    return (
        f"Pada hari ini, {date_in_words(day)}, bertempat di {record.place}, telah dilakukan "
        "pemusnahan (penghapusan permanen) rekaman CCTV yang sebelumnya diserahkan, karena "
        f"{record.reason}, dengan keterangan sebagai berikut:"
    )


def _facts(record: DestructionRecord) -> Table:
    facts = [
        ("Nomor permohonan", record.request_number),
        ("Nomor surat permohonan", record.letter_number or "-"),
        ("Nomor BAST terkait", record.bast_number or "-"),
        ("Media penyerahan", record.delivery_method),
        ("Rujukan penyerahan", record.delivery_reference),
        ("Diserahkan", _local(record, record.delivered_at)),
        ("Batas ketersediaan", _local(record, record.expires_at)),
        ("Dimusnahkan", _local(record, record.purged_at)),
        ("Oleh tugas terjadwal", f"{record.job_name} (id {record.job_id})"),
    ]
    rows = [[label, ":", Paragraph(esc(value), BODY)] for label, value in facts]
    table = Table(rows, colWidths=[4.4 * cm, 0.4 * cm, TEXT_WIDTH - 4.8 * cm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (1, -1), "Helvetica", 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return table


# What the purge knows of each file, in the record's words.
OUTCOMES = {
    "deleted": "dihapus",
    "verified_absent": "sudah tidak ada (diperiksa)",
    "not_verified": "tidak dapat dipastikan",
}


def _files(record: DestructionRecord) -> Table:
    header = ["No", "Nama berkas", "Ukuran", "Dihapus / diperiksa"]
    rows: list[list[object]] = [[Paragraph(title, CELL_HEAD) for title in header]]
    spans: list[tuple[object, ...]] = []
    for index, item in enumerate(record.files, start=1):
        deleted = item.deleted_at.astimezone(ZoneInfo(record.office_zone))
        rows.append(
            [
                Paragraph(str(index), CELL),
                Paragraph(esc(item.file_name), CELL),
                Paragraph(esc(size_text(item.size_bytes)), CELL),
                Paragraph(
                    f"{format_date(deleted.date())} {deleted:%H:%M:%S}"
                    f"<br/>{OUTCOMES[item.outcome]}",
                    CELL,
                ),  # fmt: skip
            ]
        )
        # The hash gets a row of its own: 64 characters must stay on one line to be compared.
        rows.append(["", Paragraph(f"SHA-256: <font name='Courier'>{item.sha256}</font>", CELL)])
        spans += [("SPAN", (1, len(rows) - 1), (-1, len(rows) - 1))]
        spans += [("SPAN", (0, len(rows) - 2), (0, len(rows) - 1))]
    table = Table(rows, colWidths=_FILE_COLUMNS, repeatRows=1)
    table.setStyle(TableStyle([*GRID, *spans, ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL)]))
    return table


# The closing sentence states only what the purge established, outcome by outcome (issue 16:
# a record once listed as deleted a file that was merely invisible to Saksi).
_CLOSING_PARTS = {
    "deleted": "{n} berkas dihapus dari media penyerahan",
    "verified_absent": "{n} berkas sudah tidak ada saat diperiksa (foldernya masih dapat diakses)",
    "not_verified": "{n} berkas tidak dapat dipastikan keberadaannya",
}


def _closing(record: DestructionRecord) -> str:
    counts = {key: sum(1 for f in record.files if f.outcome == key) for key in _CLOSING_PARTS}
    parts = [_CLOSING_PARTS[key].format(n=n) for key, n in counts.items() if n]
    return (
        f"Dari {len(record.files)} berkas di atas, {'; '.join(parts)}; tautan aksesnya telah "
        "dicabut. Nilai SHA-256 dicantumkan agar salinan yang mungkin masih beredar dapat "
        "dikenali. Demikian Berita Acara ini dibuat dengan sebenarnya untuk dipergunakan "
        "sebagaimana mestinya."
    )


def _signatures(record: DestructionRecord) -> list[Flowable]:
    place = record.letterhead.city
    day = record.purged_at.astimezone(ZoneInfo(record.office_zone)).date()
    half = TEXT_WIDTH / 2
    table = Table(
        [
            ["", Paragraph(f"{esc(place)}, {format_date(day)}", CENTER)],
            [Paragraph("Petugas", CENTER_BOLD), Paragraph("Mengetahui", CENTER_BOLD)],
            ["", ""],
            [
                _signer(record.petugas, "( Staf/Operator CCTV )"),
                _signer(record.mengetahui, "( Subkoordinator Bidang TI )"),
            ],
        ],
        colWidths=[half, half],
        rowHeights=[None, None, 1.7 * cm, None],
    )
    return [table]


def _signer(party: Party | None, role: str) -> list[Flowable]:
    name = party.name if party else "...................................."
    lines = [Paragraph(f"<b><u>{esc(name)}</u></b>", CENTER)]
    if party and party.id_number:
        lines.append(Paragraph(f"{party.id_kind}. {esc(party.id_number)}", CENTER))
    if party and party.position:
        role = f"( {party.position} )"
    lines.append(Paragraph(esc(role), CENTER))
    return lines
