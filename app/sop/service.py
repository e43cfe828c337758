"""The disposition workflow: performing the current SOP step, returning a request, deadlines.

A step's due time is the completion time of the step before it plus the step's time standard;
the standard is met when the step is performed at or before that time. The rules of who may do
what come from the SOP definition, never from code branches per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.custody import service as custody
from app.notify import outbox
from app.requests.models import EvidenceRequest, RequestStatus
from app.sop.definition import SopDefinition, SopStep, StepAction
from app.sop.models import StepOutcome, StepRecord
from custody.events import JsonValue


@dataclass(frozen=True, slots=True)
class StepDeadline:
    step: SopStep
    due_at: datetime | None


def records(session: Session, request_id: int) -> list[StepRecord]:
    query = select(StepRecord).where(StepRecord.request_id == request_id)
    return list(session.scalars(query.order_by(StepRecord.step_number)))


def current_deadline(
    session: Session, sop: SopDefinition, request: EvidenceRequest
) -> StepDeadline:
    """Return the current step and when it is due (None once the request is closed)."""
    step = sop.step(request.current_step)
    return StepDeadline(step=step, due_at=_due_at(session, request.id, step))


def _due_at(session: Session, request_id: int, step: SopStep) -> datetime | None:
    if step.standard is None or step.number == 1:
        return None
    previous = session.scalar(
        select(StepRecord.performed_at).where(
            StepRecord.request_id == request_id, StepRecord.step_number == step.number - 1
        )
    )
    return None if previous is None else previous + step.standard


def record_registration(
    session: Session, sop: SopDefinition, request: EvidenceRequest, actor: User, now: datetime
) -> StepRecord:
    """Record step 1: the letter is registered (by the pemohon or an operator for them)."""
    request.current_step = 1
    return _complete(session, sop, request, actor, now, note="")


def perform(
    session: Session,
    sop: SopDefinition,
    request: EvidenceRequest,
    actor: User,
    actions: frozenset[StepAction],
    now: datetime,
    *,
    note: str = "",
    expected_step: int | None = None,
    operator: User | None = None,
) -> StepRecord:
    """Perform the current step as `actor` if it is one of `actions`; refuse anything else."""
    step = _performable_step(sop, request, actor, expected_step)
    if step.action not in actions:
        wanted = " or ".join(sorted(action.value for action in actions))
        raise errors.InvalidTransition(
            f"step {step.number} is a {step.action.value!r} step, not {wanted!r}"
        )
    if step.action is StepAction.ASSIGN:
        request.assigned_operator_id = _valid_operator(operator).id
    return _complete(session, sop, request, actor, now, note=note)


def return_request(
    session: Session,
    sop: SopDefinition,
    request: EvidenceRequest,
    actor: User,
    reason: str,
    now: datetime,
    *,
    expected_step: int | None = None,
) -> StepRecord:
    """Return (reject) the request at its current step, with the reason on record."""
    step = _performable_step(sop, request, actor, expected_step)
    record = _record(session, request, step, actor, now, reason, StepOutcome.RETURNED)
    request.status = RequestStatus.RETURNED
    request.updated_at = now
    _flush_once(session, step)
    # In this transaction: the pemohon's e-mail exists exactly when the return does.
    outbox.request_returned(session, request, step, reason, now)
    return record


def check_performable(
    sop: SopDefinition, request: EvidenceRequest, actor: User, expected_step: int | None
) -> SopStep:
    """Refuse, as `perform` would, an actor who may not do the current step now."""
    return _performable_step(sop, request, actor, expected_step)


def _performable_step(
    sop: SopDefinition, request: EvidenceRequest, actor: User, expected_step: int | None
) -> SopStep:
    if request.status is not RequestStatus.IN_PROGRESS:
        raise errors.RequestClosed(f"the request is {request.status.value}; no step can be done")
    step = sop.step(request.current_step)
    if expected_step is not None and expected_step != step.number:
        raise errors.InvalidTransition(
            f"step {expected_step} is not the current step; the request is at step {step.number}"
        )
    if actor.role not in step.roles:
        names = ", ".join(role.value for role in step.roles)
        raise errors.RoleNotPermitted(f"step {step.number} is performed by: {names}")
    assigned = request.assigned_operator_id
    if actor.role is Role.OPERATOR and assigned is not None and assigned != actor.id:
        raise errors.Forbidden("this request is assigned to another operator")
    return step


def _valid_operator(operator: User | None) -> User:
    if operator is None or operator.role is not Role.OPERATOR or not operator.active:
        raise errors.OperatorNotFound("assign an active user with the operator role")
    return operator


def _complete(
    session: Session,
    sop: SopDefinition,
    request: EvidenceRequest,
    actor: User,
    now: datetime,
    *,
    note: str,
) -> StepRecord:
    step = sop.step(request.current_step)
    record = _record(session, request, step, actor, now, note, StepOutcome.COMPLETED)
    if step.number == sop.last_step:
        request.status = RequestStatus.COMPLETED
    else:
        request.current_step = step.number + 1
    request.updated_at = now
    _flush_once(session, step)
    if request.status is RequestStatus.IN_PROGRESS:
        # The next step is now due: its holders are told in this same transaction.
        outbox.step_due(session, request, sop.step(request.current_step), now)
    return record


def _record(
    session: Session,
    request: EvidenceRequest,
    step: SopStep,
    actor: User,
    now: datetime,
    note: str,
    outcome: StepOutcome,
) -> StepRecord:
    due_at = _due_at(session, request.id, step)
    record = StepRecord(
        request_id=request.id,
        step_number=step.number,
        action=step.action.value,
        outcome=outcome,
        actor_id=actor.id,
        actor_role=actor.role.value,
        performed_at=now,
        due_at=due_at,
        met_standard=None if due_at is None else now <= due_at,
        note=note,
        assigned_operator_id=request.assigned_operator_id,
    )
    session.add(record)
    _record_custody(session, request, step, actor, now, note, outcome)
    return record


def _record_custody(
    session: Session,
    request: EvidenceRequest,
    step: SopStep,
    actor: User,
    now: datetime,
    note: str,
    outcome: StepOutcome,
) -> None:
    action = "sop.step_completed" if outcome is StepOutcome.COMPLETED else "sop.request_returned"
    target: dict[str, JsonValue] = {
        "request": request.number if request.id else None,
        "step": step.number,
        "activity": step.activity,
        "note": note,
    }
    if step.action is StepAction.ASSIGN and request.assigned_operator_id is not None:
        target["assigned_operator_id"] = request.assigned_operator_id
    custody.record(
        session, action, custody.performer(actor), now, object=target,
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def _flush_once(session: Session, step: SopStep) -> None:
    # Two officials acting on the same step at once: the unique (request, step) constraint lets
    # one through; the other gets a conflict and its unit of work rolls back.
    try:
        session.flush()
    except IntegrityError as exc:
        raise errors.InvalidTransition(f"step {step.number} has just been performed") from exc


def overdue_steps(
    session: Session, sop: SopDefinition, now: datetime
) -> list[tuple[EvidenceRequest, StepDeadline]]:
    """List open requests whose current step is past its due time, most overdue first."""
    open_requests = session.scalars(
        select(EvidenceRequest).where(EvidenceRequest.status == RequestStatus.IN_PROGRESS)
    )
    late = []
    for request in open_requests:
        deadline = current_deadline(session, sop, request)
        if deadline.due_at is not None and deadline.due_at < now:
            late.append((request, deadline))
    return sorted(late, key=lambda pair: pair[1].due_at or now)
