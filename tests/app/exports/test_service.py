"""Starting exports: only at the export step, only by the assigned operator, never twice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.exports import service
from app.exports.models import AttemptOutcome, ExportPurpose, ExportState
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from tests.app.factories import Factory, walk_to_export_step


@pytest.fixture
def at_export_step(factory: Factory, session: Session) -> dict[str, Any]:
    created, people = walk_to_export_step(factory, cameras=2)
    session.expire_all()
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    assert request.current_step == 6
    return {"request": request, "people": people}


def test_the_assigned_operator_starts_one_export_per_item(
    session: Session, runtime: Runtime, at_export_step: dict[str, Any]
) -> None:
    request, operator = at_export_step["request"], at_export_step["people"][Role.OPERATOR]

    exports = service.start_exports(session, runtime.sop, request, operator, runtime.clock.now())
    again = service.start_exports(session, runtime.sop, request, operator, runtime.clock.now())

    assert [e.item_id for e in exports] == [item.id for item in request.items]
    assert {e.state for e in exports} == {ExportState.QUEUED}
    assert {e.purpose for e in exports} == {ExportPurpose.EVIDENCE}
    assert again == []


def test_a_failed_export_is_kept_and_a_new_one_started(
    session: Session, runtime: Runtime, at_export_step: dict[str, Any]
) -> None:
    request, operator = at_export_step["request"], at_export_step["people"][Role.OPERATOR]
    now = runtime.clock.now()
    first, _second = service.start_exports(session, runtime.sop, request, operator, now)
    attempt = service.begin_attempt(session, first, "worker-1", now)
    service.move(session, first, ExportState.PROBING, now)
    service.end_attempt(attempt, AttemptOutcome.FAILED, now, ("NvrUnreachable", "timed out"))
    service.move(session, first, ExportState.FAILED, now)

    restarted = service.start_exports(session, runtime.sop, request, operator, now)

    assert [e.item_id for e in restarted] == [first.item_id]
    kept = service.get_export(session, first.id)
    assert kept.state is ExportState.FAILED
    assert kept.attempts[0].error_code == "NvrUnreachable"
    assert len(service.exports_of(session, request.id)) == 3


@pytest.mark.parametrize("who", [Role.SUBKOORDINATOR, "another operator"])
def test_only_the_assigned_operator_exports(
    session: Session,
    runtime: Runtime,
    factory: Factory,
    at_export_step: dict[str, Any],
    who: Role | str,
) -> None:
    user: User = (
        at_export_step["people"][who] if isinstance(who, Role) else factory.user(Role.OPERATOR)
    )

    with pytest.raises(errors.Forbidden):
        service.start_exports(
            session, runtime.sop, at_export_step["request"], user, runtime.clock.now()
        )


def test_exports_wait_for_the_export_step(
    session: Session, runtime: Runtime, at_export_step: dict[str, Any]
) -> None:
    request = at_export_step["request"]
    request.current_step = 5

    with pytest.raises(errors.InvalidTransition, match="at step 5"):
        service.start_exports(
            session,
            runtime.sop,
            request,
            at_export_step["people"][Role.OPERATOR],
            runtime.clock.now(),
        )


def test_a_finished_export_never_moves_again(
    session: Session, runtime: Runtime, at_export_step: dict[str, Any]
) -> None:
    request, operator = at_export_step["request"], at_export_step["people"][Role.OPERATOR]
    now = runtime.clock.now()
    [export, _] = service.start_exports(session, runtime.sop, request, operator, now)
    service.move(session, export, ExportState.DONE, now)

    with pytest.raises(errors.InvalidTransition):
        service.move(session, export, ExportState.FETCHING, now)
    assert export.finished_at == now
