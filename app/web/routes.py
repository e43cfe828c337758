"""The operator web UI and the agency portal: server-rendered pages in Bahasa Indonesia."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app import errors
from app.agencies.service import list_agencies
from app.auth import service as auth_service
from app.auth import sessions
from app.auth.login import client_address, sign_in
from app.auth.models import READ_ONLY_ROLES, STAFF_ROLES, WRITING_STAFF_ROLES, Role, User
from app.auth.throttle import TooManyAttempts
from app.cameras.service import list_cameras
from app.deps import RuntimeDep, SessionDep
from app.exports import service as exports_service
from app.exports import viewing
from app.exports.models import TERMINAL_STATES, Export
from app.handover.guard import check_completable
from app.http import PathId
from app.requests import letters, listing, preservation
from app.requests import service as requests_service
from app.requests.models import EvidenceRequest, Preservation
from app.runtime import Runtime
from app.sop import service as sop_service
from app.sop.definition import COMPLETABLE_ACTIONS, StepAction
from app.web import forms, labels, waiting
from app.web.handover_view import handover_context
from app.web.session import check_csrf, close_session, csrf_token, open_session, web_session_user

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


class LoginRequired(errors.Unauthorized):
    """A page needs a signed-in user; the handler sends the browser to the login page."""


class ReasonRequired(errors.Unprocessable):
    """A request is returned without saying why."""


def web_user(request: Request, runtime: RuntimeDep, session: SessionDep) -> User:
    try:
        return web_session_user(request, runtime, session)
    except errors.Unauthorized as exc:  # no cookie, or its session ended: sign in again
        raise LoginRequired(exc.detail) from exc


WebUser = Annotated[User, Depends(web_user)]


def writing_user(user: WebUser) -> User:
    """Refuse the read-only roles (auditors): every form that changes something goes through
    here, as the API's writes go through `WritingUser`/`WritingStaff`."""
    if user.role in READ_ONLY_ROLES:
        raise errors.RoleNotPermitted(f"the role {user.role.value!r} may not do this")
    return user


WritingWebUser = Annotated[User, Depends(writing_user)]


def registrar(user: WritingWebUser, runtime: RuntimeDep) -> User:
    """A user whose role registers letters (SOP step 1): the new-request form is theirs."""
    if user.role not in runtime.sop.step(1).roles:
        raise errors.RoleNotPermitted(f"the role {user.role.value!r} may not register requests")
    return user


Registrar = Annotated[User, Depends(registrar)]


def render(
    request: Request, runtime: Runtime, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    zone = runtime.zone
    context |= {
        "labels": labels,
        "office": runtime.settings.office,
        "zone": zone,
        "zone_name": labels.zone_name(zone),
        "local_time": lambda moment: labels.local_time(moment, zone),
        "local_clock": lambda moment: labels.local_clock(moment, zone),
        "csrf": csrf_token(runtime, request),
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/verifikasi", response_class=HTMLResponse)
def verification_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The public page where a recipient checks a file; no login, no personal data."""
    return render(request, runtime, "verify.html", user=None)


@router.get("/masuk", response_class=HTMLResponse)
def login_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return render(request, runtime, "login.html", username="", error=None)


@router.post("/masuk", response_model=None)
def login(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        user = sign_in(runtime, username, password, client_address(request))
    except errors.InvalidCredentials as exc:
        error = labels.message(exc.code)
        return render(request, runtime, "login.html", 401, username=username, error=error)
    except TooManyAttempts as exc:
        error = f"Terlalu banyak percobaan masuk. Coba lagi dalam {exc.retry_after} detik."
        page = render(request, runtime, "login.html", 429, username=username, error=error)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = RedirectResponse("/", status_code=303)
    open_session(response, runtime, session, user)
    return response


@router.post("/keluar")
def logout(request: Request, runtime: RuntimeDep, session: SessionDep) -> RedirectResponse:
    """Sign out: every session of the account ends, this browser's and any copy of it."""
    try:
        sessions.end_all(web_session_user(request, runtime, session))
    except errors.Unauthorized:
        pass  # already ended: nothing more to end
    response = RedirectResponse("/masuk", status_code=303)
    close_session(response)
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, user: WebUser, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    now, sop = runtime.clock.now(), runtime.sop
    text = request.query_params.get("cari", "").strip()[:100] or None
    filters = listing.RequestFilters(text=text)
    page = listing.list_page(session, sop, user, filters, now=now,
                             cursor=request.query_params.get("halaman") or None)  # fmt: skip
    overdue = listing.count(session, sop, user, listing.RequestFilters(overdue=True), now)
    return render(
        request, runtime, "dashboard.html", user=user, requests=page.items, search=text or "",
        counts=listing.status_counts(session, user), overdue=overdue, next_page=page.next_cursor,
        waiting=waiting.waiting_for(session, runtime, user, now), show_nvr=user.role in STAFF_ROLES,
    )  # fmt: skip


def _form_context(session: Session, user: User) -> dict[str, Any]:
    agencies = [a for a in list_agencies(session, active_only=True)]
    if user.role is Role.PEMOHON:
        agencies = [a for a in agencies if a.id == user.agency_id]
    cameras = list_cameras(session, active_only=True)
    return {"agencies": agencies, "cameras": cameras, "user": user}


@router.get("/permintaan/baru", response_class=HTMLResponse)
def new_request_page(
    request: Request, user: Registrar, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    return render(
        request, runtime, "request_new.html", values={}, rows=[{}], errors={},
        **_form_context(session, user),
    )  # fmt: skip


@router.post("/permintaan/baru", response_model=None)
async def submit_request(
    request: Request, user: Registrar, runtime: RuntimeDep, session: SessionDep
) -> Response:
    async with request.form() as form:
        check_csrf(runtime, request, str(form.get("csrf", "")))
        rows = forms.item_rows(form)
        letter = form.get("letter")
        outcome = await run_in_threadpool(_register, session, runtime, user, form, rows, letter)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    if isinstance(outcome, EvidenceRequest):
        return RedirectResponse(f"/permintaan/{outcome.id}", status_code=303)
    return render(
        request, runtime, "request_new.html", 422, values=values, rows=rows or [{}],
        errors=outcome, **_form_context(session, user),
    )  # fmt: skip


def _register(
    session: Session,
    runtime: Runtime,
    user: User,
    form: Any,
    rows: list[dict[str, str]],
    letter: Any,
) -> EvidenceRequest | dict[str, str]:
    """Register the request, or return the errors to show next to the fields; all or nothing."""
    try:
        payload = forms.parse(forms.to_payload(form, rows))
    except ValidationError as exc:
        return forms.validation_errors(exc)
    if not isinstance(letter, UploadFile) or not letter.filename:
        return {"letter": "Unggah pindaian surat permohonan (PDF)."}
    try:
        requests_service.check_intake_allowed(runtime.sop, user, payload.agency_id)
        settings = runtime.settings
        staged = letters.stage_letter(
            letter.file, letter.filename, letter.content_type, settings.data_dir,
            settings.letter_max_bytes,
        )  # fmt: skip
        policy = requests_service.IntakePolicy(
            zone=runtime.zone,
            max_window=timedelta(hours=settings.max_window_hours),
            data_dir=settings.data_dir,
        )
        try:
            registered = requests_service.register_request(
                session, runtime.sop, policy, payload, staged, user, runtime.clock.now()
            )
        finally:
            letters.discard(staged)
        preservation.schedule_check(runtime, session, registered)
        return registered
    except errors.Forbidden:
        # Not a mistake in the form (the page offers only the user's own agency): a refusal.
        session.rollback()
        raise
    except errors.SaksiError as exc:
        # Nothing of a refused request may stay: undo the transaction (and the stored letter).
        session.rollback()
        return forms.domain_error(exc)


def _readable(session: Session, user: User, request_id: int) -> EvidenceRequest:
    evidence = requests_service.get_request(session, request_id)
    requests_service.check_can_read(user, evidence)
    return evidence


def posted_request(
    request: Request, request_id: PathId, user: WritingWebUser, runtime: RuntimeDep,
    session: SessionDep, csrf: Annotated[str, Form()],
) -> EvidenceRequest:  # fmt: skip
    """The request a form on its page acts on: a user who may change something, the form's CSRF
    token checked, then the user's right to read the request."""
    check_csrf(runtime, request, csrf)
    return _readable(session, user, request_id)


PostedRequest = Annotated[EvidenceRequest, Depends(posted_request)]


@router.get("/permintaan/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request, request_id: PathId, user: WebUser, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    evidence = _readable(session, user, request_id)
    return _render_request(request, runtime, session, user, evidence, error=None)


def _render_request(
    request: Request,
    runtime: Runtime,
    session: Session,
    user: User,
    evidence: EvidenceRequest,
    error: str | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    now = runtime.clock.now()
    detail = requests_service.describe(session, runtime.sop, evidence, now)
    step = detail.current_step
    can_act = step is not None and user.role in step.roles
    if (
        can_act
        and user.role is Role.OPERATOR
        and evidence.assigned_operator_id not in (None, user.id)
    ):
        can_act = False
    operators = auth_service.list_users(session, Role.OPERATOR) if can_act else []
    users = (
        {u.id: u for u in auth_service.list_users(session)} if user.role is not Role.PEMOHON else {}
    )
    exports = exports_service.exports_of(session, evidence.id) if user.role in STAFF_ROLES else []
    can_export = (
        step is not None and step.action is StepAction.EXPORT
        and user.role is Role.OPERATOR and evidence.assigned_operator_id == user.id
    )  # fmt: skip
    # The button stays only while some camera has nothing queued, running or done; once every
    # export was started it offers to start again the ones that failed.
    to_export = exports_service.items_to_export(session, evidence) if can_export else []
    exported = {e.item_id for e in exports}
    export_button = (
        None if not to_export
        else "Ulangi ekspor yang gagal" if all(i.id in exported for i in to_export)
        else "Mulai ekspor"
    )  # fmt: skip
    can_check_nvr = step is not None and user.role in WRITING_STAFF_ROLES
    return render(
        request, runtime, "request_detail.html", status_code, user=user, detail=detail, now=now,
        show_nvr=user.role in STAFF_ROLES, preserving=_preserving(evidence, exports),
        not_completable=_not_completable(session, runtime, evidence) if can_act else None,
        can_act=can_act, operators=[o for o in operators if o.active], users=users,
        sop=runtime.sop, error=error, exports=exports, export_button=export_button,
        clipped_items=preservation.clipped_items(session, evidence.id),
        players=viewing.players(session, runtime.settings.data_dir, user, evidence, now),
        can_check_nvr=can_check_nvr, can_preserve=detail.at_risk and user.role is Role.OPERATOR,
        can_hand_over=_can_hand_over(step, user, evidence),
        **handover_context(runtime, session, user, evidence), **extra,
    )  # fmt: skip


def _preserving(evidence: EvidenceRequest, exports: list[Export]) -> bool:
    """Whether an at-risk item's copy is being taken now: the warning says so, and offers no
    second copy (the service would start none)."""
    at_risk = {i.id for i in evidence.items if i.preservation is Preservation.AT_RISK}
    return any(e.item_id in at_risk and e.state not in TERMINAL_STATES for e in exports)


def _not_completable(session: Session, runtime: Runtime, evidence: EvidenceRequest) -> str | None:
    """Why the current step may not be marked done yet (exports still running), in Indonesian;
    None when the server would accept it. The form offers only what the server accepts."""
    try:
        check_completable(session, runtime.sop, evidence)
    except errors.SaksiError as exc:
        return labels.message(exc.code, exc.detail)
    return None


def _can_hand_over(step: Any, user: User, evidence: EvidenceRequest) -> bool:
    return (
        step is not None and step.action is StepAction.HANDOVER
        and user.role is Role.OPERATOR and evidence.assigned_operator_id == user.id
    )  # fmt: skip


@router.post("/permintaan/{request_id}/tindakan", response_model=None)
def act(
    request: Request,
    evidence: PostedRequest,
    user: WebUser,
    runtime: RuntimeDep,
    session: SessionDep,
    action: Annotated[str, Form()],
    step: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    operator_id: Annotated[int | None, Form()] = None,
) -> Response:
    request_id = evidence.id
    try:
        _perform(session, runtime, evidence, user, action, step, note.strip(), operator_id)
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    return RedirectResponse(f"/permintaan/{request_id}", status_code=303)


def _perform(
    session: Session,
    runtime: Runtime,
    evidence: EvidenceRequest,
    user: User,
    action: str,
    step: int | None,
    note: str,
    operator_id: int | None,
) -> None:
    now = runtime.clock.now()
    if action == "return":
        if not note:
            raise ReasonRequired("a returned request needs a reason")
        sop_service.return_request(
            session, runtime.sop, evidence, user, note, now, expected_step=step
        )
        return
    actions = {
        "dispose": frozenset({StepAction.DISPOSE}),
        "assign": frozenset({StepAction.ASSIGN}),
        "complete": COMPLETABLE_ACTIONS,
    }
    if action not in actions:
        raise errors.ValidationFailed("unknown action")
    operator = session.get(User, operator_id) if operator_id is not None else None
    if action == "complete":
        sop_service.check_performable(runtime.sop, evidence, user, step)
        check_completable(session, runtime.sop, evidence)
    sop_service.perform(
        session, runtime.sop, evidence, user, actions[action], now,
        note=note, expected_step=step, operator=operator,
    )  # fmt: skip


async def login_required(request: Request, exc: Exception) -> RedirectResponse:
    """Send a browser without a valid session to the login page."""
    return RedirectResponse("/masuk", status_code=303)


def refused(
    request: Request, runtime: Runtime, session: Session, user: User, request_id: int,
    exc: errors.SaksiError,
) -> HTMLResponse:  # fmt: skip
    """Undo the refused action and show the request page with the reason, in Indonesian."""
    session.rollback()
    evidence = _readable(session, user, request_id)
    message = labels.message(exc.code, exc.detail)
    return _render_request(request, runtime, session, user, evidence, message, exc.status_code)


@router.post("/permintaan/{request_id}/ekspor", response_model=None)
def start_exports(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep,
) -> Response:  # fmt: skip
    """Start the exports of every item (the assigned operator, at the export step)."""
    request_id = evidence.id
    try:
        created = exports_service.start_exports(
            session, runtime.sop, evidence, user, runtime.clock.now()
        )
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    for export in created:
        runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return RedirectResponse(f"/permintaan/{request_id}#ekspor", status_code=303)
