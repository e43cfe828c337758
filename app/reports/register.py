"""Log permintaan: the register of requests as XLSX and CSV, and its monthly SLA summary."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

OFFICE_ZONE = ZoneInfo("Asia/Jakarta")
_FIXED_HEADER = (
    "No",
    "Nomor Permohonan",
    "Instansi",
    "Nomor Surat",
    "Tanggal Surat",
    "Diterima",
    "Status",
)
_TAIL_HEADER = ("Tanggal Penyerahan", "Tanggal Penghapusan", "Waktu Penanganan (menit)")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepRecord(_Frozen):
    """One SOP step of a request: when it started and finished, against its time standard."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    started_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    standard: timedelta

    @property
    def duration(self) -> timedelta | None:
        """Return how long the step took, or None while it is open."""
        return None if self.completed_at is None else self.completed_at - self.started_at

    @property
    def met(self) -> bool | None:
        """Return whether the step finished within its standard (None while open)."""
        duration = self.duration
        return None if duration is None else duration <= self.standard


class RegisterRow(_Frozen):
    """One request in the register."""

    request_number: str = Field(min_length=1)
    agency: str = Field(min_length=1)
    letter_number: str = Field(min_length=1)
    letter_date: date
    received_at: AwareDatetime
    status: str = Field(min_length=1)
    steps: tuple[StepRecord, ...] = ()
    delivered_at: AwareDatetime | None = None
    purged_at: AwareDatetime | None = None

    @property
    def handling_time(self) -> timedelta | None:
        """Return receipt to the last completed step, or None if any step is open or none exist."""
        if not self.steps or any(step.completed_at is None for step in self.steps):
            return None
        return max(step.completed_at for step in self.steps if step.completed_at) - self.received_at


class StepSummary(_Frozen):
    """The month's figures for one SOP step."""

    code: str
    name: str
    completed: int
    median: timedelta | None
    within_standard: int


class Summary(_Frozen):
    """The monthly summary of the register."""

    year: int
    month: int
    count: int
    completed: int
    median_handling_time: timedelta | None
    steps: tuple[StepSummary, ...]
    steps_completed: int
    steps_within_standard: int

    @property
    def share_within_standard(self) -> float | None:
        """Return the share (0–1) of completed steps that met their standard."""
        if not self.steps_completed:
            return None
        return self.steps_within_standard / self.steps_completed


def step_columns(rows: Sequence[RegisterRow]) -> list[tuple[str, str]]:
    """Return the SOP steps (code, name) present in the rows, in first-seen order."""
    seen: dict[str, str] = {}
    for row in rows:
        for step in row.steps:
            seen.setdefault(step.code, step.name)
    return list(seen.items())


def register_header(rows: Sequence[RegisterRow]) -> list[str]:
    """Return the column titles of the register."""
    header = list(_FIXED_HEADER)
    for _code, name in step_columns(rows):
        header += [f"{name} – selesai", f"{name} – standar"]
    return header + list(_TAIL_HEADER)


def register_table(
    rows: Sequence[RegisterRow], zone: ZoneInfo = OFFICE_ZONE
) -> list[list[str | int | None]]:
    """Return the register as cells: one row per request, times in the office's zone."""
    columns = step_columns(rows)
    return [
        [neutralised(cell) for cell in _cells(index, row, columns, zone)]
        for index, row in enumerate(rows, start=1)
    ]


# A text cell a spreadsheet would read as a formula or command (OWASP "CSV Injection"): a
# pemohon's letter number `=HYPERLINK(…)` would otherwise come out live in register.xlsx.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str | int | None) -> str | int | None:
    """Text that a spreadsheet would evaluate, prefixed with `'` so it stays text (OWASP)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _cells(
    index: int, row: RegisterRow, columns: list[tuple[str, str]], zone: ZoneInfo
) -> list[str | int | None]:
    cells: list[str | int | None] = [
        index,
        row.request_number,
        row.agency,
        row.letter_number,
        row.letter_date.isoformat(),
        _local(row.received_at, zone),
        row.status,
    ]
    by_code = {step.code: step for step in row.steps}
    for code, _name in columns:
        step = by_code.get(code)
        cells += [_local(step.completed_at, zone), _met(step.met)] if step else [None, None]
    handling = row.handling_time
    cells += [
        _local(row.delivered_at, zone),
        _local(row.purged_at, zone),
        None if handling is None else round(handling.total_seconds() / 60),
    ]
    return cells


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def _met(met: bool | None) -> str:
    return {True: "terpenuhi", False: "terlampaui", None: "berjalan"}[met]


def register_csv(rows: Sequence[RegisterRow], zone: ZoneInfo = OFFICE_ZONE) -> str:
    """Return the register as CSV (comma-separated, header first, times in the office's zone)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(register_header(rows))
    for cells in register_table(rows, zone):
        writer.writerow(["" if cell is None else cell for cell in cells])
    return buffer.getvalue()


def register_xlsx(rows: Sequence[RegisterRow], zone: ZoneInfo = OFFICE_ZONE) -> bytes:
    """Return the register as an XLSX workbook with one sheet, *Log Permintaan*."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Log Permintaan"
    header = register_header(rows)
    sheet.append(header)
    for cells in register_table(rows, zone):
        sheet.append(cells)
    _style_sheet(sheet, header)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _style_sheet(sheet: object, header: list[str]) -> None:
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")
    cells = sheet[1]  # type: ignore[index]
    for cell in cells:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for column, title in enumerate(header, start=1):
        width = min(max(len(title), 12) + 2, 32)
        sheet.column_dimensions[get_column_letter(column)].width = width  # type: ignore[attr-defined]
    sheet.freeze_panes = "C2"  # type: ignore[attr-defined]
    sheet.auto_filter.ref = sheet.dimensions  # type: ignore[attr-defined]


def monthly_summary(
    rows: Sequence[RegisterRow], month: date, zone: ZoneInfo = OFFICE_ZONE
) -> Summary:
    """Summarise the requests received in the month of ``month`` (office time zone)."""
    chosen = [row for row in rows if _in_month(row.received_at, month, zone)]
    handling = [time for row in chosen if (time := row.handling_time) is not None]
    steps = tuple(_step_summary(chosen, code, name) for code, name in step_columns(chosen))
    return Summary(
        year=month.year,
        month=month.month,
        count=len(chosen),
        completed=len(handling),
        median_handling_time=_median(handling),
        steps=steps,
        steps_completed=sum(step.completed for step in steps),
        steps_within_standard=sum(step.within_standard for step in steps),
    )


def _in_month(moment: datetime, month: date, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return (local.year, local.month) == (month.year, month.month)


def _step_summary(rows: Sequence[RegisterRow], code: str, name: str) -> StepSummary:
    done = [
        step
        for row in rows
        for step in row.steps
        if step.code == code and step.duration is not None
    ]
    durations = [step.duration for step in done if step.duration is not None]
    return StepSummary(
        code=code,
        name=name,
        completed=len(durations),
        median=_median(durations),
        within_standard=sum(1 for step in done if step.met),
    )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(value.total_seconds() for value in values))
