"""The destruction record, read back with pdftotext."""

from __future__ import annotations

import re
import time
from pathlib import Path

from app.handover.destruction import render_destruction_pdf
from tests.app.handover.fixtures import destruction_record
from tests.app.handover.readback import pdf_text


def test_destruction_record_names_files_hashes_time_and_job(tmp_path: Path) -> None:
    record = destruction_record()
    text = pdf_text(render_destruction_pdf(record), tmp_path)
    flat = re.sub(r"\s+", " ", text)
    assert "BERITA ACARA PEMUSNAHAN REKAMAN CCTV" in text
    assert "Nomor: PMS-2026-0031" in text
    # 17:00:05 UTC on 6 December is 00:00:05 WIB on Monday 7 December.
    assert "Pada hari ini, Senin tanggal tujuh bulan Desember tahun dua ribu dua puluh enam" in flat
    assert "Nomor BAST terkait : 007/BAST/2026" in flat
    assert "Dimusnahkan : 7 Desember 2026 pukul 00:00:05 WIB" in flat
    assert "deliveries.purge_expired (id 6f1c2e9a-52d4-4b3e-9a57-0d6b1e2f3a4c)" in flat
    for item in record.files:
        assert item.file_name in text
        assert re.search(rf"\b{item.sha256}\b", text)
    assert "Dari 2 berkas di atas, 2 berkas dihapus dari media penyerahan" in flat
    assert "Halaman 1 dari 1" in text


def test_the_closing_states_each_outcome_and_claims_no_more(tmp_path: Path) -> None:
    """Issue 16: a record said every file was deleted while one was only invisible to Saksi."""
    record = destruction_record()
    first, second = record.files
    record = record.model_copy(update={"files": (
        first, second.model_copy(update={"outcome": "verified_absent"}),
    )})  # fmt: skip
    flat = re.sub(r"\s+", " ", pdf_text(render_destruction_pdf(record), tmp_path))
    assert "1 berkas dihapus dari media penyerahan" in flat
    assert "1 berkas sudah tidak ada saat diperiksa" in flat
    assert "sudah tidak ada (diperiksa)" in flat
    assert "2 berkas dihapus" not in flat


def test_destruction_record_renders_fast() -> None:
    started = time.perf_counter()
    render_destruction_pdf(destruction_record())
    assert time.perf_counter() - started < 1.0
