"""The request page offers to start exports only while there is something to start."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.exports.models import Export, ExportState
from tests.app.factories import PASSWORD, Factory, walk_to_export_step


def test_the_export_button_follows_what_is_left_to_start(
    factory: Factory, client: TestClient, session: Session
) -> None:
    created, people = walk_to_export_step(factory, cameras=2)
    operator = people[Role.OPERATOR]
    client.post("/masuk", data={"username": operator.username, "password": PASSWORD})
    page = f"/permintaan/{created['id']}"

    before = client.get(page).text
    started = client.post(
        f"/api/v1/requests/{created['id']}/exports", headers=factory.headers(operator)
    ).json()
    after = client.get(page).text
    failed = session.get(Export, started[0]["id"])
    assert failed is not None
    failed.state = ExportState.FAILED
    session.commit()
    after_failure = client.get(page).text

    assert "Mulai ekspor" in before
    assert len(started) == 2
    assert "Mulai ekspor" not in after
    assert "Ulangi ekspor" not in after
    assert "Ulangi ekspor yang gagal" in after_failure
    assert "Mulai ekspor" not in after_failure
