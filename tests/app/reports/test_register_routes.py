"""The register served from the database: CSV, XLSX and the monthly summary, staff only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook  # type: ignore[import-untyped]

from app.auth.models import Role
from tests.app.factories import Factory, walk_to_export_step


def test_register_lists_each_step_with_its_standard(factory: Factory) -> None:
    created, people = walk_to_export_step(factory)
    headers = factory.headers(people[Role.OPERATOR])

    response = factory.client.get("/api/v1/reports/register.csv", headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    [header, row] = list(csv.reader(io.StringIO(response.text)))
    cells = dict(zip(header, row, strict=True))
    assert cells["Nomor Permohonan"] == created["number"]
    assert cells["Nomor Surat"] == created["letter_number"]
    assert cells["2. dispose – standar"] == "terpenuhi"  # the frozen clock: no time passed
    assert cells["5. assign – standar"] == "terpenuhi"
    assert cells["6. export – standar"] == "berjalan"  # the open step
    assert cells["Tanggal Penyerahan"] == ""


def test_register_xlsx_and_monthly_summary(factory: Factory) -> None:
    created, people = walk_to_export_step(factory)
    headers = factory.headers(people[Role.AUDITOR])
    month = f"{factory.now:%Y-%m}"

    sheet = factory.client.get("/api/v1/reports/register.xlsx", headers=headers)
    summary = factory.client.get(f"/api/v1/reports/monthly?month={month}", headers=headers)
    before = factory.now - timedelta(days=40)
    empty = factory.client.get(f"/api/v1/reports/monthly?month={before:%Y-%m}", headers=headers)

    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[1][1] == created["number"]
    assert summary.json()["count"] == 1
    assert summary.json()["steps_within_standard"] == 5  # steps 1-5 done, none late
    assert empty.json()["count"] == 0


def test_register_refuses_pemohon_and_bad_months(factory: Factory) -> None:
    _created, people = walk_to_export_step(factory)
    pemohon = factory.client.get(
        "/api/v1/reports/register.csv", headers=factory.headers(people[Role.PEMOHON])
    )
    bad = factory.client.get(
        "/api/v1/reports/monthly?month=2026-13", headers=factory.headers(people[Role.OPERATOR])
    )
    anonymous = factory.client.get("/api/v1/reports/register.csv")

    assert pemohon.status_code == 403
    assert bad.status_code == 422
    assert bad.json()["error"] == "ValidationFailed"
    assert anonymous.status_code == 401
