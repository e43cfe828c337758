"""What the NVR holds, on the request page: ask it again, and take preservation copies of the
windows it is about to overwrite. Each action is the REST service's own function behind a
CSRF-checked form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app import errors
from app.auth.models import STAFF_ROLES
from app.deps import RuntimeDep, SessionDep
from app.exports import service as exports_service
from app.requests import preservation
from app.web.routes import PostedRequest, WebUser, refused

router = APIRouter(include_in_schema=False)


@router.post("/permintaan/{request_id}/pengamanan", response_model=None)
def preserve(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep,
) -> Response:  # fmt: skip
    """Export the at-risk items now, as preservation copies (an operator)."""
    request_id = evidence.id
    try:
        created = exports_service.start_preservation(session, evidence, user, runtime.clock.now())
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    for export in created:
        runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return RedirectResponse(f"/permintaan/{request_id}#ekspor", status_code=303)


@router.post("/permintaan/{request_id}/periksa-nvr", response_model=None)
def check_again(
    evidence: PostedRequest, user: WebUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Ask the NVRs again what they hold of the windows (office staff)."""
    request_id = evidence.id
    if user.role not in STAFF_ROLES:
        raise errors.Forbidden("only office staff ask the NVRs")
    preservation.schedule_check(runtime, session, evidence)
    return RedirectResponse(f"/permintaan/{request_id}#titik", status_code=303)
