from __future__ import annotations

from fastapi import APIRouter

from app.auth.models import User
from app.deps import CurrentUser, RuntimeDep, SessionDep, StaffUser, WritingUser
from app.handover.guard import check_completable
from app.http import ERROR_RESPONSES
from app.requests import service as requests_service
from app.requests.routes import RequestDep
from app.requests.schemas import RequestRead
from app.sop import service
from app.sop.definition import COMPLETABLE_ACTIONS, SopDefinition, StepAction
from app.sop.schemas import AssignOperator, OverdueStepRead, ReturnRequest, StepNote

router = APIRouter(prefix="/api/v1", tags=["sop"], responses=ERROR_RESPONSES)


@router.get("/sop", response_model=SopDefinition)
def get_sop(_user: CurrentUser, runtime: RuntimeDep) -> SopDefinition:
    """Show the SOP in force: its steps, roles and time standards."""
    return runtime.sop


@router.post("/requests/{request_id}/dispose", response_model=RequestRead)
def dispose(
    request: RequestDep, body: StepNote, user: WritingUser, session: SessionDep, runtime: RuntimeDep
) -> RequestRead:
    """Dispose the letter to the next official (SOP steps 2–4)."""
    now = runtime.clock.now()
    service.perform(
        session,
        runtime.sop,
        request,
        user,
        frozenset({StepAction.DISPOSE}),
        now,
        note=body.note,
        expected_step=body.step,
    )
    return requests_service.describe(session, runtime.sop, request, now)


@router.post("/requests/{request_id}/assign", response_model=RequestRead)
def assign(
    request: RequestDep,
    body: AssignOperator,
    user: WritingUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> RequestRead:
    """Assign an operator to check and export the footage (SOP step 5)."""
    now = runtime.clock.now()
    operator = session.get(User, body.operator_id)
    service.perform(
        session,
        runtime.sop,
        request,
        user,
        frozenset({StepAction.ASSIGN}),
        now,
        note=body.note,
        expected_step=body.step,
        operator=operator,
    )
    return requests_service.describe(session, runtime.sop, request, now)


@router.post("/requests/{request_id}/complete", response_model=RequestRead)
def complete(
    request: RequestDep, body: StepNote, user: WritingUser, session: SessionDep, runtime: RuntimeDep
) -> RequestRead:
    """Record the operator's completion of the current export, handover or log step."""
    now = runtime.clock.now()
    service.check_performable(runtime.sop, request, user, body.step)
    check_completable(session, runtime.sop, request)
    service.perform(
        session,
        runtime.sop,
        request,
        user,
        COMPLETABLE_ACTIONS,
        now,
        note=body.note,
        expected_step=body.step,
    )
    return requests_service.describe(session, runtime.sop, request, now)


@router.post("/requests/{request_id}/return", response_model=RequestRead)
def return_request(
    request: RequestDep,
    body: ReturnRequest,
    user: WritingUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> RequestRead:
    """Return (reject) the request at its current step, with a reason."""
    now = runtime.clock.now()
    service.return_request(
        session, runtime.sop, request, user, body.reason, now, expected_step=body.step
    )
    return requests_service.describe(session, runtime.sop, request, now)


@router.get("/sop/overdue", response_model=list[OverdueStepRead])
def overdue(_user: StaffUser, session: SessionDep, runtime: RuntimeDep) -> list[OverdueStepRead]:
    """List open requests whose current SOP step is past its time standard."""
    now = runtime.clock.now()
    return [
        OverdueStepRead(
            request_id=request.id,
            request_number=request.number,
            step=requests_service.current_step_read(deadline, now),
            overdue_by_minutes=int((now - (deadline.due_at or now)).total_seconds() // 60),
        )
        for request, deadline in service.overdue_steps(session, runtime.sop, now)
    ]
