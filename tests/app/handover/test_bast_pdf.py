"""The printed BAST, read back with poppler and OpenCV, not with the library that wrote it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app.handover.bast_pdf import render_bast_pdf
from custody import note
from tests.app.handover.fixtures import (
    LOG_ORIGIN,
    VERIFICATION_URL,
    bast_document,
    clip_rows,
    office_key,
    signed_checkpoint,
)
from tests.app.handover.readback import decode_qr, pdf_pages, pdf_text, render_page

OPENING = (
    "Pada hari ini, Minggu tanggal dua puluh dua bulan November tahun dua ribu dua puluh enam, "
    "bertempat di Dinas Komunikasi dan Informatika Kabupaten Cirebon"
)
DRIVE_NOTE = "Rekaman CCTV pada Google Drive hanya tersedia selama 14 (empat belas) hari"


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_bast_pdf(bast_document())


@pytest.fixture
def text(pdf: bytes, tmp_path: Path) -> str:
    return pdf_text(pdf, tmp_path)


def _flat(text: str) -> str:
    """Join the layout's wrapped lines so sentences can be matched whole."""
    return re.sub(r"\s+", " ", text)


def test_template_order_and_wording(text: str) -> None:
    flat = _flat(text)
    ordered = [
        "PEMERINTAH KABUPATEN CIREBON",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
        "Jl. Sunan Drajat No. 15, Telp. (0231) 8330580",
        "SUMBER – 45611",
        "BERITA ACARA SERAH TERIMA REKAMAN CCTV",
        "Nomor: 007/BAST/2026",
        OPENING,
        "kami yang bertanda tangan di bawah ini:",
        "PIHAK PERTAMA (Pemberi Rekaman)",
        "Nama : Rizky Maulana",
        "Jabatan : Staf/Operator Pengelola CCTV",
        "Instansi : Dinas Komunikasi dan Informatika Kabupaten Cirebon",
        "PIHAK KEDUA (Penerima Rekaman)",
        "Nama : AIPDA Dedi Kurniawan",
        "NIP/NIK : NRP 85071234",
        "Jabatan : Penyidik Pembantu Satreskrim",
        "Instansi : Kepolisian Resor Cirebon Kota",
        "Rincian Rekaman :",
        "1. Rekaman CCTV diserahkan sesuai surat permohonan nomor B/123/XI/2026/Reskrim "
        "tanggal 20 November 2026.",
        "2. Rekaman CCTV digunakan untuk kepentingan penyelidikan perkara pencurian",
        "3. Rekaman CCTV hanya digunakan sesuai dengan peruntukannya.",
        "4. Pihak Kedua menyatakan telah menerima rekaman CCTV dalam keadaan baik dan lengkap.",
        DRIVE_NOTE,
        "Demikian Berita Acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana "
        "mestinya.",
        "Sumber, 22 November 2026",
        "Pihak Pertama",
        "( Staf/Operator CCTV )",
        "Mengetahui",
        "Hj. Siti Nurhalimah, S.Kom., M.T.",
        "( Subkoordinator Bidang TI )",
        "Lampiran: Data Integritas Rekaman",
    ]
    positions = [flat.find(fragment) for fragment in ordered]
    missing = [fragment for fragment, at in zip(ordered, positions, strict=True) if at < 0]
    assert not missing
    assert positions == sorted(positions)


def test_date_words_of_22_november_2026(text: str) -> None:
    for words in ("Minggu", "dua puluh dua", "November", "dua ribu dua puluh enam"):
        assert words in text


def test_every_row_of_the_details_table(text: str) -> None:
    header = ["No", "Waktu Rekaman", "(WIB)", "Lokasi/Titik CCTV", "Media", "Keterangan"]
    assert all(title in text for title in header)
    rows = [
        ("1", "19 November", "10:00:00–10:15:00", "Simpang Empat", "Google Drive"),
        ("2", "19 November", "20:30:00–21:00:00", "Alun-alun Sumber Sisi", "Google Drive"),
        ("3", "20 November", "07:00:00–07:10:00", "Jl. Dewi Sartika depan", "Flashdisk"),
    ]
    for cells in rows:
        pattern = r"\s+".join(re.escape(cell) for cell in cells)
        assert re.search(rf"^\s*{pattern}", text, re.MULTILINE), cells
    assert "terdapat jeda rekaman" in text
    assert "10:03:12–10:04:40 WIB" in text


def test_every_hash_is_one_unbroken_string(text: str) -> None:
    for clip in clip_rows():
        assert re.search(rf"\b{clip.sha256}\b", text), clip.sha256


def test_annex_carries_sizes_windows_offsets_and_checkpoint(text: str) -> None:
    flat = _flat(text)
    assert "187.654.321 bita (179,0 MiB)" in flat
    assert "19 November 2026 10:00:00 – 19 November 2026 10:15:00 WIB" in flat
    assert "+2,375 detik" in flat
    assert "-0,500 detik" in flat
    assert "Jeda rekaman 10:03:12–10:04:40 WIB" in flat
    assert "Ukuran pohon 4182" in flat
    checkpoint = signed_checkpoint()
    assert checkpoint.root in text
    # Every line of the signed note is printed whole, so the note can be retyped and verified.
    for line in checkpoint.signed_note.splitlines():
        assert line in text


def test_signed_note_read_from_the_pdf_still_verifies(text: str) -> None:
    """Guards against a wrapped or reflowed note: the printed checkpoint must verify as printed."""
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index("Catatan bertanda tangan (Ed25519)") + 1
    printed = [line for line in lines[start : start + 6] if line]
    body, signature = printed[:3], printed[3]
    assert signature.startswith("\u2014 ")
    opened = note.open_note(
        "\n".join(body) + "\n\n" + signature + "\n", LOG_ORIGIN, office_key().public_bytes
    )
    assert opened.size == 4182


def test_every_page_has_its_number_and_the_bast_number(
    pdf: bytes, text: str, tmp_path: Path
) -> None:
    pages = pdf_pages(pdf, tmp_path)
    assert pages >= 2
    for page in range(1, pages + 1):
        assert f"Halaman {page} dari {pages}" in text
    assert text.count("BAST Nomor: 007/BAST/2026") >= pages


def test_qr_code_decodes_to_the_verification_url(pdf: bytes, tmp_path: Path) -> None:
    last = pdf_pages(pdf, tmp_path)
    assert decode_qr(render_page(pdf, last, tmp_path)) == VERIFICATION_URL


def test_drive_note_only_when_drive_is_used(tmp_path: Path) -> None:
    text = pdf_text(render_bast_pdf(bast_document(via_google_drive=False)), tmp_path)
    assert DRIVE_NOTE not in _flat(text)
    assert "Nomor: 007/BAST/2026" in text


def test_handover_just_after_midnight_wib_is_dated_in_wib(tmp_path: Path) -> None:
    """Guards against dating the BAST by the UTC day (Saturday 21) instead of the office's."""
    text = _flat(pdf_text(render_bast_pdf(bast_document()), tmp_path))
    assert "Sabtu" not in text
    assert "Sumber, 22 November 2026" in text


def test_many_rows_flow_onto_further_pages(tmp_path: Path) -> None:
    base = bast_document()
    rows = tuple(
        clip.model_copy(update={"camera_location": f"Titik {index:02d}"})
        for index, clip in enumerate(clip_rows() * 10, start=1)
    )
    pdf = render_bast_pdf(base.model_copy(update={"rows": rows}))
    text = pdf_text(pdf, tmp_path)
    assert all(f"Titik {index:02d}" in text for index in range(1, 31))
    assert "Halaman 1 dari" in text


def test_rendering_is_fast() -> None:
    started = time.perf_counter()
    render_bast_pdf(bast_document())
    assert time.perf_counter() - started < 1.0


def test_rendering_is_reproducible() -> None:
    assert render_bast_pdf(bast_document()) == render_bast_pdf(bast_document())
