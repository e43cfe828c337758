"""Log permintaan: XLSX read back with openpyxl, CSV with the csv module, medians on a fixture."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest

from app.reports.register import (
    RegisterRow,
    StepRecord,
    monthly_summary,
    register_csv,
    register_header,
    register_xlsx,
)

FIFTEEN = timedelta(minutes=15)
DAY = timedelta(days=1)


def _steps(received_at: datetime, minutes: list[int]) -> tuple[StepRecord, ...]:
    """Build consecutive steps: disposition (15 min standard) twice, then export (1 day)."""
    names = [("disposisi_kadis", "Disposisi Kepala Dinas", FIFTEEN)]
    names += [("disposisi_kabid", "Disposisi Kepala Bidang", FIFTEEN)]
    names += [("ekspor", "Ekspor rekaman", DAY)]
    steps: list[StepRecord] = []
    started = received_at
    for (code, name, standard), taken in zip(names, minutes, strict=False):
        completed = started + timedelta(minutes=taken)
        steps.append(
            StepRecord(
                code=code, name=name, started_at=started, completed_at=completed, standard=standard
            )
        )
        started = completed
    return tuple(steps)


def rows() -> list[RegisterRow]:
    """Return four requests: three in November 2026 (one still open), one in December."""
    # 23:50 UTC on 31 October is 06:50 WIB on 1 November: a November request in the office.
    first = datetime(2026, 10, 31, 23, 50, tzinfo=UTC)
    second = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    third = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    december = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    return [
        RegisterRow(
            request_number="REQ-2026-0101",
            agency="Polres Cirebon Kota",
            letter_number="B/101/XI/2026",
            letter_date=date(2026, 10, 31),
            received_at=first,
            status="selesai",
            steps=_steps(first, [10, 20, 600]),
            delivered_at=first + timedelta(hours=12),
            purged_at=first + timedelta(days=14, hours=12),
        ),
        RegisterRow(
            request_number="REQ-2026-0117",
            agency="Kejaksaan Negeri Kabupaten Cirebon",
            letter_number="B-55/M.2.21/XI/2026",
            letter_date=date(2026, 11, 9),
            received_at=second,
            status="selesai",
            steps=_steps(second, [14, 15, 2000]),
            delivered_at=second + timedelta(days=2),
        ),
        RegisterRow(
            request_number="REQ-2026-0142",
            agency="Polres Cirebon Kota",
            letter_number="B/123/XI/2026/Reskrim",
            letter_date=date(2026, 11, 20),
            received_at=third,
            status="disposisi",
            steps=(
                *_steps(third, [30]),
                StepRecord(
                    code="disposisi_kabid",
                    name="Disposisi Kepala Bidang",
                    started_at=third + timedelta(minutes=30),
                    standard=FIFTEEN,
                ),
            ),
        ),
        RegisterRow(
            request_number="REQ-2026-0150",
            agency="KPK",
            letter_number="R-9/XII/2026",
            letter_date=date(2026, 12, 1),
            received_at=december,
            status="selesai",
            steps=_steps(december, [5, 5, 5]),
        ),
    ]


def test_csv_reads_back_with_the_csv_module() -> None:
    records = list(csv.reader(io.StringIO(register_csv(rows()))))
    header, body = records[0], records[1:]
    assert header == register_header(rows())
    assert header[:7] == [
        "No",
        "Nomor Permohonan",
        "Instansi",
        "Nomor Surat",
        "Tanggal Surat",
        "Diterima",
        "Status",
    ]
    assert len(body) == 4
    first = dict(zip(header, body[0], strict=True))
    assert first["Nomor Permohonan"] == "REQ-2026-0101"
    assert first["Diterima"] == "2026-11-01 06:50"
    assert first["Disposisi Kepala Dinas – selesai"] == "2026-11-01 07:00"
    assert first["Disposisi Kepala Dinas – standar"] == "terpenuhi"
    assert first["Disposisi Kepala Bidang – standar"] == "terlampaui"
    assert first["Tanggal Penyerahan"] == "2026-11-01 18:50"
    assert first["Tanggal Penghapusan"] == "2026-11-15 18:50"
    assert first["Waktu Penanganan (menit)"] == "630"
    open_row = dict(zip(header, body[2], strict=True))
    assert open_row["Disposisi Kepala Bidang – standar"] == "berjalan"
    assert open_row["Ekspor rekaman – selesai"] == ""
    assert open_row["Waktu Penanganan (menit)"] == ""


def test_xlsx_reads_back_with_openpyxl() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(register_xlsx(rows())), read_only=True)
    try:
        sheet = workbook["Log Permintaan"]
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    assert list(values[0]) == register_header(rows())
    assert [row[1] for row in values[1:]] == [
        "REQ-2026-0101",
        "REQ-2026-0117",
        "REQ-2026-0142",
        "REQ-2026-0150",
    ]
    assert values[2][3] == "B-55/M.2.21/XI/2026"
    assert values[1][-1] == 630
    assert values[3][-1] is None


def test_monthly_summary_medians_and_share() -> None:
    summary = monthly_summary(rows(), date(2026, 11, 1))
    assert (summary.year, summary.month, summary.count, summary.completed) == (2026, 11, 3, 2)
    by_code = {step.code: step for step in summary.steps}
    # Kadis: 10, 14, 30 minutes -> median 14, two of three within 15 minutes.
    assert by_code["disposisi_kadis"].median == timedelta(minutes=14)
    assert by_code["disposisi_kadis"].within_standard == 2
    # Kabid: 20 and 15 (the third is open) -> median 17.5, one within standard.
    assert by_code["disposisi_kabid"].completed == 2
    assert by_code["disposisi_kabid"].median == timedelta(minutes=17, seconds=30)
    # Export: 600 and 2000 minutes -> median 1300; 2000 > one day.
    assert by_code["ekspor"].median == timedelta(minutes=1300)
    assert by_code["ekspor"].within_standard == 1
    # Overall handling: 630 and 2029 minutes.
    assert summary.median_handling_time == timedelta(minutes=(630 + 2029) / 2)
    assert summary.steps_completed == 7
    assert summary.steps_within_standard == 4
    assert summary.share_within_standard == pytest.approx(4 / 7)


def test_request_received_early_on_the_first_is_counted_in_office_month() -> None:
    """Guards against bucketing by the UTC month: 31 Oct 23:50 UTC is 1 Nov in WIB."""
    assert monthly_summary(rows(), date(2026, 10, 1)).count == 0


def test_empty_month() -> None:
    summary = monthly_summary(rows(), date(2027, 1, 1))
    assert summary.count == 0
    assert summary.median_handling_time is None
    assert summary.share_within_standard is None
    assert summary.steps == ()


def test_empty_register_still_has_a_header() -> None:
    records = list(csv.reader(io.StringIO(register_csv([]))))
    assert records == [register_header([])]


HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]


@pytest.mark.parametrize("letter_number", HOSTILE)
def test_text_a_spreadsheet_would_evaluate_stays_text(letter_number: str) -> None:
    """A pemohon's letter number `=HYPERLINK(…)` came out as a live formula in register.xlsx
    and unescaped in the CSV (OWASP CSV injection): both now carry it behind a `'`."""
    [row, *_] = rows()
    hostile = [row.model_copy(update={"letter_number": letter_number, "agency": letter_number})]
    workbook = openpyxl.load_workbook(io.BytesIO(register_xlsx(hostile)))
    cell = workbook["Log Permintaan"].cell(row=2, column=4)
    assert cell.data_type == "s"  # a string, not a formula ("f")
    assert cell.value == "'" + letter_number
    [_header, body] = list(csv.reader(io.StringIO(register_csv(hostile))))
    assert body[2] == body[3] == "'" + letter_number
