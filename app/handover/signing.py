"""Sign an issued BAST electronically (PAdES), one party at a time. Services never commit.

The signed copy lives next to the BAST as `BAST-001-2026-esigned.pdf` (the `-signed.pdf` name
is the scan of the paper BAST signed in ink). The issued PDF is never rewritten: the first
signature is appended to a copy of it, every further one to that copy, each as an incremental
update, and each signature is a `handover.signed` custody event carrying the hash of the
revision it produced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.custody import service as custody
from app.db import after_rollback
from app.handover import esign
from app.handover.document import Party, zone_label
from app.handover.issuing import handover_of, signing_parties
from app.handover.models import Handover
from app.handover.terbilang import format_date
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.settings import SignerRole
from custody import Performer
from custody.atomic import replace_whole

REASON = "Serah terima rekaman CCTV"
# The staff role a Saksi user needs to sign as each office party; the recipient is no user.
STAFF: dict[SignerRole, Role] = {"operator": Role.OPERATOR, "subkoordinator": Role.SUBKOORDINATOR}


@dataclass(frozen=True, slots=True)
class SignedRevision:
    """The signed copy after one more signature: its path (in the data dir) and hash."""

    path: str
    sha256: str
    size: int
    fields: tuple[str, ...]


def esigned_path(handover: Handover) -> str:
    """Where the electronically signed copy of the handover's BAST is kept (data-dir relative)."""
    assert handover.pdf_path is not None
    return handover.pdf_path.removesuffix(".pdf") + "-esigned.pdf"


def sign_bast(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    role: SignerRole,
    now: datetime,
    *,
    user: User | None = None,
    signer: esign.Signer | None = None,
) -> SignedRevision:
    """Append `role`'s signature to the BAST's signed copy (`signer`, else the configured key).

    The operator and the subkoordinator sign as themselves (`user`); the recipient's signature
    is recorded as theirs."""
    handover = _locked_handover(session, request)
    party = signing_parties(runtime, session, request, handover)[role]
    actor = _actor(role, user, party)
    signer = signer or _configured_signer(runtime, role)
    base = runtime.settings.data_dir
    assert handover.pdf_path is not None
    issued = (base / handover.pdf_path).read_bytes()
    if hashlib.sha256(issued).hexdigest() != handover.pdf_sha256:
        raise errors.Conflict(f"the PDF of BAST {handover.number} is not the one issued")
    relative = esigned_path(handover)
    target = base / relative
    previous = target.read_bytes() if target.exists() else None
    current = previous if previous is not None else issued
    if not current.startswith(issued):
        raise errors.Conflict(f"the signed copy of BAST {handover.number} is not of the BAST")
    field = esign.FIELDS[role]
    if field in esign.signed_fields(current):
        raise errors.AlreadyIssued(f"BAST {handover.number} is signed as {role} already")
    signature = esign.SignatureRequest(
        field_name=field,
        placement=esign.placements(issued)[role],
        name=party.name,
        id_line=f"{party.id_kind}. {party.id_number}" if party.id_number else "",
        signed_at=_written_time(runtime, now),
        reason=REASON,
        location=runtime.settings.office.city,
        timestamp_url=runtime.settings.timestamp_url,
    )
    try:
        signed = signer.sign(current, signature)
    except esign.SigningError as exc:
        raise errors.Conflict(str(exc)) from exc
    replace_whole(target, signed)
    after_rollback(session, lambda: _restore(target, previous))
    digest = hashlib.sha256(signed).hexdigest()
    fields = tuple(esign.signed_fields(signed))
    subject, fingerprint = esign.last_signer(signed)
    custody.record(
        session, "handover.signed", actor, now,
        object={"bast": handover.number, "role": role, "field": signature.field_name,
                "signer": party.name, "certificate_subject": subject,
                "certificate_sha256": fingerprint,
                "previous_sha256": hashlib.sha256(current).hexdigest(),
                "pdf_sha256": handover.pdf_sha256},
        result={"file": relative, "sha256": digest, "size": len(signed),
                "signatures": list(fields)},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
    return SignedRevision(path=relative, sha256=digest, size=len(signed), fields=fields)


def _locked_handover(session: Session, request: EvidenceRequest) -> Handover:
    issued = handover_of(session, request)
    if issued is None or issued.pdf_path is None:
        raise errors.InvalidTransition("issue the BAST before signing it")
    # One signature at a time per BAST: each appends to what the one before wrote.
    query = select(Handover).where(Handover.id == issued.id).with_for_update()
    return session.scalars(query).one()


def _actor(role: SignerRole, user: User | None, party: Party) -> Performer:
    if role in STAFF:
        if user is None or user.role is not STAFF[role]:
            raise errors.RoleNotPermitted(f"only a {STAFF[role].value} signs as {role}")
        return custody.performer(user)
    identifier = f"{party.id_kind} {party.id_number}" if party.id_number else party.name
    return Performer(kind="recipient", identifier=identifier, name=party.name, role=role)


def _configured_signer(runtime: Runtime, role: SignerRole) -> esign.Signer:
    key = runtime.settings.signing.get(role)
    if key is None:
        raise errors.Conflict(f"no signing key configured for {role} (SAKSI_SIGNING__…)")
    return esign.Pkcs12Signer.from_key(key)


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
