"""The words of a BAST, shared by the PDF and the DOCX so both print the same text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.handover.document import (
    BastDocument,
    ClipRow,
    Gap,
    Letterhead,
    Party,
    UnavailableRow,
)
from app.handover.terbilang import date_in_words, format_date, local_date

TITLE = "BERITA ACARA SERAH TERIMA REKAMAN CCTV"
ANNEX_TITLE = "Lampiran: Data Integritas Rekaman"
TABLE_HEADER = (
    "No",
    "Tanggal Rekaman",
    "Waktu Rekaman ({zone})",
    "Lokasi/Titik CCTV",
    "Media Penyimpanan *",
    "Keterangan",
)
DRIVE_NOTE = (
    "*Catatan: Rekaman CCTV pada Google Drive hanya tersedia selama 14 (empat belas) hari "
    "sejak penyerahan dan akan dihapus setelahnya."
)
CLOSING = (
    "Demikian Berita Acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana mestinya."
)
DEFAULT_OPERATOR_POSITION = "Staf/Operator Pengelola CCTV"
UNAVAILABLE = "Tidak ada rekaman yang diserahkan."


@dataclass(frozen=True)
class SignatureBlock:
    """One signature column: heading, the signer's name and id, and the role in brackets."""

    heading: str
    name: str
    id_line: str | None
    role: str


def letterhead_lines(head: Letterhead) -> tuple[str, str, str]:
    """Return the address, contact and city lines under the agency's name."""
    return (
        f"{head.address}, Telp. {head.phone}",
        f"Website : {head.website}   e-mail : {head.email}",
        f"{head.city.upper()} – {head.postal_code}",
    )


def opening(doc: BastDocument) -> tuple[str, str, str]:
    """Return the ``Pada hari ini, …`` sentence split around its bold place name."""
    day = local_date(doc.handover_at, doc.zone)
    return (
        f"Pada hari ini, {date_in_words(day)}, bertempat di ",
        doc.place,
        ", kami yang bertanda tangan di bawah ini:",
    )


def pihak_pertama(doc: BastDocument) -> list[tuple[str, str]]:
    """Return the PIHAK PERTAMA lines (label, value) in the template's order."""
    party = doc.pihak_pertama
    return [
        ("Nama", party.name),
        ("Jabatan", party.position or DEFAULT_OPERATOR_POSITION),
        ("Instansi", party.institution or doc.office_name),
    ]


def pihak_kedua(doc: BastDocument) -> list[tuple[str, str]]:
    """Return the PIHAK KEDUA lines (label, value) in the template's order."""
    party = doc.pihak_kedua
    return [
        ("Nama", party.name),
        ("NIP/NIK", _identity(party)),
        ("Jabatan", party.position or "-"),
        ("Instansi", party.institution or "-"),
    ]


def _identity(party: Party) -> str:
    if not party.id_number:
        return "-"
    if party.id_kind == "NRP":
        return f"NRP {party.id_number}"
    return party.id_number


def table_header(doc: BastDocument) -> list[str]:
    """Return the column titles of *Rincian Rekaman*."""
    return [cell.format(zone=doc.zone_label) for cell in TABLE_HEADER]


def table_rows(doc: BastDocument) -> list[list[str]]:
    """Return one row of *Rincian Rekaman* per requested item, in the letter's order.

    An item nothing was handed over of keeps its row, its medium "-" and the reason in
    *Keterangan*: the recipient signs for what is listed, and nothing requested goes unmentioned.
    """
    return [_row(doc, index, item) for index, item in enumerate(_in_letter_order(doc), start=1)]


def numbered_clips(doc: BastDocument) -> list[tuple[int, ClipRow]]:
    """Each clip with the number of its row in *Rincian Rekaman*, for the annex to match."""
    numbered = enumerate(_in_letter_order(doc), start=1)
    return [(index, item) for index, item in numbered if isinstance(item, ClipRow)]


def _in_letter_order(doc: BastDocument) -> list[ClipRow | UnavailableRow]:
    return sorted((*doc.rows, *doc.unavailable), key=lambda row: row.order)


def _row(doc: BastDocument, index: int, item: ClipRow | UnavailableRow) -> list[str]:
    """A clip's row gives the window it delivers (a partial clip ends before the window asked
    for: the recipient signs for what they get); an unavailable item's, the window asked for."""
    start, end = item.start_at, item.end_at
    if isinstance(item, ClipRow):
        start, end = item.delivered_start_at or start, item.delivered_end_at or end
    start, end = start.astimezone(doc.zone), end.astimezone(doc.zone)
    window = f"{start:%H:%M:%S}–{end:%H:%M:%S}"
    if end.date() != start.date():
        window = f"{start:%H:%M:%S}–{format_date(end.date())} {end:%H:%M:%S}"
    head = [str(index), format_date(start.date()), window, item.camera_location]
    if isinstance(item, UnavailableRow):
        return [*head, "-", f"{UNAVAILABLE} {item.reason.rstrip('.')}."]
    remarks = (item.remarks, remarks_from_gaps(doc, item))
    return [*head, item.storage_medium, "; ".join(part for part in remarks if part) or "-"]


def remarks_from_gaps(doc: BastDocument, clip: ClipRow) -> str:
    """Describe the clip's gaps in the office's words, or return an empty string."""
    if not clip.gaps:
        return ""
    spans = ", ".join(gap_span(doc, gap) for gap in clip.gaps)
    return f"terdapat jeda rekaman {spans} {doc.zone_label}"


def gap_span(doc: BastDocument, gap: Gap) -> str:
    """Write a gap as ``10:03:12–10:04:40`` in the office's zone."""
    return f"{_clock(doc, gap.start_at)}–{_clock(doc, gap.end_at)}"


def _clock(doc: BastDocument, moment: datetime) -> str:
    return f"{moment.astimezone(doc.zone):%H:%M:%S}"


def statements(doc: BastDocument) -> list[str]:
    """Return statements 1–4 filled from the request."""
    return [
        "Rekaman CCTV diserahkan sesuai surat permohonan nomor "
        f"{doc.letter_number} tanggal {format_date(doc.letter_date)}.",
        f"Rekaman CCTV digunakan untuk kepentingan {doc.purpose}.",
        "Rekaman CCTV hanya digunakan sesuai dengan peruntukannya.",
        "Pihak Kedua menyatakan telah menerima rekaman CCTV dalam keadaan baik dan lengkap.",
    ]


def place_and_date(doc: BastDocument) -> str:
    """Return ``Sumber, 22 November 2026``."""
    return f"{doc.letterhead.city}, {format_date(local_date(doc.handover_at, doc.zone))}"


def signatures(doc: BastDocument) -> tuple[SignatureBlock, SignatureBlock, SignatureBlock]:
    """Return the Pihak Pertama, Pihak Kedua and Mengetahui blocks."""
    first, second, known = doc.pihak_pertama, doc.pihak_kedua, doc.mengetahui
    return (
        SignatureBlock("Pihak Pertama", first.name, _id_line(first), "( Staf/Operator CCTV )"),
        SignatureBlock("Pihak Kedua", second.name, _id_line(second), "( Pemohon )"),
        SignatureBlock(
            "Mengetahui",
            known.name,
            _id_line(known),
            f"( {known.position or 'Subkoordinator Bidang TI'} )",
        ),
    )


def _id_line(party: Party) -> str | None:
    return f"{party.id_kind}. {party.id_number}" if party.id_number else None


def size_text(size_bytes: int) -> str:
    """Write a size in bytes with Indonesian digit grouping and a binary unit."""
    grouped = f"{size_bytes:,}".replace(",", ".")
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size_bytes >= scale:
            scaled = f"{size_bytes / scale:.1f}".replace(".", ",")
            return f"{grouped} bita ({scaled} {unit})"
    return f"{grouped} bita"


def offset_text(seconds: float | None) -> str:
    """Write the NVR clock offset (NVR minus server) in seconds."""
    if seconds is None:
        return "tidak diukur"
    sign = "+" if seconds >= 0 else "-"
    value = f"{abs(seconds):.3f}".replace(".", ",")
    return f"{sign}{value} detik (jam NVR dikurangi jam server)"


def annex_entries(doc: BastDocument, clip: ClipRow) -> list[tuple[str, str]]:
    """Return the annex lines of one clip (label, value); the hash comes separately."""
    return [
        ("Lokasi/Titik CCTV", clip.camera_location),
        ("Berkas", clip.file_name or "-"),
        ("Ukuran", size_text(clip.size_bytes)),
        ("Rentang terkirim", delivered_window(doc, clip)),
        ("Jeda rekaman", _gap_list(doc, clip)),
        ("Selisih jam NVR", offset_text(clip.clock_offset_seconds)),
    ]


def delivered_window(doc: BastDocument, clip: ClipRow) -> str:
    """Write the delivered window in the office's zone."""
    start = clip.delivered_start_at or clip.start_at
    end = clip.delivered_end_at or clip.end_at
    first, last = start.astimezone(doc.zone), end.astimezone(doc.zone)
    return (
        f"{format_date(first.date())} {first:%H:%M:%S} – "
        f"{format_date(last.date())} {last:%H:%M:%S} {doc.zone_label}"
    )


def _gap_list(doc: BastDocument, clip: ClipRow) -> str:
    if not clip.gaps:
        return "tidak ada"
    return ", ".join(gap_span(doc, gap) for gap in clip.gaps) + f" {doc.zone_label}"


ANNEX_INTRO = (
    "Lampiran ini merupakan bagian yang tidak terpisahkan dari Berita Acara Serah Terima. "
    "Nilai SHA-256 setiap berkas dapat dicocokkan oleh Pihak Kedua dengan perintah "
    "sha256sum (Linux) atau certutil -hashfile <berkas> SHA256 (Windows). Checkpoint di bawah "
    "ini ditandatangani secara elektronik dan mengikat seluruh catatan rantai bukti (chain of "
    "custody) sampai saat serah terima."
)
QR_CAPTION = (
    "Pindai kode QR untuk membuka halaman verifikasi publik BAST ini dan mencocokkan nomor, "
    "nilai hash, dan checkpoint di atas:"
)
