"""The register of requests from the database: SOP step times, delivery and purge dates."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.agencies.models import Agency
from app.delivery.models import Delivery
from app.reports.register import RegisterRow, StepRecord
from app.requests.models import EvidenceRequest
from app.sop.definition import SopDefinition
from app.sop.models import StepOutcome
from app.sop.models import StepRecord as StepRow

# A step without a standard of its own (the registration) is measured against none.
NO_STANDARD = timedelta(days=365)


def register_rows(session: Session, sop: SopDefinition) -> list[RegisterRow]:
    """One row per request, oldest first."""
    requests = session.scalars(select(EvidenceRequest).order_by(EvidenceRequest.id))
    agencies = {a.id: a.name for a in session.scalars(select(Agency))}
    return [_row(session, sop, request, agencies[request.agency_id]) for request in requests]


def _row(
    session: Session, sop: SopDefinition, request: EvidenceRequest, agency: str
) -> RegisterRow:
    deliveries = list(
        session.scalars(
            select(Delivery).where(Delivery.request_id == request.id).order_by(Delivery.id)
        )
    )
    shared = [d.shared_at for d in deliveries if d.shared_at is not None]
    purged = [d.purged_at for d in deliveries if d.purged_at is not None]
    return RegisterRow(
        request_number=request.number, agency=agency, letter_number=request.letter_number,
        letter_date=request.letter_date, received_at=request.created_at,
        status=request.status.value, steps=_steps(session, sop, request),
        delivered_at=min(shared, default=None), purged_at=max(purged, default=None),
    )  # fmt: skip


def _steps(
    session: Session, sop: SopDefinition, request: EvidenceRequest
) -> tuple[StepRecord, ...]:
    rows = session.scalars(
        select(StepRow)
        .where(StepRow.request_id == request.id, StepRow.outcome == StepOutcome.COMPLETED)
        .order_by(StepRow.step_number, StepRow.id)
    )
    done = {row.step_number: row.performed_at for row in rows}
    steps: list[StepRecord] = []
    previous: datetime = request.created_at
    for step in sop.steps:
        if step.number not in done and step.number != request.current_step:
            continue
        finished = done.get(step.number)
        steps.append(StepRecord(
            code=str(step.number), name=f"{step.number}. {step.action.value}",
            started_at=previous, completed_at=finished, standard=step.standard or NO_STANDARD,
        ))  # fmt: skip
        if finished is None:
            break
        previous = finished
    return tuple(steps)
