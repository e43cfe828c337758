"""The auditor's page runs the ledger verification and names the first tampered record."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.custody import service as custody
from custody import ledger
from tests.app.factories import PASSWORD, Factory


def _login(factory: Factory, client: TestClient, role: Role) -> str:
    user = factory.user(role)
    page = client.post("/masuk", data={"username": user.username, "password": PASSWORD})
    assert page.status_code == 200
    audit = client.get("/audit")
    found = re.search(r'name="csrf" value="([^"]+)"', audit.text)
    return found.group(1) if found else ""


def _tamper(session: Session) -> None:
    """What a superuser does behind the triggers: edit one record in place."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "ALTER TABLE custody_events DISABLE TRIGGER custody_events_no_change"
        )
    else:
        connection.exec_driver_sql("DROP TRIGGER custody_events_no_update")
    connection.exec_driver_sql(
        "UPDATE custody_events SET canonical = replace(canonical, 'NVR A', 'NVR B') WHERE seq = 2"
    )


def test_the_auditor_verifies_the_ledger_and_sees_the_first_bad_record(
    factory: Factory, session: Session, client: TestClient
) -> None:
    for name in ("NVR A", "NVR A2", "NVR A3"):
        custody.record(session, "nvr.probed", custody.SYSTEM, factory.now, object={"nvr": name})
    session.commit()
    csrf = _login(factory, client, Role.AUDITOR)

    clean = client.post("/audit/periksa", data={"csrf": csrf})
    _tamper(session)
    tampered = client.post("/audit/periksa", data={"csrf": csrf})

    assert clean.status_code == 200
    assert "Utuh." in clean.text
    assert tampered.status_code == 409
    assert "Tidak utuh." in tampered.text
    assert re.search(r"nomor urut <strong>2</strong>", tampered.text)
    runs = [e for e in ledger.read(session.connection()) if e.action == "ledger.verified"]
    assert len(runs) == 2  # each run is on record


def test_the_audit_page_is_for_auditors_and_administrators(
    factory: Factory, client: TestClient
) -> None:
    _login(factory, client, Role.OPERATOR)

    refused = client.get("/audit")

    assert refused.status_code == 403


def test_registry_and_account_changes_are_listed_for_the_auditor(
    factory: Factory, client: TestClient
) -> None:
    nvr = factory.nvr(name="NVR Pasar Sumber")
    admin = factory.headers(factory.user(Role.ADMIN))
    factory.client.patch(f"/api/v1/nvrs/{nvr.id}", json={"rtsp_port": 9554}, headers=admin)
    auditor = factory.headers(factory.user(Role.AUDITOR))

    listed = factory.client.get("/api/v1/custody/office-events", headers=auditor).json()
    older = factory.client.get(
        f"/api/v1/custody/office-events?before_seq={listed[0]['seq']}&limit=1", headers=auditor
    ).json()
    refused = factory.client.get(
        "/api/v1/custody/office-events", headers=factory.headers(factory.user(Role.OPERATOR))
    )
    _login(factory, client, Role.AUDITOR)
    page = client.get("/audit")

    seqs = [e["seq"] for e in listed]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert all(e["event"].get("request_id") is None for e in listed)
    changed = next(e for e in listed if e["action"] == "registry.nvr_changed")
    assert changed["event"]["object"]["changes"] == {"rtsp_port": 9554}
    assert [e["seq"] for e in older] == [seqs[1]]
    assert refused.status_code == 403
    row = re.search(rf'<tr data-seq="{changed["seq"]}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "NVR diubah" in row.group(1)
    assert "NVR Pasar Sumber" in row.group(1)
    assert "rtsp_port: 9554" in row.group(1)
