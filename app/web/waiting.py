"""What waits for the signed-in user: the requests whose current SOP step is theirs to do, and
the BASTs waiting for their electronic signature or approval.

A first-time Kepala Dinas opening Saksi from a notification must see the letter waiting for their
disposition first, not hunt for it in the list of every request (issue 19). The rules are the
services' own: a step is the user's when its roles include the user's (and an operator's only once
the request is assigned to them, as `sop_service.check_performable` refuses the others); a BAST
waits for the user when the request page would offer them its signing or approval form
(`handover_view.esign_context`, itself `signing.check_may_sign`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.auth.models import WRITING_STAFF_ROLES, Role, User
from app.handover import issuing
from app.requests import listing
from app.requests.models import EvidenceRequest, RequestStatus
from app.requests.schemas import RequestSummary
from app.runtime import Runtime
from app.sop.definition import SopDefinition, StepAction
from app.web.handover_view import esign_context

LIMIT = 50


def acting_steps(sop: SopDefinition, user: User) -> list[int]:
    """The SOP steps after registration that the user's role performs."""
    return [s.number for s in sop.steps[1:] if user.role in s.roles]


def waiting_for(
    session: Session, runtime: Runtime, user: User, now: datetime
) -> list[RequestSummary] | None:
    """The requests waiting for `user`, the most urgent first; None when the role never acts
    (the dashboard then shows no such section)."""
    sop = runtime.sop
    steps = acting_steps(sop, user)
    if not steps and user.role is not Role.PEMOHON:
        return None
    found: dict[int, EvidenceRequest] = {}
    if steps:
        query = _in_progress(sop, user, steps, now).options(listing.LIST_COLUMNS)
        if user.role is Role.OPERATOR:
            query = query.where(EvidenceRequest.assigned_operator_id == user.id)
        found |= {r.id: r for r in session.scalars(query)}
    found |= {r.id: r for r in _to_sign(session, runtime, user, now) if r.id not in found}
    rows = listing.summaries(session, sop, list(found.values()), now)
    return sorted(rows, key=_urgency)


def _in_progress(
    sop: SopDefinition, user: User, steps: Sequence[int], now: datetime
) -> Select[Any]:
    """The requests `user` may see that are in progress at one of `steps`, oldest first."""
    query = listing.filtered(
        sop, user, listing.RequestFilters(status=RequestStatus.IN_PROGRESS), now
    )
    return (
        query.where(EvidenceRequest.current_step.in_(steps))
        .order_by(EvidenceRequest.created_at, EvidenceRequest.id)
        .limit(LIMIT)
    )


def _to_sign(
    session: Session, runtime: Runtime, user: User, now: datetime
) -> list[EvidenceRequest]:
    """The requests at the handover step whose BAST the page would let `user` sign or approve."""
    if user.role is not Role.PEMOHON and user.role not in WRITING_STAFF_ROLES:
        return []
    handover_steps = [s.number for s in runtime.sop.steps if s.action is StepAction.HANDOVER]
    waiting = []
    for request in session.scalars(_in_progress(runtime.sop, user, handover_steps, now)):
        handover = issuing.handover_of(session, request)
        offered = esign_context(runtime, session, user, request, handover)
        if offered["can_sign"] or offered["can_approve"]:
            waiting.append(request)
    return waiting


def _urgency(row: RequestSummary) -> tuple[int, float]:
    """Overdue first, then by deadline; steps without a deadline last, oldest first (stable)."""
    step = row.current_step
    if step is None or step.due_at is None:
        return (2, 0.0)
    return (0 if step.overdue else 1, step.due_at.timestamp())
