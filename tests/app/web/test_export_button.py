"""The request page: exports offered only while there is something to start; an at-risk item
that has its clip reads as secured; an item the NVR holds nothing of says so."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.exports.models import Export, ExportState
from app.requests.models import EvidenceRequest, Preservation
from tests.app.factories import PASSWORD, Factory, walk_to_export_step


def _marked_request(
    factory: Factory, client: TestClient, session: Session, marks: list[Preservation]
) -> tuple[int, dict[Role, User]]:
    """A request at its export step whose items read `marks` at intake, and its operator signed
    in to the web UI (the pemohon sees no NVR internals); the request's id and its people."""
    created, people = walk_to_export_step(factory, cameras=len(marks))
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    for item, mark in zip(request.items, marks, strict=True):
        item.preservation = mark
    session.commit()
    client.post("/masuk", data={"username": people[Role.OPERATOR].username, "password": PASSWORD})
    return created["id"], people


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
    failed.error_code = "RecordingNotFound"
    failed.error_detail = "PLAY: nothing in that range (404)"
    session.commit()
    after_failure = client.get(page).text

    assert "Mulai ekspor" in before
    assert len(started) == 2
    assert "Mulai ekspor" not in after
    assert "Ulangi ekspor" not in after
    assert "Ulangi ekspor yang gagal" in after_failure
    assert "Mulai ekspor" not in after_failure
    # Why it failed, in the operator's words; the code and the device's words in the tooltip.
    assert "(tidak ada rekaman pada rentang waktu ini)" in after_failure
    assert 'title="RecordingNotFound: PLAY: nothing in that range (404)"' in after_failure


def test_an_at_risk_item_with_a_clip_reads_as_secured(
    factory: Factory, client: TestClient, session: Session
) -> None:
    """The warning stays (the NVR will still overwrite it) but no longer reads as urgent."""
    request_id, people = _marked_request(factory, client, session, [Preservation.AT_RISK])
    page = f"/permintaan/{request_id}"
    urgent = client.get(page).text
    [started] = client.post(
        f"/api/v1/requests/{request_id}/exports", headers=factory.headers(people[Role.OPERATOR])
    ).json()
    export = session.get(Export, started["id"])
    assert export is not None
    export.state = ExportState.DONE
    session.commit()

    secured = client.get(page).text

    assert '<strong class="late">Segera tertimpa</strong>' in urgent
    assert "salinan sudah diamankan" not in urgent
    assert "salinan sudah diamankan" in secured
    assert '<strong class="late">Segera tertimpa</strong>' not in secured


def test_an_item_the_nvr_holds_nothing_of_says_so_without_claiming_it_was_overwritten(
    factory: Factory, client: TestClient, session: Session
) -> None:
    marks = [Preservation.ABSENT, Preservation.OVERWRITTEN]
    request_id, _people = _marked_request(factory, client, session, marks)

    page = client.get(f"/permintaan/{request_id}").text

    assert page.count("Tidak ada rekaman di NVR") == 1
    assert page.count("Sudah tertimpa") == 1
