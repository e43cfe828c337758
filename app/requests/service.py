"""Intake and reading of evidence requests. Services never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency
from app.auth.models import Role, User
from app.cameras.models import Camera
from app.custody import service as custody
from app.requests import letters, preservation
from app.requests.models import EvidenceRequest, RequestItem, RequestStatus
from app.requests.schemas import (
    ItemCreate,
    ItemRead,
    Person,
    RequestCreate,
    RequestRead,
    RequestSummary,
)
from app.sop import service as sop_service
from app.sop.definition import SopDefinition
from app.sop.schemas import CurrentStepRead, StepRecordRead
from custody.events import JsonValue, format_time


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    zone: ZoneInfo
    max_window: timedelta
    data_dir: Path


def letter_number_key(letter_number: str) -> str:
    """Normalise a letter number for uniqueness: case and spacing do not make a new letter."""
    return re.sub(r"\s+", "", letter_number).upper()


def check_intake_allowed(sop: SopDefinition, user: User, agency_id: int) -> None:
    """Refuse users who may not register letters, and pemohon acting for another agency."""
    if user.role not in sop.step(1).roles:
        raise errors.RoleNotPermitted(f"the role {user.role.value!r} may not register requests")
    if user.role is Role.PEMOHON and user.agency_id != agency_id:
        raise errors.NotYourAgency("a pemohon may only submit requests for their own agency")


def register_request(
    session: Session,
    sop: SopDefinition,
    policy: IntakePolicy,
    data: RequestCreate,
    staged: letters.StagedLetter,
    creator: User,
    now: datetime,
) -> EvidenceRequest:
    """Validate and store a request with its letter and record SOP step 1."""
    _check_agency(session, data.agency_id)
    _check_letter(session, data, policy, now)
    windows = [
        _check_item(session, item, index, policy, now) for index, item in enumerate(data.items)
    ]
    request = _new_request(data, staged, creator, sop, now)
    request.letter_path = letters.commit_letter(session, staged, policy.data_dir)
    request.items = [
        RequestItem(position=i, camera_id=item.camera_id, window_start_at=s, window_end_at=e)
        for i, (item, (s, e)) in enumerate(zip(data.items, windows, strict=True))
    ]
    session.add(request)
    try:
        session.flush()
    except IntegrityError as exc:
        raise errors.DuplicateLetterNumber(_duplicate_message(data)) from exc
    _record_registration(session, request, creator, now)
    sop_service.record_registration(session, sop, request, creator, now)
    return request


def _record_registration(
    session: Session, request: EvidenceRequest, creator: User, now: datetime
) -> None:
    items: list[JsonValue] = [
        {
            "camera_id": item.camera_id,
            "window_start": format_time(item.window_start_at),
            "window_end": format_time(item.window_end_at),
        }
        for item in request.items
    ]
    custody.record(
        session, "request.registered", custody.performer(creator), now,
        object={"request": request.number, "agency_id": request.agency_id, "items": items},
        result={"file": request.letter_path, "sha256": request.letter_sha256,
                "size": request.letter_size},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def _check_agency(session: Session, agency_id: int) -> None:
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise errors.AgencyNotAuthorized(
            f"agency {agency_id} is not on the list of institutions authorised to request footage"
        )


def _check_letter(
    session: Session, data: RequestCreate, policy: IntakePolicy, now: datetime
) -> None:
    if data.letter_date > now.astimezone(policy.zone).date():
        raise errors.ValidationFailed("letter_date: the letter cannot be dated in the future")
    key = letter_number_key(data.letter_number)
    existing = select(EvidenceRequest.id).where(
        EvidenceRequest.agency_id == data.agency_id, EvidenceRequest.letter_number_key == key
    )
    if session.scalar(existing) is not None:
        raise errors.DuplicateLetterNumber(_duplicate_message(data))


def _duplicate_message(data: RequestCreate) -> str:
    return f"letter number {data.letter_number!r} has already been registered for this agency"


def _check_item(
    session: Session, item: ItemCreate, index: int, policy: IntakePolicy, now: datetime
) -> tuple[datetime, datetime]:
    where = f"items[{index}]"
    camera = session.get(Camera, item.camera_id)
    if camera is None:
        raise errors.UnknownCamera(f"{where}: camera {item.camera_id} does not exist")
    if not camera.active:
        raise errors.CameraInactive(f"{where}: camera {camera.name!r} is not active")
    start, end = to_utc(item.start, policy.zone), to_utc(item.end, policy.zone)
    if end <= start:
        raise errors.InvalidTimeWindow(f"{where}: the window must end after it starts")
    if end - start > policy.max_window:
        hours = policy.max_window.total_seconds() / 3600
        raise errors.WindowTooLong(f"{where}: a window may be at most {hours:g} hours long")
    if end > now:
        raise errors.WindowInFuture(f"{where}: the window ends in the future")
    return start, end


def to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    """Read a time entered in office time (naive) or with an explicit offset, as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(ZoneInfo("UTC"))


def _new_request(
    data: RequestCreate,
    staged: letters.StagedLetter,
    creator: User,
    sop: SopDefinition,
    now: datetime,
) -> EvidenceRequest:
    return EvidenceRequest(
        agency_id=data.agency_id,
        letter_number=" ".join(data.letter_number.split()),
        letter_number_key=letter_number_key(data.letter_number),
        letter_date=data.letter_date,
        letter_sha256=staged.sha256,
        letter_size=staged.size,
        letter_filename=staged.filename,
        legal_basis=data.legal_basis,
        purpose=data.purpose,
        incident=data.incident,
        **_person_columns("officer", data.officer),
        **_person_columns("recipient", data.recipient),
        delivery_method=data.delivery_method,
        status=RequestStatus.IN_PROGRESS,
        sop_id=sop.id,
        current_step=1,
        created_by_id=creator.id,
        created_at=now,
        updated_at=now,
    )


def _person_columns(prefix: str, person: Person) -> dict[str, str]:
    return {f"{prefix}_{field}": str(value) for field, value in person.model_dump().items()}


def person(request: EvidenceRequest, prefix: str) -> Person:
    """Read the officer or recipient block of a request back as a `Person`."""
    fields = ("name", "id_number", "position", "institution", "email")
    return Person.model_validate({f: getattr(request, f"{prefix}_{f}") for f in fields})


def get_request(session: Session, request_id: int) -> EvidenceRequest:
    request = session.get(EvidenceRequest, request_id)
    if request is None:
        raise errors.RequestNotFound(f"request {request_id} does not exist")
    return request


def check_can_read(user: User, request: EvidenceRequest) -> None:
    """A pemohon sees only their agency's requests; office staff see all."""
    if user.role is Role.PEMOHON and user.agency_id != request.agency_id:
        raise errors.NotYourAgency("this request belongs to another agency")


def summarise(
    session: Session, sop: SopDefinition, request: EvidenceRequest, now: datetime
) -> RequestSummary:
    """Describe a request for lists: its agency, status and current step."""
    agency = session.get(Agency, request.agency_id)
    return RequestSummary(
        id=request.id,
        number=request.number,
        agency_id=request.agency_id,
        agency_name=agency.name if agency else "",
        letter_number=request.letter_number,
        letter_date=request.letter_date,
        status=request.status,
        current_step=_current_step(session, sop, request, now),
        created_at=request.created_at,
        at_risk=request.status is RequestStatus.IN_PROGRESS
        and preservation.at_risk(session, request),
    )


def _at_risk(session: Session, request: EvidenceRequest) -> bool:
    in_progress = request.status is RequestStatus.IN_PROGRESS
    return in_progress and preservation.at_risk(session, request)


def describe(
    session: Session, sop: SopDefinition, request: EvidenceRequest, now: datetime
) -> RequestRead:
    """Describe a request in full: items, people, and the SOP timeline."""
    summary = summarise(session, sop, request, now)
    return RequestRead(
        **summary.model_dump(),
        letter_sha256=request.letter_sha256,
        letter_size=request.letter_size,
        letter_filename=request.letter_filename,
        legal_basis=request.legal_basis,
        purpose=request.purpose,
        incident=request.incident,
        officer=person(request, "officer"),
        recipient=person(request, "recipient"),
        delivery_method=request.delivery_method,
        assigned_operator_id=request.assigned_operator_id,
        items=[_item(item) for item in request.items],
        steps=[StepRecordRead.model_validate(r) for r in sop_service.records(session, request.id)],
    )


def _item(item: RequestItem) -> ItemRead:
    return ItemRead(
        id=item.id,
        position=item.position,
        camera_id=item.camera_id,
        camera_name=item.camera.name,
        location=item.camera.location,
        window_start_at=item.window_start_at,
        window_end_at=item.window_end_at,
        preservation=item.preservation,
        oldest_recording_at=item.oldest_recording_at,
        preservation_checked_at=item.preservation_checked_at,
        preservation_error=item.preservation_error,
        coverage=item.coverage,
    )


def _current_step(
    session: Session, sop: SopDefinition, request: EvidenceRequest, now: datetime
) -> CurrentStepRead | None:
    if request.status is not RequestStatus.IN_PROGRESS:
        return None
    deadline = sop_service.current_deadline(session, sop, request)
    return current_step_read(deadline, now)


def current_step_read(deadline: sop_service.StepDeadline, now: datetime) -> CurrentStepRead:
    step = deadline.step
    return CurrentStepRead(
        number=step.number,
        action=step.action,
        activity=step.activity,
        roles=list(step.roles),
        due_at=deadline.due_at,
        overdue=deadline.due_at is not None and deadline.due_at < now,
    )
