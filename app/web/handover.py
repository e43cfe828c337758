"""The handover on the request page: package, delivery, BAST, its electronic signatures or its
signed scan, and the agency's downloads and approval. Each action is the REST service's own
function behind a CSRF-checked form."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app import errors
from app.auth.login import client_address
from app.auth.models import STAFF_ROLES, User
from app.custody import service as custody
from app.delivery import service as delivery_service
from app.delivery.backends import local_backend
from app.delivery.models import Delivery, downloadable
from app.deps import RuntimeDep, SessionDep
from app.handover import issuing, packaging, signing, signing_terms
from app.http import PathId
from app.requests import letters
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.security import read_token
from app.settings import SignerRole
from app.web.routes import PostedRequest, WebUser, _readable, _render_request, refused
from app.web.session import session_token
from drive_sync import serve_file

router = APIRouter(include_in_schema=False)


@router.post("/permintaan/{request_id}/paket", response_model=None)
def build_package(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep,
) -> Response:  # fmt: skip
    return _attempt(request, runtime, session, user, evidence, lambda: packaging.build_package(
        runtime, session, evidence, user, runtime.clock.now()))  # fmt: skip


@router.post("/permintaan/{request_id}/serahkan", response_model=None)
def deliver(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep,
) -> Response:  # fmt: skip
    """Start the delivery; a local link is shown on this page once (only its hash is kept)."""
    request_id = evidence.id
    try:
        started = delivery_service.start_delivery(
            runtime, session, evidence, user, runtime.clock.now()
        )
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    session.flush()
    return _render_request(request, runtime, session, user, evidence, None, new_link=started.url)


@router.post("/permintaan/{request_id}/cabut/{delivery_id}", response_model=None)
def revoke(
    request: Request, evidence: PostedRequest, delivery_id: PathId, user: WebUser,
    runtime: RuntimeDep, session: SessionDep,
) -> Response:  # fmt: skip
    """Withdraw the recipient's access now (office staff); the purge still runs at day 14."""
    request_id = evidence.id
    delivery = session.get(Delivery, delivery_id)
    if user.role not in STAFF_ROLES:
        raise errors.RoleNotPermitted("only office staff revoke a delivery")
    if delivery is None or delivery.request_id != evidence.id:
        raise errors.NotFound("no such delivery for this request")
    session.commit()  # the revocation writes in its own transaction (SQLite: one writer)
    try:
        delivery_service.revoke(runtime, delivery_id, user)
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    return RedirectResponse(f"/permintaan/{request_id}#serah-terima", status_code=303)


@router.post("/permintaan/{request_id}/bast", response_model=None)
def issue_bast(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep,
) -> Response:  # fmt: skip
    return _attempt(request, runtime, session, user, evidence, lambda: issuing.issue_bast(
        runtime, session, evidence, user, runtime.clock.now()))  # fmt: skip


@router.post("/permintaan/{request_id}/bast-ttd", response_model=None)
def signed_scan(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep, scan: Annotated[UploadFile, File()],
) -> Response:  # fmt: skip
    """The BAST signed by both parties, scanned: closes the handover step."""
    request_id = evidence.id
    settings = runtime.settings
    try:
        staged = letters.stage_letter(
            scan.file, scan.filename or "bast.pdf", scan.content_type, settings.data_dir,
            settings.letter_max_bytes,
        )  # fmt: skip
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, request_id, exc)
    try:
        issuing.attach_signed_scan(runtime, session, evidence, user, staged, runtime.clock.now())
    except errors.SaksiError as exc:
        letters.discard(staged)
        return refused(request, runtime, session, user, request_id, exc)
    return RedirectResponse(f"/permintaan/{request_id}#serah-terima", status_code=303)


# What the signer reads when a signature is refused (a BSrE refusal brings its own words).
SIGNING_MESSAGES = {
    "AlreadySigned": "Bagian ini sudah ditandatangani secara elektronik.",
    "NotTheSigner": "Nama Anda bukan yang tercantum pada BAST untuk bagian ini.",
    "SignerNotConfigured": "Kunci tanda tangan elektronik untuk bagian ini belum diatur. "
    "Hubungi admin Saksi.",
    "CredentialsRequired": "Isi NIK dan passphrase sertifikat elektronik BSrE Anda.",
    "ApprovalNotConfirmed": "Centang pernyataan bahwa Anda telah memeriksa BAST sebelum "
    "menyetujuinya.",
    "SigningFailed": "Dokumen tidak dapat ditandatangani; dokumen tidak berubah.",
}
Passphrase = Annotated[str, Form(max_length=256)]


@router.post("/permintaan/{request_id}/bast-tte", response_model=None)
def sign_bast(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep, role: Annotated[SignerRole, Form()],
    nik: Annotated[str, Form(max_length=32)] = "", passphrase: Passphrase = "",
) -> Response:  # fmt: skip
    """Staff sign the BAST as themselves (Pihak Pertama or Mengetahui)."""
    login = _login(nik, passphrase)
    return _signing(request, runtime, session, user, evidence, lambda: signing.sign_bast(
        runtime, session, evidence, role, runtime.clock.now(), user=user, login=login))  # fmt: skip


@router.post("/permintaan/{request_id}/bast-setuju", response_model=None)
def approve_bast(
    request: Request, evidence: PostedRequest, user: WebUser, runtime: RuntimeDep,
    session: SessionDep, confirmed: Annotated[bool, Form()] = False,
    nik: Annotated[str, Form(max_length=32)] = "", passphrase: Passphrase = "",
) -> Response:  # fmt: skip
    """The recipient approves the BAST in the portal, having ticked that they examined it."""
    approval = signing_terms.Approval(
        confirmed=confirmed, via="portal", client_address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        session_ref=_session_ref(runtime, request),
    )  # fmt: skip
    login = _login(nik, passphrase)
    return _signing(request, runtime, session, user, evidence, lambda: signing.approve_bast(
        runtime, session, evidence, user, approval, runtime.clock.now(), login=login))  # fmt: skip


def _login(nik: str, passphrase: str) -> signing_terms.BsreLogin | None:
    """The BSrE login typed in the form, if any (both empty: no BSrE)."""
    if not nik.strip() and not passphrase:
        return None
    return signing_terms.BsreLogin(nik=nik.strip(), passphrase=SecretStr(passphrase))


def _session_ref(runtime: Runtime, request: Request) -> str | None:
    """Which web session approved: a SHA-256 prefix of its id (the id itself names a live
    session, so it is not written into the ledger)."""
    token = session_token(request)
    if token is None:
        return None
    sid = read_token(runtime.token_key, token, runtime.clock.now()).session_id
    return hashlib.sha256(sid.encode()).hexdigest()[:16] if sid else None


def _signing(
    request: Request, runtime: Runtime, session: Session, user: User, evidence: EvidenceRequest,
    action: Any,
) -> Response:  # fmt: skip
    """Sign; on a refusal, undo and show the page with what the signer reads (never the
    passphrase: the form comes back empty)."""
    try:
        action()
    except errors.SaksiError as exc:
        message = exc.extra.get("user_message") or SIGNING_MESSAGES.get(exc.code)
        if message is None:
            return refused(request, runtime, session, user, evidence.id, exc)
        session.rollback()
        page = _readable(session, user, evidence.id)
        return _render_request(request, runtime, session, user, page, message, exc.status_code)
    return RedirectResponse(f"/permintaan/{evidence.id}#serah-terima", status_code=303)


@router.post("/permintaan/{request_id}/pemusnahan/{delivery_id}/tte", response_model=None)
def sign_destruction(
    request: Request, evidence: PostedRequest, delivery_id: PathId, user: WebUser,
    runtime: RuntimeDep, session: SessionDep, role: Annotated[SignerRole, Form()],
    nik: Annotated[str, Form(max_length=32)] = "", passphrase: Passphrase = "",
) -> Response:  # fmt: skip
    """Staff sign a delivery's berita acara pemusnahan (Petugas or Mengetahui)."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.request_id != evidence.id:
        raise errors.NotFound("no such delivery of this request")
    login = _login(nik, passphrase)
    return _signing(request, runtime, session, user, evidence, lambda: signing.sign_destruction(
        runtime, session, delivery, role, runtime.clock.now(), user=user, login=login))  # fmt: skip


@router.get("/permintaan/{request_id}/unduh/{delivery_id}/{file_name}", response_model=None)
def download(
    request: Request, request_id: PathId, delivery_id: PathId, file_name: str, user: WebUser,
    runtime: RuntimeDep, session: SessionDep,
) -> Response:  # fmt: skip
    """The agency portal's download: the signed-in recipient's agency, while the link lives."""
    evidence = _readable(session, user, request_id)
    delivery = session.get(Delivery, delivery_id)
    now = runtime.clock.now()
    if delivery is None or delivery.request_id != evidence.id or not downloadable(delivery, now):
        raise errors.NotFound("no live delivery with this file")
    names = {f["name"] for f in delivery.files}
    if file_name not in names or delivery.method != "local" or not delivery.container_id:
        raise errors.NotFound("no live delivery with this file")
    path = local_backend(runtime).root / delivery.container_id / file_name
    served = serve_file(path, request.headers.get("range"), request.headers.get("if-range"))
    custody.record(
        session, "delivery.accessed", custody.performer(user), now,
        object={"delivery": delivery.id, "file": file_name, "via": "portal"},
        result={"bytes": [served.span[0], served.span[1]]}, request_id=evidence.id,
    )  # fmt: skip
    headers = served.headers | {"Content-Disposition": f'attachment; filename="{file_name}"'}
    return StreamingResponse(served.body, status_code=served.status, headers=headers)


def _attempt(
    request: Request, runtime: Runtime, session: Session, user: User, evidence: EvidenceRequest,
    action: Any,
) -> Response:  # fmt: skip
    try:
        action()
    except errors.SaksiError as exc:
        return refused(request, runtime, session, user, evidence.id, exc)
    return RedirectResponse(f"/permintaan/{evidence.id}#serah-terima", status_code=303)
