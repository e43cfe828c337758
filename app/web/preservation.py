"""What the NVR holds, on the request page: ask it again, and take preservation copies of the
windows it is about to overwrite. Each action is the REST service's own function behind a
CSRF-checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app import errors
from app.auth.models import STAFF_ROLES
from app.deps import RuntimeDep, SessionDep
from app.exports import service as exports_service
from app.requests import preservation
from app.web.routes import WebUser, _readable, refused
from app.web.session import check_csrf

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form()]


@router.post("/permintaan/{request_id}/pengamanan", response_model=None)
def preserve(
    request: Request, request_id: int, user: WebUser, runtime: RuntimeDep, session: SessionDep,
    csrf: Csrf,
) -> Response:  # fmt: skip
    """Export the at-risk items now, as preservation copies (an operator)."""
    check_csrf(runtime, request, csrf)
    evidence = _readable(session, user, request_id)
    try:
        created = exports_service.start_preservation(session, evidence, user, runtime.clock.now())
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    for export in created:
        runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return RedirectResponse(f"/permintaan/{request_id}#ekspor", status_code=303)


@router.post("/permintaan/{request_id}/periksa-nvr", response_model=None)
def check_again(
    request: Request, request_id: int, user: WebUser, runtime: RuntimeDep, session: SessionDep,
    csrf: Csrf,
) -> Response:  # fmt: skip
    """Ask the NVRs again what they hold of the windows (office staff)."""
    check_csrf(runtime, request, csrf)
    evidence = _readable(session, user, request_id)
    if user.role not in STAFF_ROLES:
        raise errors.Forbidden("only office staff ask the NVRs")
    preservation.schedule_check(runtime, session, evidence)
    return RedirectResponse(f"/permintaan/{request_id}#titik", status_code=303)
