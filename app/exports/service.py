"""Export records: starting the exports of a request, attempts, progress. Services never commit.

An export moves `queued → probing → searching → fetching → verifying → done | partial | failed`.
Every run of its job is an attempt row; an attempt that ends badly stays on record, and so does
its partial file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.custody import service as custody
from app.exports.models import (
    TERMINAL_STATES,
    AttemptOutcome,
    Export,
    ExportAttempt,
    ExportPurpose,
    ExportState,
)
from app.requests.models import EvidenceRequest, Preservation, RequestItem, RequestStatus
from app.sop.definition import SopDefinition, StepAction

# An export that is queued, running or has produced a clip is not started again.
_NOT_RESTARTABLE = frozenset(set(ExportState) - {ExportState.FAILED})


def start_exports(
    session: Session,
    sop: SopDefinition,
    request: EvidenceRequest,
    user: User,
    now: datetime,
) -> list[Export]:
    """Create the exports of every item not yet exported; the caller enqueues their jobs."""
    _check_may_export(sop, request, user)
    created = [
        _new_export(session, item, ExportPurpose.EVIDENCE, user, now)
        for item in items_to_export(session, request)
    ]
    session.flush()
    return created


def items_to_export(session: Session, request: EvidenceRequest) -> list[RequestItem]:
    """The items with no export queued, running or done: never started, or whose latest failed.
    A preservation copy taken at intake stands for its item: it is not fetched twice."""
    existing = latest_by_item(session, request.id)
    return [
        item
        for item in request.items
        if item.id not in existing or existing[item.id].state not in _NOT_RESTARTABLE
    ]


def _check_may_export(sop: SopDefinition, request: EvidenceRequest, user: User) -> None:
    if request.status is not RequestStatus.IN_PROGRESS:
        raise errors.RequestClosed(f"the request is {request.status.value}")
    step = sop.step(request.current_step)
    if step.action is not StepAction.EXPORT:
        raise errors.InvalidTransition(
            f"exports start at the export step; the request is at step {step.number}"
        )
    if user.role is not Role.OPERATOR or user.id != request.assigned_operator_id:
        raise errors.Forbidden("only the operator assigned to this request exports its footage")


def latest_by_item(session: Session, request_id: int) -> dict[int, Export]:
    """Each item's newest export of the request (preservation copies count)."""
    query = select(Export).where(Export.request_id == request_id).order_by(Export.id)
    return {export.item_id: export for export in session.scalars(query)}


def start_preservation(
    session: Session, request: EvidenceRequest, user: User, now: datetime
) -> list[Export]:
    """Export the at-risk items at once, ahead of the dispositions, as preservation copies."""
    if request.status is not RequestStatus.IN_PROGRESS:
        raise errors.RequestClosed(f"the request is {request.status.value}")
    if user.role is not Role.OPERATOR:
        raise errors.Forbidden("only an operator takes preservation copies")
    at_risk = [i for i in request.items if i.preservation is Preservation.AT_RISK]
    if not at_risk:
        raise errors.InvalidTransition("no item of this request is at risk of being overwritten")
    existing = latest_by_item(session, request.id)
    created = [
        _new_export(session, item, ExportPurpose.PRESERVATION, user, now)
        for item in at_risk
        if item.id not in existing or existing[item.id].state not in _NOT_RESTARTABLE
    ]
    session.flush()
    if created:
        custody.record(
            session, "export.preservation_started", custody.performer(user), now,
            object={"request": request.number, "exports": [e.id for e in created],
                    "reason": "window close to the NVR's oldest recording"},
            authorization=request.letter_number, request_id=request.id,
        )  # fmt: skip
    return created


def _new_export(
    session: Session, item: RequestItem, purpose: ExportPurpose, user: User, now: datetime
) -> Export:
    export = Export(
        request_id=item.request_id,
        item_id=item.id,
        purpose=purpose,
        state=ExportState.QUEUED,
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
        bytes_written=0,
        media_seconds=0.0,
        percent=0.0,
    )
    session.add(export)
    return export


def get_export(session: Session, export_id: int) -> Export:
    export = session.get(Export, export_id)
    if export is None:
        raise errors.NotFound(f"export {export_id} does not exist")
    return export


def exports_of(session: Session, request_id: int) -> list[Export]:
    query = select(Export).where(Export.request_id == request_id).order_by(Export.id)
    return list(session.scalars(query))


def begin_attempt(session: Session, export: Export, worker: str, now: datetime) -> ExportAttempt:
    """Open the next attempt of an export (a retry or a restart after a crash)."""
    number = 1 + max((a.number for a in export.attempts), default=0)
    attempt = ExportAttempt(
        export_id=export.id,
        number=number,
        worker=worker,
        started_at=now,
        heartbeat_at=now,
        outcome=AttemptOutcome.RUNNING,
    )
    session.add(attempt)
    export.attempts.append(attempt)
    session.flush()
    return attempt


def move(session: Session, export: Export, state: ExportState, now: datetime) -> None:
    """Advance an export's state; a finished export never moves again."""
    if export.state in TERMINAL_STATES:
        raise errors.InvalidTransition(f"export {export.id} is already {export.state.value}")
    export.state = state
    export.updated_at = now
    if state in TERMINAL_STATES:
        export.finished_at = now
    session.flush()


def end_attempt(
    attempt: ExportAttempt,
    outcome: AttemptOutcome,
    now: datetime,
    error: tuple[str, str] | None = None,
) -> None:
    """Close an attempt with its outcome and, if it failed, why."""
    attempt.outcome = outcome
    attempt.ended_at = now
    attempt.heartbeat_at = now
    if error is not None:
        attempt.error_code, attempt.error_detail = error
