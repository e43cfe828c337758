"""What a first-time user missed (issue 19, item 7): what waits for me comes first, export
progress says how far and how fast, the page offers only what the server accepts, the pemohon
sees no NVR internals, the overwrite warning goes once the copy is taken."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.exports.models import AttemptOutcome, Export, ExportAttempt, ExportState
from app.requests.models import EvidenceRequest, Preservation
from tests.app.factories import PASSWORD, Factory, multipart, request_payload, walk_to_export_step


def _sign_in(client: TestClient, user: User) -> None:
    response = client.post("/masuk", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.text  # followed to the dashboard


def _waiting(html: str) -> str | None:
    """The "Menunggu tindakan saya" section of a dashboard, or None when there is none."""
    found = re.search(r'<section class="card waiting" id="menunggu".*?</section>', html, re.S)
    return found[0] if found else None


def _registered(factory: Factory) -> tuple[dict[str, Any], dict[Role, User]]:
    """A request registered by its pemohon, waiting at step 2 (the Kepala Dinas)."""
    agency = factory.agency()
    camera = factory.camera(factory.nvr())
    people: dict[Role, User] = {
        role: factory.user(role) for role in Role if role is not Role.PEMOHON
    }
    people[Role.PEMOHON] = factory.user(Role.PEMOHON, agency=agency)
    created: dict[str, Any] = factory.client.post(
        "/api/v1/requests",
        headers=factory.headers(people[Role.PEMOHON]),
        **multipart(request_payload(agency, [camera], factory.now)),
    ).json()
    return created, people


def test_what_waits_for_me_comes_first_and_follows_the_sop(
    factory: Factory, client: TestClient
) -> None:
    created, people = _registered(factory)
    number = created["number"]
    other_operator = factory.user(Role.OPERATOR)
    seen: dict[str, str | None] = {}
    for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.PEMOHON, Role.AUDITOR):
        _sign_in(client, people[role])
        seen[role.value] = _waiting(client.get("/").text)
    client.post(
        f"/api/v1/requests/{created['id']}/dispose",
        headers=factory.headers(people[Role.KEPALA_DINAS]), json={},
    )  # fmt: skip
    _sign_in(client, people[Role.KEPALA_DINAS])
    after_kadis = _waiting(client.get("/").text)
    _sign_in(client, people[Role.SEKRETARIS])
    secretary = client.get("/").text

    kadis = seen["kepala_dinas"]
    assert kadis is not None
    assert number in kadis
    assert "Menunggu tindakan saya" in kadis
    assert secretary.index('id="menunggu"') < secretary.index('aria-label="Ringkasan permintaan"')
    assert seen["sekretaris"] is not None
    assert number not in seen["sekretaris"]
    assert "Tidak ada permintaan yang menunggu tindakan Anda." in seen["sekretaris"]
    assert seen["pemohon"] is not None  # the agency's BAST approvals wait there
    assert number not in seen["pemohon"]
    assert seen["auditor"] is None  # a role that never acts has no such section
    assert after_kadis is not None
    assert number not in after_kadis
    assert number in (_waiting(secretary) or "")
    # An operator's steps are theirs once the request is assigned to them, not to a colleague.
    for role in (Role.SEKRETARIS, Role.KEPALA_BIDANG):
        factory.client.post(f"/api/v1/requests/{created['id']}/dispose",
                            headers=factory.headers(people[role]), json={})  # fmt: skip
    factory.client.post(
        f"/api/v1/requests/{created['id']}/assign",
        headers=factory.headers(people[Role.SUBKOORDINATOR]),
        json={"operator_id": people[Role.OPERATOR].id},
    )
    _sign_in(client, people[Role.OPERATOR])
    assigned = _waiting(client.get("/").text)
    _sign_in(client, other_operator)
    colleague = _waiting(client.get("/").text)
    assert assigned is not None
    assert number in assigned
    assert colleague is not None
    assert number not in colleague


def _started_export(
    factory: Factory, client: TestClient, session: Session, marks: list[Preservation] | None = None
) -> tuple[int, Export, dict[Role, User]]:
    """A request at its export step with its one export started, its operator signed in."""
    created, people = walk_to_export_step(factory)
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    for item, mark in zip(request.items, marks or [], strict=False):
        item.preservation = mark
        item.oldest_recording_at = factory.now - timedelta(days=2)
    session.commit()
    operator = people[Role.OPERATOR]
    [started] = client.post(
        f"/api/v1/requests/{created['id']}/exports", headers=factory.headers(operator)
    ).json()
    export = session.get(Export, started["id"])
    assert export is not None
    _sign_in(client, operator)
    return created["id"], export, people


def test_export_progress_says_percent_size_and_rate_and_mark_done_waits_for_it(
    factory: Factory, client: TestClient, session: Session
) -> None:
    request_id, export, _people = _started_export(factory, client, session)
    page = f"/permintaan/{request_id}"
    queued = client.get(page).text
    export.state, export.percent = ExportState.FETCHING, 50.0
    export.bytes_written, export.expected_bytes = 1_500_000, 3_000_000
    now = factory.now
    session.add(ExportAttempt(
        export_id=export.id, number=1, worker="uji", started_at=now - timedelta(seconds=10),
        heartbeat_at=now, outcome=AttemptOutcome.RUNNING,
    ))  # fmt: skip
    session.commit()
    running = client.get(page).text
    export.state, export.percent, export.size_bytes = ExportState.DONE, 100.0, 3_200_000
    export.sha256 = "ab" * 32
    session.commit()
    done = client.get(page).text

    assert "menunggu giliran" in queued
    assert "50% · 1,5 MB dari 3,0 MB · 150,0 kB/detik" in running
    assert "3,2 MB" in done
    # The camera as every table names it: location and camera, in the export rows too.
    assert running.count("Simpang Empat Kamera 1 — Kamera 1") >= 2
    # Step 6's "Tandai selesai" is offered only once the server would accept it.
    for html in (queued, running):
        assert re.search(r'value="complete" disabled[^>]*>Tandai selesai', html)
        assert "Selesaikan ekspor semua titik CCTV terlebih dahulu." in html
    assert re.search(r'value="complete">Tandai selesai', done)
    assert 'value="complete" disabled' not in done


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def test_the_overwrite_warning_goes_once_the_copy_is_taken_and_the_pemohon_never_sees_it(
    factory: Factory, client: TestClient, session: Session
) -> None:
    created, people = walk_to_export_step(factory)
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    request.items[0].preservation = Preservation.AT_RISK
    request.items[0].oldest_recording_at = factory.now - timedelta(days=2)
    session.commit()
    page = f"/permintaan/{created['id']}"
    _sign_in(client, people[Role.PEMOHON])
    agency_page, agency_list = client.get(page).text, client.get("/").text
    _sign_in(client, people[Role.OPERATOR])
    warned = client.get(page).text
    client.post(f"{page}/pengamanan", data={"csrf": _csrf(warned)})
    copying = client.get(page).text
    [export] = session.query(Export).filter_by(request_id=created["id"]).all()
    export.state, export.size_bytes, export.sha256 = ExportState.DONE, 1000, "cd" * 32
    session.commit()
    copied = client.get(page).text

    assert "hampir tertimpa" in warned
    assert "Ambil salinan pengamanan" in warned
    assert "Rekaman tertua di NVR" in warned
    assert "hampir tertimpa" not in copying
    assert "Ambil salinan pengamanan" not in copying
    assert "sedang diambil" in copying
    assert "hampir tertimpa" not in copied
    assert "sedang diambil" not in copied
    for html in (agency_page, agency_list):  # no NVR internals for the agency
        for internal in ("tertimpa", "Rekaman tertua", "Rekaman di NVR", "data-preservation"):
            assert internal not in html
