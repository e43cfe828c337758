"""Sign issued documents electronically (PAdES), one party at a time. Services never commit.

Two documents are signed: the BAST (the operator as Pihak Pertama, the recipient as Pihak
Kedua, the subkoordinator as Mengetahui) and the berita acara pemusnahan (the operator as
Petugas, the subkoordinator as Mengetahui). The signed copy lives next to the document as
`…-esigned.pdf` (the BAST's `-signed.pdf` is the scan of the paper signed in ink). The issued PDF
is never rewritten: the first signature is appended to a copy of it, every further one to that
copy, each as an incremental update, and each signature is a custody event (`handover.signed`,
`destruction.signed`) carrying the role and the hash of the revision it produced. Those events
say which roles have signed (a BSrE signature names its field itself) and which revision is the
latest: a signed copy that is not the one on record is refused.

Who signs with what: a signer who types a BSrE NIK and passphrase signs with BSrE; otherwise
the role's PKCS#12 key (SAKSI_SIGNING__<ROLE>__…), except that staff sign with BSrE whenever it
is configured. A recipient without a BSrE certificate gives an *uncertified electronic approval*
in the portal (`approve_bast`): the office seal (SAKSI_SIGNING__SEAL__…) signs the Pihak Kedua
field on their behalf, the stamp says so, and the approval's evidence is in the event.

When the BAST carries all three signatures the handover step closes (`handover.esigned`), as
the upload of its signed scan closes it; the print–sign–scan path stays open until then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.custody import service as custody
from app.db import after_rollback
from app.delivery.models import Delivery
from app.handover import esign
from app.handover.bsre import BsreError, BsreSigner
from app.handover.document import Party, zone_label
from app.handover.issuing import handover_of, signing_parties, verification_url
from app.handover.models import Handover
from app.handover.signing_terms import (
    AlreadySigned,
    Approval,
    ApprovalNotConfirmed,
    BsreLogin,
    CredentialsRequired,
    NotTheSigner,
    SignedRevision,
    SignerNotConfigured,
    SigningFailed,
    SigningRefused,
    SigningUnavailable,
)
from app.handover.terbilang import format_date
from app.requests.models import EvidenceRequest, RequestStatus
from app.runtime import Runtime
from app.settings import SignerRole, SigningKeyName
from app.sop import service as sop_service
from app.sop.definition import StepAction
from custody import Performer
from custody.atomic import replace_whole
from custody.events import JsonValue

REASON = "Serah terima rekaman CCTV"
DESTRUCTION_REASON = "Pemusnahan rekaman CCTV"
# The staff role a Saksi user needs to sign as each office party; the recipient is no staff.
STAFF: dict[SignerRole, Role] = {"operator": Role.OPERATOR, "subkoordinator": Role.SUBKOORDINATOR}
# Every block of the BAST signed electronically: then the handover needs no scan.
REQUIRED: frozenset[SignerRole] = frozenset(esign.FIELDS)
# The berita acara pemusnahan's blocks (app.handover.destruction), heading = field name.
DESTRUCTION_BLOCKS: dict[SignerRole, str] = {"operator": "Petugas", "subkoordinator": "Mengetahui"}
APPROVAL_HEADING = "Persetujuan elektronik tidak tersertifikasi oleh"


@dataclass(frozen=True, slots=True)
class _Document:
    """A document to sign: its issued and signed copies, its blocks, how events name it."""

    title: str
    request: EvidenceRequest
    issued_path: str
    issued_sha256: str
    signed_path: str
    headings: Mapping[SignerRole, str]
    fields: Mapping[SignerRole, str]
    reason: str
    action: str
    reference: dict[str, JsonValue]
    qr_url: str | None = None


@dataclass(frozen=True, slots=True)
class _Signature:
    """One party's signature: who they are, who acts, the backend, what the stamp adds."""

    role: SignerRole
    party: Party
    actor: Performer
    signer: esign.Signer
    heading: str = esign.STAMP_HEADING
    remarks: tuple[str, ...] = ()
    evidence: dict[str, JsonValue] | None = None


def esigned_path(handover: Handover) -> str:
    """Where the electronically signed copy of the handover's BAST is kept (data-dir relative)."""
    assert handover.pdf_path is not None
    return handover.pdf_path.removesuffix(".pdf") + "-esigned.pdf"


def destruction_esigned_path(delivery: Delivery) -> str | None:
    """Where the signed copy of the delivery's berita acara pemusnahan is kept, if it has one."""
    if delivery.destruction_path is None:
        return None
    return delivery.destruction_path.removesuffix(".pdf") + "-esigned.pdf"


def sign_bast(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    role: SignerRole,
    now: datetime,
    *,
    user: User | None = None,
    signer: esign.Signer | None = None,
    login: BsreLogin | None = None,
) -> SignedRevision:
    """Append `role`'s signature to the BAST's signed copy: with `signer`, else BSrE when
    `login` is given, else the role's configured key.

    The operator and the subkoordinator sign as themselves (`user`, the person the BAST names);
    without a user, the recipient's signature (their own configured key) is recorded as theirs.
    """
    if role in STAFF:  # the role first: refused whatever the state of the BAST
        _check_staff(role, user)
    handover = _open_handover(runtime, session, request)
    party = signing_parties(runtime, session, request, handover)[role]
    actor = _actor(role, user, party)
    document = _bast(runtime, request, handover)
    backend = signer or _signer_for(runtime, role, login, document.qr_url)
    revision = _append(runtime, session, document, _Signature(role, party, actor, backend), now)
    return _close_when_complete(runtime, session, request, handover, revision, now)


def approve_bast(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    user: User,
    approval: Approval,
    now: datetime,
    *,
    login: BsreLogin | None = None,
) -> SignedRevision:
    """The recipient (a pemohon of the request's agency) signs Pihak Kedua: with their BSrE
    certificate when `login` is given, else as an uncertified approval sealed by the office."""
    _check_recipient(user, request)
    handover = _open_handover(runtime, session, request)
    if not approval.confirmed:
        raise ApprovalNotConfirmed("confirm that the BAST was examined before approving it")
    party = signing_parties(runtime, session, request, handover)["recipient"]
    document = _bast(runtime, request, handover)
    evidence = approval.evidence(user, now, certified=login is not None)
    if login is not None:
        backend = _bsre_signer(runtime, login, document.qr_url)
        signature = _Signature("recipient", party, custody.performer(user), backend,
                               evidence=evidence)  # fmt: skip
    else:
        signature = _Signature(
            "recipient", party, custody.performer(user), _configured_signer(runtime, "seal"),
            heading=APPROVAL_HEADING, remarks=_approval_remarks(runtime, user), evidence=evidence,
        )  # fmt: skip
    revision = _append(runtime, session, document, signature, now)
    return _close_when_complete(runtime, session, request, handover, revision, now)


def sign_destruction(
    runtime: Runtime,
    session: Session,
    delivery: Delivery,
    role: SignerRole,
    now: datetime,
    *,
    user: User,
    signer: esign.Signer | None = None,
    login: BsreLogin | None = None,
) -> SignedRevision:
    """Append `role`'s signature (Petugas: the operator, Mengetahui: the subkoordinator) to
    the delivery's berita acara pemusnahan, as `user`."""
    query = select(Delivery).where(Delivery.id == delivery.id).with_for_update()
    locked = session.scalars(query).one()
    request = _destruction_signer(session, locked, role, user)
    signed_path = destruction_esigned_path(locked)
    # Checked by _destruction_signer: the delivery has its record.
    assert signed_path is not None
    assert locked.destruction_path is not None
    assert locked.destruction_sha256 is not None
    party = Party(name=user.full_name, id_kind="NIP", id_number=user.id_number)
    document = _Document(
        title=f"the destruction record of delivery {locked.id}", request=request,
        issued_path=locked.destruction_path, issued_sha256=locked.destruction_sha256,
        signed_path=signed_path,
        headings=DESTRUCTION_BLOCKS, fields=DESTRUCTION_BLOCKS, reason=DESTRUCTION_REASON,
        action="destruction.signed", reference={"delivery": locked.id},
    )  # fmt: skip
    backend = signer or _signer_for(runtime, role, login, None)
    signature = _Signature(role, party, custody.performer(user), backend)
    return _append(runtime, session, document, signature, now)


def bast_signatures(runtime: Runtime, session: Session, request: EvidenceRequest) -> list[str]:
    """The roles that have signed the request's BAST electronically, in signing order."""
    handover = handover_of(session, request)
    if handover is None or handover.pdf_path is None:
        return []
    return [str(e["object"]["role"]) for e in _events(session, _bast(runtime, request, handover))]


def destruction_signatures(session: Session, delivery: Delivery) -> list[str]:
    """The roles that have signed the delivery's berita acara pemusnahan, in signing order."""
    events = _signature_events(
        session, delivery.request_id, "destruction.signed", {"delivery": delivery.id}
    )
    return [str(e["object"]["role"]) for e in events]


def check_may_sign_destruction(
    runtime: Runtime, session: Session, delivery: Delivery, role: SignerRole, user: User
) -> None:
    """Refuse, as `sign_destruction` would, a signature of the destruction record the server
    would not take now (the page offers the form only when this passes)."""
    _destruction_signer(session, delivery, role, user)
    if role in destruction_signatures(session, delivery):
        raise AlreadySigned(f"the destruction record is signed as {role} already")
    if not runtime.settings.bsre.configured and role not in runtime.settings.signing:
        raise SignerNotConfigured(f"no signing key configured for {role}")


def _destruction_signer(
    session: Session, delivery: Delivery, role: SignerRole, user: User
) -> EvidenceRequest:
    """Refuse a signer of the destruction record other than its Petugas (the request's operator)
    or Mengetahui (a subkoordinator), or a delivery without the record; its request."""
    _check_staff(role, user)
    if role not in DESTRUCTION_BLOCKS:
        raise errors.RoleNotPermitted(f"the destruction record has no block for {role}")
    if delivery.destruction_path is None or not delivery.destruction_sha256:
        raise errors.InvalidTransition("the delivery has no berita acara pemusnahan yet")
    request = session.get(EvidenceRequest, delivery.request_id)
    assert request is not None
    if role == "operator" and request.assigned_operator_id not in (None, user.id):
        raise NotTheSigner("the operator assigned to the request signs as Petugas")
    return request


def check_may_sign(
    runtime: Runtime, session: Session, request: EvidenceRequest, role: SignerRole, user: User
) -> None:
    """Refuse, as `sign_bast`/`approve_bast` would, a signature the server would not take now
    (the page offers a signing form only when this passes)."""
    handover = _open_handover(runtime, session, request, lock=False)
    if role == "recipient":
        _check_recipient(user, request)
    else:
        _actor(role, user, signing_parties(runtime, session, request, handover)[role])
    if role in bast_signatures(runtime, session, request):
        raise AlreadySigned(f"BAST {handover.number} is signed as {role} already")
    key: SigningKeyName = "seal" if role == "recipient" else role
    if not runtime.settings.bsre.configured and key not in runtime.settings.signing:
        raise SignerNotConfigured(f"no signing key configured for {key}")


def _bast(runtime: Runtime, request: EvidenceRequest, handover: Handover) -> _Document:
    assert handover.pdf_path is not None
    assert handover.pdf_sha256 is not None
    return _Document(
        title=f"BAST {handover.number}", request=request, issued_path=handover.pdf_path,
        issued_sha256=handover.pdf_sha256, signed_path=esigned_path(handover),
        headings=esign.HEADINGS, fields=esign.FIELDS, reason=REASON, action="handover.signed",
        reference={"bast": handover.number}, qr_url=verification_url(runtime, handover.number),
    )  # fmt: skip


def _open_handover(
    runtime: Runtime, session: Session, request: EvidenceRequest, *, lock: bool = True
) -> Handover:
    """The request's issued BAST, still waiting for its signatures (locked: one signature at a
    time per BAST, each appends to what the one before wrote)."""
    issued = handover_of(session, request)
    if issued is None or issued.pdf_path is None:
        raise errors.InvalidTransition("issue the BAST before signing it")
    if issued.signed_scan_sha256 is not None:
        raise errors.InvalidTransition(f"BAST {issued.number} was closed with its signed scan")
    if request.status is not RequestStatus.IN_PROGRESS:
        raise errors.RequestClosed(f"the request is {request.status.value}")
    if runtime.sop.step(request.current_step).action is not StepAction.HANDOVER:
        raise errors.InvalidTransition(f"the handover of BAST {issued.number} is closed")
    if not lock:
        return issued
    query = select(Handover).where(Handover.id == issued.id).with_for_update()
    return session.scalars(query).one()


def _actor(role: SignerRole, user: User | None, party: Party) -> Performer:
    if role in STAFF:
        user = _check_staff(role, user)
        if (user.full_name, user.id_number or "") != (party.name, party.id_number or ""):
            raise NotTheSigner(f"the BAST names {party.name} as its {role}")
        return custody.performer(user)
    identifier = f"{party.id_kind} {party.id_number}" if party.id_number else party.name
    return Performer(kind="recipient", identifier=identifier, name=party.name, role=role)


def _check_recipient(user: User, request: EvidenceRequest) -> None:
    if user.role is not Role.PEMOHON or user.agency_id != request.agency_id:
        raise errors.RoleNotPermitted("only a pemohon of the requesting agency approves the BAST")


def _check_staff(role: SignerRole, user: User | None) -> User:
    if role not in STAFF or user is None or user.role is not STAFF[role]:
        wanted = STAFF[role].value if role in STAFF else "staff member"
        raise errors.RoleNotPermitted(f"only a {wanted} signs as {role}")
    return user


def _signer_for(
    runtime: Runtime, role: SignerRole, login: BsreLogin | None, qr_url: str | None
) -> esign.Signer:
    if login is not None:
        return _bsre_signer(runtime, login, qr_url)
    if role in STAFF and runtime.settings.bsre.configured:
        raise CredentialsRequired("staff sign with BSrE here: give the NIK and the passphrase")
    return _configured_signer(runtime, role)


def _bsre_signer(runtime: Runtime, login: BsreLogin, qr_url: str | None) -> esign.Signer:
    try:
        return BsreSigner(
            runtime.settings.bsre, nik=login.nik,
            passphrase=login.passphrase.get_secret_value(), verification_url=qr_url,
        )  # fmt: skip
    except esign.SigningError as exc:
        raise _failure(exc) from exc


def _configured_signer(runtime: Runtime, name: SigningKeyName) -> esign.Signer:
    key = runtime.settings.signing.get(name)
    if key is None:
        variable = f"SAKSI_SIGNING__{name.upper()}__P12_FILE"
        raise SignerNotConfigured(f"no signing key configured for {name} ({variable})")
    try:
        return esign.Pkcs12Signer.from_key(key)
    except (esign.SigningError, OSError) as exc:
        raise SignerNotConfigured(f"the signing key of {name} cannot be read: {exc}") from exc


def _approval_remarks(runtime: Runtime, user: User) -> tuple[str, ...]:
    """Under the recipient's name: through whose portal account, sealed by which office."""
    return (
        f"melalui akun portal {user.username}",
        "dibubuhkan segel elektronik",
        runtime.settings.office.name,
    )


def _append(
    runtime: Runtime, session: Session, document: _Document, signature: _Signature, now: datetime
) -> SignedRevision:
    """Append one signature to the document's signed copy, with its custody event."""
    base = runtime.settings.data_dir
    issued = (base / document.issued_path).read_bytes()
    if hashlib.sha256(issued).hexdigest() != document.issued_sha256:
        raise errors.Conflict(f"the PDF of {document.title} is not the one issued")
    target = base / document.signed_path
    previous = target.read_bytes() if target.exists() else None
    current = previous if previous is not None else issued
    roles = _check_on_record(session, document, current, issued)
    if signature.role in roles:
        raise AlreadySigned(f"{document.title} is signed as {signature.role} already")
    request = _signature_request(runtime, document, signature, issued, now)
    try:
        signed = signature.signer.sign(current, request)
    except esign.SigningError as exc:
        raise _failure(exc) from exc
    if not signed.startswith(current):  # never: an incremental update only appends
        raise SigningFailed(f"the signed {document.title} does not keep the revision it signed")
    replace_whole(target, signed)
    after_rollback(session, lambda: _restore(target, previous))
    revision = SignedRevision(
        path=document.signed_path, sha256=hashlib.sha256(signed).hexdigest(), size=len(signed),
        fields=tuple(esign.signed_fields(signed)), roles=(*roles, signature.role),
    )  # fmt: skip
    _record(session, document, signature, (current, signed), now)
    return revision


def _signature_request(
    runtime: Runtime, document: _Document, signature: _Signature, issued: bytes, now: datetime
) -> esign.SignatureRequest:
    party, role = signature.party, signature.role
    return esign.SignatureRequest(
        field_name=document.fields[role],
        placement=esign.block_placements(issued, document.headings)[role],
        name=party.name,
        id_line=f"{party.id_kind}. {party.id_number}" if party.id_number else "",
        signed_at=_written_time(runtime, now),
        reason=document.reason,
        location=runtime.settings.office.city,
        timestamp_url=runtime.settings.timestamp_url,
        heading=signature.heading,
        remarks=signature.remarks,
        verification_url=document.qr_url,
    )


def _record(
    session: Session,
    document: _Document,
    signature: _Signature,
    revisions: tuple[bytes, bytes],
    now: datetime,
) -> None:
    previous, signed = revisions
    subject, fingerprint = esign.last_signer(signed)
    fields = esign.signed_fields(signed)
    digest = hashlib.sha256(signed).hexdigest()
    target: dict[str, JsonValue] = {
        **document.reference, "role": signature.role, "field": fields[-1],
        "signer": signature.party.name, "certificate_subject": subject,
        "certificate_sha256": fingerprint,
        "previous_sha256": hashlib.sha256(previous).hexdigest(),
        "pdf_sha256": document.issued_sha256,
    }  # fmt: skip
    if signature.evidence is not None:
        target["approval"] = signature.evidence
    custody.record(
        session, document.action, signature.actor, now, object=target,
        result={"file": document.signed_path, "sha256": digest, "size": len(signed),
                "signatures": list(fields), "pades_level": esign.pades_level(signed)},
        authorization=document.request.letter_number, request_id=document.request.id,
    )  # fmt: skip


def _check_on_record(
    session: Session, document: _Document, current: bytes, issued: bytes
) -> list[SignerRole]:
    """The roles that signed, refusing a signed copy that is not the latest one on record."""
    events = _events(session, document)
    expected = events[-1]["result"]["sha256"] if events else document.issued_sha256
    if hashlib.sha256(current).hexdigest() != expected or not current.startswith(issued):
        raise errors.Conflict(f"the signed copy of {document.title} is not the one on record")
    return [e["object"]["role"] for e in events]


def _events(session: Session, document: _Document) -> list[dict[str, Any]]:
    """The document's signature events, in signing order (the ledger's)."""
    return _signature_events(session, document.request.id, document.action, document.reference)


def _signature_events(
    session: Session, request_id: int, action: str, reference: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The request's `action` events whose object names `reference` (a document), in order."""
    stored = custody.events_of_request(session, request_id)
    events = [json.loads(e.canonical) for e in stored if e.action == action]
    return [e for e in events if all(e["object"].get(k) == v for k, v in reference.items())]


def _close_when_complete(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    handover: Handover,
    revision: SignedRevision,
    now: datetime,
) -> SignedRevision:
    """The last of the BAST's signatures closes the handover step, as its signed scan would:
    performed by the operator who issued it (the step is theirs), whoever signed last."""
    if not REQUIRED <= set(revision.roles):
        return revision
    operator = session.get(User, handover.issued_by_id)
    assert operator is not None
    handover.signed_at = now
    custody.record(
        session, "handover.esigned", custody.performer(operator), now,
        object={"bast": handover.number, "roles": list(revision.roles)},
        result={"file": revision.path, "sha256": revision.sha256, "size": revision.size},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
    sop_service.perform(
        session, runtime.sop, request, operator, frozenset({StepAction.HANDOVER}), now,
        note=f"BAST {handover.number} ditandatangani secara elektronik oleh semua pihak; "
        f"{revision.sha256[:16]}…",
    )  # fmt: skip
    return replace(revision, step_closed=True)


def _failure(exc: esign.SigningError) -> errors.SaksiError:
    """The signing error at the API edge; a BSrE one keeps what the signer reads."""
    if isinstance(exc, BsreError):
        extra = {"user_message": exc.user_message, "message_id": exc.message_id}
        if exc.message_id == "unavailable":
            return SigningUnavailable(str(exc), extra=extra)
        return SigningRefused(str(exc), extra=extra)
    return SigningFailed(str(exc))


def _written_time(runtime: Runtime, now: datetime) -> str:
    """``4 Desember 2026 12:04:05 WIB``: the signing time as the office writes it."""
    local = now.astimezone(runtime.zone)
    return f"{format_date(local.date())} {local:%H:%M:%S} {zone_label(runtime.settings.timezone)}"


def _restore(path: Path, previous: bytes | None) -> None:
    """Undo a signature whose custody event rolled back."""
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        replace_whole(path, previous)
