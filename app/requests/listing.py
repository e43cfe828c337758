"""Lists of requests that scale: keyset pages, filters, and a constant number of queries.

A page is `limit` requests (newest first) after an opaque cursor, the request's own
`(created_at, id)`: stable while requests are added, and cheap at any depth. The summaries of a
page are built from five queries whatever its length (the page, the agencies, the step
records the deadlines need, the at-risk items and the items with a clip); one per request each
was 3-4 queries per row and the dominant cost of a list under load (issue 17).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, load_only

from app import errors
from app.agencies.models import Agency
from app.auth.models import Role, User
from app.exports.models import Export, ExportState
from app.requests.models import EvidenceRequest, Preservation, RequestItem, RequestStatus
from app.requests.schemas import RequestSummary
from app.sop.definition import SopDefinition
from app.sop.models import StepRecord
from app.sop.schemas import CurrentStepRead

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
REQUEST_NUMBER = re.compile(r"SKS-\d{4}-(\d{1,18})", re.IGNORECASE)


@dataclass(frozen=True)
class RequestFilters:
    """What a list may be narrowed to; None is no filter."""

    status: RequestStatus | None = None
    agency_id: int | None = None
    step: int | None = None
    overdue: bool | None = None
    text: str | None = None  # in the number, the letter number, the purpose or the incident
    created_from: date | None = None  # office-agnostic: dates of `created_at` in UTC
    created_to: date | None = None


@dataclass(frozen=True)
class Page:
    items: list[RequestSummary]
    next_cursor: str | None


def encode_cursor(request: EvidenceRequest) -> str:
    raw = json.dumps([request.created_at.isoformat(), request.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The `(created_at, id)` a cursor names; a cursor not made here is refused (422)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if not isinstance(ident, int) or moment.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise errors.ValidationFailed("cursor: not a cursor this list gave") from exc
    return moment, ident


def list_page(
    session: Session, sop: SopDefinition, user: User, filters: RequestFilters, *,
    limit: int = DEFAULT_LIMIT, cursor: str | None = None, now: datetime,
) -> Page:  # fmt: skip
    """One page of the requests `user` may see, narrowed by `filters`, newest first."""
    query = filtered(sop, user, filters, now)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            or_(EvidenceRequest.created_at < created,
                and_(EvidenceRequest.created_at == created, EvidenceRequest.id < ident))
        )  # fmt: skip
    query = query.order_by(EvidenceRequest.created_at.desc(), EvidenceRequest.id.desc())
    found: list[EvidenceRequest] = list(
        session.scalars(query.options(LIST_COLUMNS).limit(limit + 1))
    )
    more = len(found) > limit
    found = found[:limit]
    return Page(summaries(session, sop, found, now), encode_cursor(found[-1]) if more else None)


# The columns a list row shows: the request's other thirty (letter, officer, recipient, texts)
# are not read, which halves the page's time on the database and in the ORM.
LIST_COLUMNS = load_only(
    EvidenceRequest.id, EvidenceRequest.agency_id, EvidenceRequest.letter_number,
    EvidenceRequest.letter_date, EvidenceRequest.status, EvidenceRequest.current_step,
    EvidenceRequest.created_at, raiseload=True,
)  # fmt: skip


def filtered(sop: SopDefinition, user: User, filters: RequestFilters, now: datetime) -> Select[Any]:
    """The requests `user` may see that pass `filters`, unordered."""
    query = select(EvidenceRequest)
    if user.role is Role.PEMOHON:
        query = query.where(EvidenceRequest.agency_id == user.agency_id)
    conditions: list[Any] = []
    if filters.status is not None:
        conditions.append(EvidenceRequest.status == filters.status)
    if filters.agency_id is not None:
        conditions.append(EvidenceRequest.agency_id == filters.agency_id)
    if filters.step is not None:
        conditions.append(EvidenceRequest.current_step == filters.step)
    if filters.text:
        conditions.append(_text_match(filters.text))
    if filters.created_from is not None:
        conditions.append(EvidenceRequest.created_at >= _midnight(filters.created_from))
    if filters.created_to is not None:
        after = _midnight(filters.created_to) + timedelta(days=1)
        conditions.append(EvidenceRequest.created_at < after)
    if filters.overdue is not None:
        late = _overdue(sop, now)
        conditions.append(late if filters.overdue else ~late)
    return query.where(*conditions)


def status_counts(session: Session, user: User) -> dict[RequestStatus, int]:
    """How many requests `user` may see are in each status (one query)."""
    query = select(EvidenceRequest.status, func.count()).group_by(EvidenceRequest.status)
    if user.role is Role.PEMOHON:
        query = query.where(EvidenceRequest.agency_id == user.agency_id)
    counted = {status: int(count) for status, count in session.execute(query)}
    return {status: counted.get(status, 0) for status in RequestStatus}


def count(session: Session, sop: SopDefinition, user: User, filters: RequestFilters,
          now: datetime) -> int:  # fmt: skip
    """How many requests `user` may see pass `filters` (one query)."""
    query = filtered(sop, user, filters, now).with_only_columns(func.count(EvidenceRequest.id))
    return int(session.scalar(query) or 0)


def _text_match(text: str) -> Any:
    """The text in the letter number, the purpose or the incident; a request number
    (`SKS-2026-00012`) names its request."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (EvidenceRequest.letter_number, EvidenceRequest.purpose, EvidenceRequest.incident)
    matches: list[Any] = [column.ilike(pattern, escape="\\") for column in columns]
    if number := REQUEST_NUMBER.fullmatch(text.strip()):
        matches.append(EvidenceRequest.id == int(number[1]))
    return or_(*matches)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _overdue(sop: SopDefinition, now: datetime) -> Any:
    """In progress at a step with a time standard whose previous step was done longer ago."""
    late_steps = []
    for step in sop.steps:
        if step.standard is None or step.number == 1:
            continue
        previous = exists().where(
            StepRecord.request_id == EvidenceRequest.id,
            StepRecord.step_number == step.number - 1,
            StepRecord.performed_at < now - step.standard,
        )
        late_steps.append(and_(EvidenceRequest.current_step == step.number, previous))
    if not late_steps:
        return false()
    return and_(EvidenceRequest.status == RequestStatus.IN_PROGRESS, or_(*late_steps))


def summaries(
    session: Session, sop: SopDefinition, requests: Sequence[EvidenceRequest], now: datetime
) -> list[RequestSummary]:
    """The list rows of `requests`, in their order, from four queries whatever their number."""
    ids = [r.id for r in requests]
    if not ids:
        return []
    names = dict(session.execute(
        select(Agency.id, Agency.name).where(Agency.id.in_({r.agency_id for r in requests}))
    ).all())  # fmt: skip
    done = _performed(session, ids)
    risky = _risky_items(session, ids)
    return [
        RequestSummary(
            id=r.id,
            number=r.number,
            agency_id=r.agency_id,
            agency_name=names.get(r.agency_id, ""),
            letter_number=r.letter_number,
            letter_date=r.letter_date,
            status=r.status,
            current_step=_current(sop, r, done, now),
            created_at=r.created_at,
            at_risk=r.status is RequestStatus.IN_PROGRESS and bool(risky.get(r.id)),
        )  # fmt: skip
        for r in requests
    ]


def _performed(session: Session, ids: list[int]) -> dict[tuple[int, int], datetime]:
    rows = session.execute(
        select(StepRecord.request_id, StepRecord.step_number, StepRecord.performed_at)
        .where(StepRecord.request_id.in_(ids))
    )  # fmt: skip
    return {(request_id, number): at for request_id, number, at in rows}


def _risky_items(session: Session, ids: list[int]) -> dict[int, set[int]]:
    """Per request, its at-risk items that still have no clip."""
    at_risk = session.execute(
        select(RequestItem.request_id, RequestItem.id).where(
            RequestItem.request_id.in_(ids), RequestItem.preservation == Preservation.AT_RISK
        )
    )
    risky: dict[int, set[int]] = {}
    for request_id, item_id in at_risk:
        risky.setdefault(request_id, set()).add(item_id)
    if not risky:
        return risky
    clipped = set(session.scalars(select(Export.item_id).where(
        Export.request_id.in_(list(risky)),
        Export.state.in_((ExportState.DONE, ExportState.PARTIAL)),
    )))  # fmt: skip
    return {request_id: items - clipped for request_id, items in risky.items()}


def _current(
    sop: SopDefinition, request: EvidenceRequest, done: dict[tuple[int, int], datetime],
    now: datetime,
) -> CurrentStepRead | None:  # fmt: skip
    """The current step and its deadline, as `sop_service.current_deadline` computes it."""
    if request.status is not RequestStatus.IN_PROGRESS:
        return None
    step = sop.step(request.current_step)
    previous = done.get((request.id, step.number - 1))
    due = None
    if step.standard is not None and step.number != 1 and previous is not None:
        due = previous + step.standard
    return CurrentStepRead(
        number=step.number, action=step.action, activity=step.activity, roles=list(step.roles),
        due_at=due, overdue=due is not None and due < now,
    )  # fmt: skip


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "count",
    "RequestFilters",
    "decode_cursor",
    "encode_cursor",
    "list_page",
    "status_counts",
    "summaries",
]
