"""The SOP's time standards kept by e-mail: a reminder once half a step's standard has passed,
an escalation to the role above once the step is overdue. Each is queued once per step and
recipient (the outbox's dedupe key), however often the periodic job looks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notify import outbox
from app.requests.models import EvidenceRequest, RequestStatus
from app.sop import service as sop_service
from app.sop.definition import SopDefinition


def queue_reminders_and_escalations(session: Session, sop: SopDefinition, now: datetime) -> int:
    """Queue the reminders and escalations due at `now` for every open request; return how
    many messages were queued."""
    queued = 0
    open_requests = session.scalars(
        select(EvidenceRequest)
        .where(EvidenceRequest.status == RequestStatus.IN_PROGRESS)
        .order_by(EvidenceRequest.id)
    )
    for request in list(open_requests):
        deadline = sop_service.current_deadline(session, sop, request)
        step, due_at = deadline.step, deadline.due_at
        if due_at is None or step.standard is None:
            continue
        if now > due_at:
            queued += len(outbox.escalation(session, request, step, due_at, now))
        elif now >= due_at - step.standard / 2:
            queued += len(outbox.reminder(session, request, step, due_at, now))
    return queued
