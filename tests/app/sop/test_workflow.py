"""The disposition chain of the CCTV SOP, step by step, with its refusals and deadlines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.clock import FrozenClock
from app.requests.models import EvidenceRequest, RequestStatus
from tests.app.factories import Factory, multipart, request_payload
from tests.app.snapshot import database_state

CHAIN = [Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG]


@pytest.fixture
def office(factory: Factory) -> dict[str, Any]:
    agency = factory.agency()
    nvr = factory.nvr()
    people = {role: factory.user(role) for role in Role if role is not Role.PEMOHON}
    people[Role.PEMOHON] = factory.user(Role.PEMOHON, agency=agency)
    return {"agency": agency, "camera": factory.camera(nvr), "people": people}


def register(factory: Factory, office: dict[str, Any]) -> dict[str, Any]:
    payload = request_payload(office["agency"], [office["camera"]], factory.now)
    pemohon = office["people"][Role.PEMOHON]
    response = factory.client.post(
        "/api/v1/requests", headers=factory.headers(pemohon), **multipart(payload)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def act(factory: Factory, user: User, request_id: int, verb: str, **body: Any) -> Any:
    return factory.client.post(
        f"/api/v1/requests/{request_id}/{verb}", headers=factory.headers(user), json=body
    )


def advance_to_assignment(factory: Factory, office: dict[str, Any], request_id: int) -> None:
    for role in CHAIN:
        response = act(factory, office["people"][role], request_id, "dispose", note="lanjutkan")
        assert response.status_code == 200, response.text


def test_a_request_walks_through_every_sop_step(factory: Factory, office: dict[str, Any]) -> None:
    people = office["people"]
    request = register(factory, office)
    rid = request["id"]

    for step, role in enumerate(CHAIN, start=2):
        response = act(factory, people[role], rid, "dispose", step=step, note=f"disposisi {step}")
        assert response.status_code == 200, response.text
        assert response.json()["current_step"]["number"] == step + 1
    operator = people[Role.OPERATOR]
    response = act(factory, people[Role.SUBKOORDINATOR], rid, "assign", operator_id=operator.id)
    assert response.status_code == 200, response.text
    assert response.json()["assigned_operator_id"] == operator.id
    # Steps 6 and 7 close on their evidence (exports, the signed BAST): see test_walkthrough.
    refused = act(factory, operator, rid, "complete", step=6, note="selesai 6")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("export every item before closing")

    final = factory.client.get(f"/api/v1/requests/{rid}", headers=factory.headers(operator)).json()
    assert final["status"] == "in_progress"
    assert final["current_step"]["number"] == 6
    assert [s["step_number"] for s in final["steps"]] == [1, 2, 3, 4, 5]
    assert [s["actor_role"] for s in final["steps"]] == [
        "pemohon", "kepala_dinas", "sekretaris", "kepala_bidang", "subkoordinator",
    ]  # fmt: skip
    assert [s["action"] for s in final["steps"]] == [
        "register", "dispose", "dispose", "dispose", "assign",
    ]  # fmt: skip
    assert all(s["outcome"] == "completed" for s in final["steps"])
    assert final["steps"][4]["assigned_operator_id"] == operator.id
    assert final["steps"][1]["note"] == "disposisi 2"


STEP_2_ONLY = "step 2 is performed by: kepala_dinas"


@pytest.mark.parametrize(
    ("role", "detail"),
    [
        (Role.PEMOHON, STEP_2_ONLY),
        (Role.SEKRETARIS, STEP_2_ONLY),
        (Role.OPERATOR, STEP_2_ONLY),
        # The read-only role is refused before the SOP is asked (issue 17).
        (Role.AUDITOR, "the role 'auditor' may not do this"),
        (Role.ADMIN, STEP_2_ONLY),
    ],
)
def test_wrong_role_is_refused_and_nothing_changes(
    factory: Factory, office: dict[str, Any], session: Session, role: Role, detail: str
) -> None:
    rid = register(factory, office)["id"]
    before = database_state(session)

    response = act(factory, office["people"][role], rid, "dispose", note="bukan giliran saya")

    assert response.status_code == 403
    assert response.json() == {"error": "RoleNotPermitted", "detail": detail}
    assert database_state(session) == before


def test_stale_step_number_is_a_conflict(
    factory: Factory, office: dict[str, Any], session: Session
) -> None:
    rid = register(factory, office)["id"]
    kepala = office["people"][Role.KEPALA_DINAS]
    assert act(factory, kepala, rid, "dispose", step=2).status_code == 200
    before = database_state(session)

    # A second click from a page that still shows step 2.
    response = act(factory, office["people"][Role.SEKRETARIS], rid, "dispose", step=2)

    assert response.status_code == 409
    assert response.json()["error"] == "InvalidTransition"
    assert database_state(session) == before


def test_wrong_kind_of_step_is_a_conflict(
    factory: Factory, office: dict[str, Any], session: Session
) -> None:
    rid = register(factory, office)["id"]
    advance_to_assignment(factory, office, rid)
    before = database_state(session)
    sub = office["people"][Role.SUBKOORDINATOR]

    responses = [
        act(factory, sub, rid, "dispose", note="harusnya menunjuk staf"),
        act(factory, sub, rid, "complete"),
    ]

    for response in responses:
        assert response.status_code == 409
        assert response.json()["error"] == "InvalidTransition"
    assert database_state(session) == before


def test_assignment_needs_an_active_operator(
    factory: Factory, office: dict[str, Any], session: Session
) -> None:
    rid = register(factory, office)["id"]
    advance_to_assignment(factory, office, rid)
    before = database_state(session)
    sub = office["people"][Role.SUBKOORDINATOR]

    for operator_id in (office["people"][Role.AUDITOR].id, 999_999):
        response = act(factory, sub, rid, "assign", operator_id=operator_id)
        assert response.status_code == 422
        assert response.json()["error"] == "OperatorNotFound"
    assert database_state(session) == before


def test_only_the_assigned_operator_works_the_request(
    factory: Factory, office: dict[str, Any], session: Session
) -> None:
    rid = register(factory, office)["id"]
    advance_to_assignment(factory, office, rid)
    assigned = office["people"][Role.OPERATOR]
    act(factory, office["people"][Role.SUBKOORDINATOR], rid, "assign", operator_id=assigned.id)
    other = factory.user(Role.OPERATOR, username="operator-lain")
    before = database_state(session)

    response = act(factory, other, rid, "complete")

    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
    assert database_state(session) == before


def test_a_returned_request_is_closed(
    factory: Factory, office: dict[str, Any], session: Session
) -> None:
    rid = register(factory, office)["id"]
    act(factory, office["people"][Role.KEPALA_DINAS], rid, "dispose")

    returned = act(
        factory,
        office["people"][Role.SEKRETARIS],
        rid,
        "return",
        reason="Surat tidak bertanda tangan",
    )

    assert returned.status_code == 200, returned.text
    body = returned.json()
    assert body["status"] == "returned"
    assert body["steps"][-1]["step_number"] == 3
    assert body["steps"][-1]["outcome"] == "returned"
    assert body["steps"][-1]["note"] == "Surat tidak bertanda tangan"
    before = database_state(session)
    for verb, role in (("dispose", Role.KEPALA_BIDANG), ("return", Role.SEKRETARIS)):
        response = act(factory, office["people"][role], rid, verb, reason="lagi")
        assert response.status_code == 409
        assert response.json()["error"] == "RequestClosed"
    assert database_state(session) == before


def test_return_needs_a_reason(factory: Factory, office: dict[str, Any]) -> None:
    rid = register(factory, office)["id"]

    response = act(factory, office["people"][Role.KEPALA_DINAS], rid, "return", reason="  ")

    assert response.status_code == 422
    assert response.json()["error"] == "ValidationFailed"
    assert response.json()["fields"][0]["field"] == "reason"


def test_a_completed_request_takes_no_more_steps(factory: Factory, office: dict[str, Any]) -> None:
    rid = register(factory, office)["id"]
    advance_to_assignment(factory, office, rid)
    operator = office["people"][Role.OPERATOR]
    act(factory, office["people"][Role.SUBKOORDINATOR], rid, "assign", operator_id=operator.id)
    request = factory.session.get(EvidenceRequest, rid)
    assert request is not None
    request.status = RequestStatus.COMPLETED  # as the log step leaves it
    factory.session.flush()

    response = act(factory, operator, rid, "complete")

    assert response.status_code == 409
    assert response.json()["error"] == "RequestClosed"


def test_due_times_and_the_standard_met_or_missed(
    factory: Factory, office: dict[str, Any], clock: FrozenClock
) -> None:
    people = office["people"]
    rid = register(factory, office)["id"]
    registered_at = clock.now()

    clock.advance(timedelta(minutes=10))
    on_time = act(factory, people[Role.KEPALA_DINAS], rid, "dispose").json()["steps"][1]
    clock.advance(timedelta(minutes=15))
    exactly = act(factory, people[Role.SEKRETARIS], rid, "dispose").json()["steps"][2]
    clock.advance(timedelta(minutes=15, seconds=1))
    late = act(factory, people[Role.KEPALA_BIDANG], rid, "dispose").json()["steps"][3]

    assert on_time["due_at"] == _iso(registered_at + timedelta(minutes=15))
    assert on_time["met_standard"] is True
    assert exactly["due_at"] == _iso(registered_at + timedelta(minutes=25))
    assert exactly["met_standard"] is True
    assert late["due_at"] == _iso(registered_at + timedelta(minutes=40))
    assert late["met_standard"] is False
    assert late["performed_at"] == _iso(registered_at + timedelta(minutes=40, seconds=1))


def test_overdue_steps_are_listed(
    factory: Factory, office: dict[str, Any], clock: FrozenClock
) -> None:
    auditor = office["people"][Role.AUDITOR]
    first = register(factory, office)
    clock.advance(timedelta(minutes=14))
    assert factory.client.get("/api/v1/sop/overdue", headers=factory.headers(auditor)).json() == []

    clock.advance(timedelta(minutes=3))
    response = factory.client.get("/api/v1/sop/overdue", headers=factory.headers(auditor))

    assert response.status_code == 200
    [entry] = response.json()
    assert entry["request_id"] == first["id"]
    assert entry["step"]["number"] == 2
    assert entry["step"]["overdue"] is True
    assert entry["overdue_by_minutes"] == 2
    pemohon = office["people"][Role.PEMOHON]
    hidden = factory.client.get("/api/v1/sop/overdue", headers=factory.headers(pemohon))
    assert hidden.status_code == 403


def test_the_sop_definition_is_published(factory: Factory, office: dict[str, Any]) -> None:
    response = factory.client.get(
        "/api/v1/sop", headers=factory.headers(office["people"][Role.OPERATOR])
    )

    body = response.json()
    assert body["reference"] == "500.12.15.1/916/TI"
    assert [s["roles"] for s in body["steps"][:5]] == [
        ["pemohon", "operator"],
        ["kepala_dinas"],
        ["sekretaris"],
        ["kepala_bidang"],
        ["subkoordinator"],
    ]
    assert [s["standard_minutes"] for s in body["steps"][1:5]] == [15, 15, 15, 15]


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))
