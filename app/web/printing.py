"""The print view of a request with its *lembar disposisi* (issue 19, item 7).

Offices still file a paper copy of each letter with its disposition sheet: who passed it to
whom, when, with which instruction, against the SOP's time standard. This page is that sheet,
laid out for A4 (its own print style sheet); every line comes from the SOP records the request
page shows, nothing is typed again. It is an internal document: staff only.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import errors
from app.auth import service as auth_service
from app.auth.models import STAFF_ROLES, User
from app.deps import RuntimeDep, SessionDep
from app.http import PathId
from app.requests import service as requests_service
from app.requests.schemas import RequestRead
from app.sop.definition import SopDefinition, SopStep
from app.sop.schemas import StepRecordRead
from app.web import labels
from app.web.routes import WebUser, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One line of the disposition sheet: a step as done (or still open)."""

    step: SopStep
    record: StepRecordRead | None
    performer: str
    forwarded_to: str


@router.get("/permintaan/{request_id}/cetak", response_class=HTMLResponse)
def print_view(
    request: Request, request_id: PathId, user: WebUser, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    if user.role not in STAFF_ROLES:
        raise errors.RoleNotPermitted("the disposition sheet is an internal document of the office")
    evidence = requests_service.get_request(session, request_id)
    requests_service.check_can_read(user, evidence)
    now = runtime.clock.now()
    detail = requests_service.describe(session, runtime.sop, evidence, now)
    people = {u.id: u for u in auth_service.list_users(session)}
    return render(
        request, runtime, "request_print.html", user=user, detail=detail, printed_at=now,
        lines=sheet_lines(runtime.sop, detail, people),
    )  # fmt: skip


def sheet_lines(
    sop: SopDefinition, detail: RequestRead, people: dict[int, User]
) -> list[SheetLine]:
    """Every SOP step in order, with its last record: a returned request shows the return."""
    last: dict[int, StepRecordRead] = {}
    for done in sorted(detail.steps, key=lambda r: r.performed_at):
        last[done.step_number] = done
    lines = []
    for step in sop.steps:
        record = last.get(step.number)
        lines.append(SheetLine(
            step=step, record=record, performer=_performer(step, record, people),
            forwarded_to=_forwarded_to(sop, step, record, people),
        ))  # fmt: skip
    return lines


def _performer(step: SopStep, record: StepRecordRead | None, people: dict[int, User]) -> str:
    roles = ", ".join(labels.ROLES[role.value] for role in step.roles)
    if record is None:
        return roles
    person = people.get(record.actor_id)
    role = labels.ROLES[record.actor_role.value]
    return f"{person.full_name} ({role})" if person is not None else role


def _forwarded_to(
    sop: SopDefinition, step: SopStep, record: StepRecordRead | None, people: dict[int, User]
) -> str:
    """Whom the step passed the letter to: the named operator of an assignment, the pemohon of
    a return, else the roles of the next step."""
    if record is not None and record.outcome.value == "returned":
        return "Dikembalikan kepada pemohon"
    if record is not None and record.assigned_operator_id is not None:
        operator = people.get(record.assigned_operator_id)
        if operator is not None:
            return f"{operator.full_name} ({labels.ROLES[operator.role.value]})"
    following = [s for s in sop.steps if s.number == step.number + 1]
    if not following:
        return "—"
    return ", ".join(labels.ROLES[role.value] for role in following[0].roles)
