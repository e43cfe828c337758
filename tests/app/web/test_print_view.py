"""The print view of a request with its lembar disposisi (issue 19, item 7)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.auth.models import Role
from tests.app.factories import PASSWORD, Factory, walk_to_export_step


def _sign_in(client: TestClient, username: str) -> None:
    response = client.post("/masuk", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200


def _rows(html: str) -> dict[int, str]:
    return {int(n): row for n, row in re.findall(r'<tr data-step="(\d+)"(.*?)</tr>', html, re.S)}


def test_the_sheet_lists_every_disposition_with_who_whom_when_and_the_standard(
    factory: Factory, client: TestClient
) -> None:
    created, people = walk_to_export_step(factory, cameras=2, note="Segera periksa rekaman")
    _sign_in(client, people[Role.SEKRETARIS].username)

    page = client.get(f"/permintaan/{created['id']}/cetak")

    assert page.status_code == 200
    html = page.text
    assert "LEMBAR DISPOSISI" in html
    assert created["number"] in html
    assert "B/123/XI/2026/Reskrim" in html
    rows = _rows(html)
    assert sorted(rows) == list(range(1, len(rows) + 1))
    assert people[Role.KEPALA_DINAS].full_name in rows[2]
    assert "Sekretaris" in rows[2]  # passed on to the next step's holder
    assert people[Role.SUBKOORDINATOR].full_name in rows[5]
    assert people[Role.OPERATOR].full_name in rows[5]  # the assignment names the operator
    assert "Segera periksa rekaman" in rows[5]
    assert "15 menit" in rows[2]
    assert "sesuai" in rows[2]
    assert "<em>belum</em>" in rows[6]  # the export step is still open
    assert html.count("Kamera ") >= 2  # both cameras and their windows


def test_the_request_page_links_the_sheet_for_staff(factory: Factory, client: TestClient) -> None:
    created, people = walk_to_export_step(factory)
    _sign_in(client, people[Role.OPERATOR].username)

    page = client.get(f"/permintaan/{created['id']}")

    assert f'href="/permintaan/{created["id"]}/cetak"' in page.text


def test_the_pemohon_gets_neither_the_sheet_nor_the_link(
    factory: Factory, client: TestClient
) -> None:
    created, people = walk_to_export_step(factory)
    _sign_in(client, people[Role.PEMOHON].username)

    sheet = client.get(f"/permintaan/{created['id']}/cetak")
    page = client.get(f"/permintaan/{created['id']}")

    assert sheet.status_code == 403
    assert "LEMBAR DISPOSISI" not in sheet.text
    assert "/cetak" not in page.text
