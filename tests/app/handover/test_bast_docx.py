"""The editable BAST, read back with python-docx: real paragraphs, a real table, a real picture."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import cv2
import docx
import numpy as np
import pytest
from docx.document import Document as DocxDocument

from app.handover.bast_docx import render_bast_docx
from app.handover.document import UnavailableRow
from tests.app.handover.fixtures import (
    VERIFICATION_URL,
    bast_document,
    clip_rows,
    signed_checkpoint,
)

DRIVE_NOTE = "Rekaman CCTV pada Google Drive hanya tersedia selama 14 (empat belas) hari"


@pytest.fixture(scope="module")
def document() -> DocxDocument:
    return docx.Document(io.BytesIO(render_bast_docx(bast_document())))


def _paragraphs(document: DocxDocument) -> list[str]:
    return [paragraph.text for paragraph in document.paragraphs]


def _all_text(document: DocxDocument) -> str:
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(_paragraphs(document) + cells)


def test_template_paragraphs_in_order(document: DocxDocument) -> None:
    paragraphs = _paragraphs(document)
    ordered = [
        "PEMERINTAH KABUPATEN CIREBON",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
        "BERITA ACARA SERAH TERIMA REKAMAN CCTV",
        "Nomor: 007/BAST/2026",
        "Pada hari ini, Minggu tanggal dua puluh dua bulan November tahun dua ribu dua puluh "
        "enam, bertempat di Dinas Komunikasi dan Informatika Kabupaten Cirebon, kami yang "
        "bertanda tangan di bawah ini:",
        "PIHAK PERTAMA (Pemberi Rekaman)",
        "Nama\t: Rizky Maulana",
        "PIHAK KEDUA (Penerima Rekaman)",
        "NIP/NIK\t: NRP 85071234",
        "Rincian Rekaman :",
        "1.\tRekaman CCTV diserahkan sesuai surat permohonan nomor B/123/XI/2026/Reskrim "
        "tanggal 20 November 2026.",
        "3.\tRekaman CCTV hanya digunakan sesuai dengan peruntukannya.",
        "4.\tPihak Kedua menyatakan telah menerima rekaman CCTV dalam keadaan baik dan lengkap.",
        "*Catatan: " + DRIVE_NOTE + " sejak penyerahan dan akan dihapus setelahnya.",
        "Demikian Berita Acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana "
        "mestinya.",
        "Lampiran: Data Integritas Rekaman",
    ]
    positions = [paragraphs.index(text) for text in ordered]
    assert positions == sorted(positions)


def test_details_table_is_a_real_table_with_every_row(document: DocxDocument) -> None:
    table = document.tables[0]
    header = [cell.text for cell in table.rows[0].cells]
    assert header == [
        "No",
        "Tanggal Rekaman",
        "Waktu Rekaman (WIB)",
        "Lokasi/Titik CCTV",
        "Media Penyimpanan *",
        "Keterangan",
    ]
    rows = [[cell.text for cell in row.cells] for row in table.rows[1:]]
    assert rows == [
        [
            "1",
            "19 November 2026",
            "10:00:00–10:15:00",
            "Simpang Empat Sumber (PTZ 01)",
            "Google Drive",
            "terdapat jeda rekaman 10:03:12–10:04:40 WIB",
        ],
        [
            "2",
            "19 November 2026",
            "20:30:00–21:00:00",
            "Alun-alun Sumber Sisi Utara",
            "Google Drive",
            "-",
        ],
        [
            "3",
            "20 November 2026",
            "07:00:00–07:10:00",
            "Jl. Dewi Sartika depan Pasar Sumber",
            "Flashdisk",
            "Diserahkan bersama flashdisk 16 GB milik Pihak Kedua",
        ],
    ]


def test_an_item_without_footage_keeps_its_row_in_the_letters_order() -> None:
    first, second, third = clip_rows()
    nothing = UnavailableRow(
        start_at=datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
        end_at=datetime(2026, 11, 19, 12, 5, tzinfo=UTC),
        camera_location="Pasar Sumber Sisi Timur",
        reason="NVR menolak nama pengguna atau kata sandi",
        order=2,
    )
    rows = (
        first.model_copy(update={"order": 1}),
        second.model_copy(update={"order": 3}),
        third.model_copy(update={"order": 4}),
    )
    doc = bast_document().model_copy(update={"rows": rows, "unavailable": (nothing,)})

    word = docx.Document(io.BytesIO(render_bast_docx(doc)))
    cells = [[cell.text for cell in row.cells] for row in word.tables[0].rows[1:]]
    annex = {
        table.rows[0].cells[0].text: table.rows[1].cells[1].text
        for table in word.tables
        if table.rows[0].cells[0].text.startswith("Rekaman ")
    }

    assert [row[0] for row in cells] == ["1", "2", "3", "4"]
    assert [row[3] for row in cells][1:3] == [
        "Pasar Sumber Sisi Timur",
        "Alun-alun Sumber Sisi Utara",
    ]
    assert cells[1][1:3] == ["19 November 2026", "19:00:00–19:05:00"]
    assert cells[1][4:] == [
        "-",
        "Tidak ada rekaman yang diserahkan. NVR menolak nama pengguna atau kata sandi.",
    ]
    # The annex numbers each clip as its row: no "Rekaman 2", which is the one without a clip.
    assert "Rekaman 2" not in annex
    assert [annex[f"Rekaman {n}"] for n in (1, 3, 4)] == [row.sha256 for row in rows]


def test_signature_blocks(document: DocxDocument) -> None:
    text = _all_text(document)
    for fragment in (
        "Sumber, 22 November 2026",
        "Pihak Pertama",
        "( Staf/Operator CCTV )",
        "Pihak Kedua",
        "( Pemohon )",
        "Mengetahui",
        "NIP. 197805122005012009",
        "( Subkoordinator Bidang TI )",
    ):
        assert fragment in text


def test_every_hash_and_the_checkpoint(document: DocxDocument) -> None:
    text = _all_text(document)
    for clip in clip_rows():
        assert clip.sha256 in text
    checkpoint = signed_checkpoint()
    assert checkpoint.root in text
    assert all(line in _paragraphs(document) for line in checkpoint.signed_note.splitlines())
    assert "+2,375 detik" in text


def test_footer_carries_number_and_page_fields(document: DocxDocument) -> None:
    footer = document.sections[0].footer.paragraphs[0]
    xml = footer._p.xml
    assert "BAST Nomor: 007/BAST/2026" in footer.text
    assert 'w:instr="PAGE"' in xml
    assert 'w:instr="NUMPAGES"' in xml


def test_qr_picture_decodes_to_the_verification_url(document: DocxDocument) -> None:
    images = [part.blob for part in document.part.package.parts if part.content_type == "image/png"]
    assert len(images) == 1
    image = cv2.imdecode(np.frombuffer(images[0], dtype=np.uint8), cv2.IMREAD_COLOR)
    payload, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    assert payload == VERIFICATION_URL


def test_drive_note_absent_without_drive() -> None:
    document = docx.Document(io.BytesIO(render_bast_docx(bast_document(via_google_drive=False))))
    assert DRIVE_NOTE not in _all_text(document)
    assert "Nomor: 007/BAST/2026" in _paragraphs(document)


def test_rendering_is_fast() -> None:
    started = time.perf_counter()
    render_bast_docx(bast_document())
    assert time.perf_counter() - started < 1.0
