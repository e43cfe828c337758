from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import ValidationError

from app import errors
from app.deps import CurrentUser, RuntimeDep, SessionDep, WritingStaff, WritingUser
from app.http import ERROR_RESPONSES, PathId, field_errors
from app.requests import letters, listing, preservation, service
from app.requests.models import EvidenceRequest, RequestStatus
from app.requests.schemas import DbId, RequestCreate, RequestRead, RequestSummary

router = APIRouter(prefix="/api/v1/requests", tags=["requests"], responses=ERROR_RESPONSES)


def readable_request(request_id: PathId, session: SessionDep, user: CurrentUser) -> EvidenceRequest:
    """Load a request the current user may see, or refuse."""
    request = service.get_request(session, request_id)
    service.check_can_read(user, request)
    return request


RequestDep = Annotated[EvidenceRequest, Depends(readable_request)]


def _parse(data: str) -> RequestCreate:
    try:
        return RequestCreate.model_validate_json(data)
    except ValidationError as exc:
        fields = [f.model_dump() for f in field_errors(exc.errors())]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        raise errors.ValidationFailed(detail, extra={"fields": fields}) from exc


@router.post(
    "",
    response_model=RequestRead,
    status_code=201,
    responses={
        413: {"description": "The letter is too large"},
        415: {"description": "The letter is not a PDF"},
    },
)
def create_request(
    data: Annotated[str, Form(description="The request as JSON (schema RequestCreate)")],
    letter: Annotated[UploadFile, File(description="Scan of the request letter (PDF)")],
    user: WritingUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> RequestRead:
    """Register a request letter with its items; records SOP step 1."""
    payload = _parse(data)
    service.check_intake_allowed(runtime.sop, user, payload.agency_id)
    settings = runtime.settings
    staged = letters.stage_letter(
        letter.file,
        letter.filename or "",
        letter.content_type,
        settings.data_dir,
        settings.letter_max_bytes,
    )
    policy = service.IntakePolicy(
        zone=runtime.zone,
        max_window=timedelta(hours=settings.max_window_hours),
        data_dir=settings.data_dir,
    )
    now = runtime.clock.now()
    try:
        request = service.register_request(session, runtime.sop, policy, payload, staged, user, now)
    finally:
        letters.discard(staged)
    preservation.schedule_check(runtime, session, request)
    return service.describe(session, runtime.sop, request, now)


@router.post("/{request_id}/preservation-check", status_code=202)
def check_preservation(
    request: RequestDep, _user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> dict[str, str]:
    """Ask the NVRs again what they hold of the request's windows (coverage, oldest footage)."""
    preservation.schedule_check(runtime, session, request)
    return {"status": "queued"}


def request_filters(
    status: RequestStatus | None = None,
    agency_id: Annotated[DbId | None, Query()] = None,
    step: Annotated[int | None, Query(ge=1, le=50)] = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="text in the numbers, purpose or incident")] = None,
    created_from: date | None = None,
    created_to: date | None = None,
) -> listing.RequestFilters:  # fmt: skip
    return listing.RequestFilters(status, agency_id, step, overdue, q, created_from, created_to)


@router.get("", response_model=list[RequestSummary])
def list_requests(
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    filters: Annotated[listing.RequestFilters, Depends(request_filters)],
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)] = listing.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> list[RequestSummary]:
    """List requests, newest first, a page at a time: all for office staff, the own agency's
    for a pemohon. The next page's cursor is in the `Link` header (`rel="next"`, RFC 8288)
    and in `X-Next-Cursor`; none on the last page."""
    page = listing.list_page(session, runtime.sop, user, filters, limit=limit, cursor=cursor,
                             now=runtime.clock.now())  # fmt: skip
    if page.next_cursor is not None:
        response.headers["X-Next-Cursor"] = page.next_cursor
        response.headers["Link"] = f'<?limit={limit}&cursor={page.next_cursor}>; rel="next"'
    return page.items


@router.get("/{request_id}", response_model=RequestRead)
def get_request(request: RequestDep, session: SessionDep, runtime: RuntimeDep) -> RequestRead:
    return service.describe(session, runtime.sop, request, runtime.clock.now())


@router.get("/{request_id}/letter", response_class=FileResponse)
def get_letter(request: RequestDep, runtime: RuntimeDep) -> FileResponse:
    """Download the scan of the request letter."""
    path = runtime.settings.data_dir / request.letter_path
    return FileResponse(path, media_type="application/pdf", filename=request.letter_filename)
