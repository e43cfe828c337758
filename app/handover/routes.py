"""The handover: evidence package, BAST (PDF to print, DOCX to edit), its electronic signatures
or its signed scan, and the electronic signatures of the berita acara pemusnahan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from app import errors
from app.auth.login import client_address
from app.delivery.models import Delivery
from app.deps import RuntimeDep, SessionDep, StaffUser, WritingStaff, WritingUser
from app.handover import issuing, packaging, signing, signing_terms
from app.handover.models import EvidencePackage, Handover
from app.handover.schemas import HandoverRead, PackageRead, SignatureCreate, SignedRevisionRead
from app.http import ERROR_RESPONSES, PathId
from app.requests import letters
from app.requests.models import EvidenceRequest
from app.requests.routes import RequestDep
from app.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["handover"], responses=ERROR_RESPONSES)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.post("/requests/{request_id}/package", response_model=PackageRead, status_code=201)
def build_package(
    request: RequestDep, user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> PackageRead:
    """Build the signed evidence package from the finished exports (once; then it is kept)."""
    package = packaging.build_package(runtime, session, request, user, runtime.clock.now())
    return PackageRead.model_validate(package)


@router.get("/requests/{request_id}/package", response_model=PackageRead)
def get_package(request: RequestDep, session: SessionDep) -> PackageRead:
    """Show the package: its ZIP's hash, the clips and their exhibit numbers."""
    return PackageRead.model_validate(_package(session, request))


@router.get(
    "/requests/{request_id}/package.zip",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_package(
    request: RequestDep, _user: StaffUser, session: SessionDep, runtime: RuntimeDep
) -> FileResponse:
    """The office's master copy of the package (staff only; recipients use their delivery)."""
    package = _package(session, request)
    return _file(runtime, package.zip_path, "application/zip")


@router.post("/requests/{request_id}/bast", response_model=HandoverRead, status_code=201)
def issue_bast(
    request: RequestDep, user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> HandoverRead:
    """Number and render the BAST of a packaged, delivered request."""
    handover = issuing.issue_bast(runtime, session, request, user, runtime.clock.now())
    return HandoverRead.model_validate(handover)


@router.get("/requests/{request_id}/bast", response_model=HandoverRead)
def get_bast(request: RequestDep, session: SessionDep) -> HandoverRead:
    """Show the request's BAST: number, documents' hashes, signed scan."""
    return HandoverRead.model_validate(_handover(session, request))


@router.get(
    "/requests/{request_id}/bast.pdf",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}},
)
def bast_pdf(request: RequestDep, session: SessionDep, runtime: RuntimeDep) -> FileResponse:
    """The BAST to print and sign."""
    handover = _handover(session, request)
    assert handover.pdf_path is not None
    return _file(runtime, handover.pdf_path, "application/pdf")


@router.get(
    "/requests/{request_id}/bast.docx",
    response_class=FileResponse,
    responses={200: {"content": {DOCX: {}}}},
)
def bast_docx(
    request: RequestDep, _user: StaffUser, session: SessionDep, runtime: RuntimeDep
) -> FileResponse:
    """The BAST as an editable document (staff only)."""
    handover = _handover(session, request)
    assert handover.docx_path is not None
    return _file(runtime, handover.docx_path, DOCX)


@router.post("/requests/{request_id}/bast/signed-scan", response_model=HandoverRead)
def upload_signed_scan(
    request: RequestDep,
    user: WritingStaff,
    session: SessionDep,
    runtime: RuntimeDep,
    scan: Annotated[UploadFile, File(description="the BAST signed by both parties, as a PDF")],
) -> HandoverRead:
    """Record the signed BAST; its hash becomes a custody event and the handover step closes."""
    settings = runtime.settings
    staged = letters.stage_letter(
        scan.file, scan.filename or "bast.pdf", scan.content_type, settings.data_dir,
        settings.letter_max_bytes,
    )  # fmt: skip
    try:
        handover = issuing.attach_signed_scan(
            runtime, session, request, user, staged, runtime.clock.now()
        )
    except BaseException:
        letters.discard(staged)
        raise
    return HandoverRead.model_validate(handover)


@router.post(
    "/requests/{request_id}/bast/signatures", response_model=SignedRevisionRead, status_code=201
)
def sign_bast(
    request: RequestDep, body: SignatureCreate, user: WritingUser, session: SessionDep,
    runtime: RuntimeDep, http: Request,
) -> SignedRevisionRead:  # fmt: skip
    """Sign the issued BAST electronically: the operator and the subkoordinator as themselves,
    a pemohon of the agency as the recipient (`confirmed`: with their BSrE certificate, or as
    an uncertified approval sealed by the office). The last signature closes the handover."""
    login, now = _login(body), runtime.clock.now()
    if body.role == "recipient":
        approval = signing_terms.Approval(
            confirmed=body.confirmed, via="api", client_address=client_address(http),
            user_agent=http.headers.get("user-agent", ""),
        )  # fmt: skip
        revision = signing.approve_bast(runtime, session, request, user, approval, now, login=login)
    else:
        revision = signing.sign_bast(
            runtime, session, request, body.role, now, user=user, login=login
        )
    return SignedRevisionRead.model_validate(revision)


@router.get(
    "/requests/{request_id}/bast/esigned.pdf",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}},
)
def bast_esigned_pdf(request: RequestDep, session: SessionDep, runtime: RuntimeDep) -> FileResponse:
    """The BAST with the electronic signatures given so far."""
    relative = signing.esigned_path(_handover(session, request))
    if not (runtime.settings.data_dir / relative).exists():
        raise errors.NotFound("the BAST has no electronic signature yet")
    return _file(runtime, relative, "application/pdf")


@router.post(
    "/deliveries/{delivery_id}/destruction/signatures",
    response_model=SignedRevisionRead,
    status_code=201,
)
def sign_destruction(
    delivery_id: PathId, body: SignatureCreate, user: WritingStaff, session: SessionDep,
    runtime: RuntimeDep,
) -> SignedRevisionRead:  # fmt: skip
    """Sign the delivery's berita acara pemusnahan: the operator as Petugas, the subkoordinator
    as Mengetahui."""
    delivery = _delivery(session, delivery_id)
    revision = signing.sign_destruction(
        runtime, session, delivery, body.role, runtime.clock.now(), user=user, login=_login(body)
    )
    return SignedRevisionRead.model_validate(revision)


@router.get(
    "/deliveries/{delivery_id}/destruction/esigned.pdf",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}},
)
def destruction_esigned_pdf(
    delivery_id: PathId, _user: StaffUser, session: SessionDep, runtime: RuntimeDep
) -> FileResponse:
    """The berita acara pemusnahan with the electronic signatures given so far (staff)."""
    delivery = _delivery(session, delivery_id)
    relative = signing.destruction_esigned_path(delivery)
    if relative is None or not (runtime.settings.data_dir / relative).exists():
        raise errors.NotFound("the destruction record has no electronic signature yet")
    return _file(runtime, relative, "application/pdf")


def _login(body: SignatureCreate) -> signing_terms.BsreLogin | None:
    if body.nik is None or body.passphrase is None:
        return None
    return signing_terms.BsreLogin(nik=body.nik, passphrase=body.passphrase)


def _delivery(session: SessionDep, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise errors.NotFound("no such delivery")
    return delivery


def _package(session: SessionDep, request: EvidenceRequest) -> EvidencePackage:
    package = packaging.package_of(session, request)
    if package is None:
        raise errors.NotFound("the request has no evidence package yet")
    return package


def _handover(session: SessionDep, request: EvidenceRequest) -> Handover:
    handover = issuing.handover_of(session, request)
    if handover is None:
        raise errors.NotFound("no BAST has been issued for this request")
    return handover


def _file(runtime: Runtime, relative: str, media_type: str) -> FileResponse:
    path = runtime.settings.data_dir / relative
    return FileResponse(path, media_type=media_type, filename=path.name)
