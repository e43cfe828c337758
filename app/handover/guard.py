"""Who may package, deliver and hand over a request's footage, and when."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.exports.models import TERMINAL_STATES, ExportState
from app.exports.service import latest_by_item
from app.requests.models import EvidenceRequest, RequestStatus
from app.sop.definition import SopDefinition, StepAction


def check_may_hand_over(sop: SopDefinition, request: EvidenceRequest, user: User) -> None:
    """Only the assigned operator, and only once the request has reached the handover step."""
    if request.status is not RequestStatus.IN_PROGRESS:
        raise errors.RequestClosed(f"the request is {request.status.value}")
    step = sop.step(request.current_step)
    if step.action is not StepAction.HANDOVER:
        raise errors.InvalidTransition(
            f"the handover is step {_handover_step(sop)}; the request is at step {step.number}"
        )
    if user.role is not Role.OPERATOR or user.id != request.assigned_operator_id:
        raise errors.Forbidden("only the operator assigned to this request hands it over")


def _handover_step(sop: SopDefinition) -> int:
    return next(s.number for s in sop.steps if s.action is StepAction.HANDOVER)


def check_completable(session: Session, sop: SopDefinition, request: EvidenceRequest) -> None:
    """Steps with evidence of their own close only when it exists.

    The export step needs every item's export finished and at least one clip; the handover step
    is closed by the BAST's three electronic signatures or by uploading its signed scan, never
    by a plain "done".
    """
    if request.status is not RequestStatus.IN_PROGRESS:
        return  # the SOP service refuses with the request's status
    step = sop.step(request.current_step)
    if step.action is StepAction.HANDOVER:
        raise errors.ClosedBySignedScan(
            "the handover step closes when the BAST is signed electronically by the three parties "
            "or its signed scan is uploaded"
        )
    if step.action is StepAction.EXPORT:
        _check_exported(session, request)


def _check_exported(session: Session, request: EvidenceRequest) -> None:
    latest = latest_by_item(session, request.id)  # preservation copies count
    finished = [e for e in latest.values() if e.state in TERMINAL_STATES]
    clips = [e for e in finished if e.state in (ExportState.DONE, ExportState.PARTIAL)]
    if len(finished) < len(request.items) or not clips:
        raise errors.ExportsIncomplete(
            f"export every item before closing the export step: {len(clips)} of "
            f"{len(request.items)} items have a clip, {len(finished)} finished"
        )
