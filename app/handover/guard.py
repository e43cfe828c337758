"""Who may package, deliver and hand over a request's footage, and when."""

from __future__ import annotations

from app import errors
from app.auth.models import Role, User
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
