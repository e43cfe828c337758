"""Each user turns their own e-mail notifications on or off on the profile page (issue 19)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.db import unit_of_work
from app.runtime import Runtime
from custody import ledger
from tests.app.factories import PASSWORD, Factory


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _stored(session: Session, user: User) -> tuple[str | None, bool]:
    session.refresh(user)
    return user.email, user.notify_email


def _sign_in(client: TestClient, user: User) -> None:
    page = client.post("/masuk", data={"username": user.username, "password": PASSWORD})
    assert page.status_code == 200


def test_a_user_turns_email_off_and_on_and_each_change_is_on_the_ledger(
    factory: Factory, client: TestClient, session: Session, runtime: Runtime
) -> None:
    official = factory.user(Role.KEPALA_DINAS, username="kadis-profil")
    _sign_in(client, official)
    page = client.get("/profil").text
    csrf = _csrf(page)
    assert 'name="notify_email" value="1" checked' in page

    off = client.post("/profil", data={"csrf": csrf, "email": "kadis@example.go.id"})
    after_off = _stored(session, official)
    address = {"csrf": csrf, "email": "kadis@example.go.id"}
    on = client.post("/profil", data=address | {"notify_email": "1"})

    assert off.status_code == 200  # redirected back to the page
    assert "Perubahan disimpan." in off.text
    assert after_off == ("kadis@example.go.id", False)
    assert on.status_code == 200
    assert _stored(session, official) == ("kadis@example.go.id", True)
    with unit_of_work(runtime.sessions) as reading:
        changes = [json.loads(e.canonical) for e in ledger.read(reading.connection())
                   if e.action == "user.changed"]  # fmt: skip
    mine = [c for c in changes if c["performer"]["id"] == str(official.id)]
    assert len(mine) == 2


def test_a_bad_address_is_refused_and_nothing_changes(
    factory: Factory, client: TestClient, session: Session
) -> None:
    operator = factory.user(Role.OPERATOR, username="operator-profil")
    _sign_in(client, operator)
    csrf = _csrf(client.get("/profil").text)
    before = (operator.email, operator.notify_email)

    refused = client.post("/profil", data={"csrf": csrf, "email": "bukan alamat"})
    forged = client.post("/profil", data={"csrf": "palsu", "email": "x@example.go.id"})

    session.refresh(operator)
    assert refused.status_code == 422
    assert "Alamat e-mail tidak valid." in refused.text
    assert forged.status_code == 403
    assert (operator.email, operator.notify_email) == before


def test_an_auditor_reads_the_profile_but_writes_nothing(
    factory: Factory, client: TestClient
) -> None:
    auditor = factory.user(Role.AUDITOR, username="auditor-profil")
    _sign_in(client, auditor)

    page = client.get("/profil").text
    posted = client.post("/profil", data={"csrf": "tidak-ada", "email": "a@example.go.id"})

    assert "minta administrator" in page
    assert '<form method="post" action="/profil"' not in page
    assert posted.status_code == 403
    assert posted.json()["error"] == "RoleNotPermitted"  # refused for the role, before the form
