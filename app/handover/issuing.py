"""Issue a request's BAST, and close the handover with its signed scan. Services never commit.

The BAST is numbered in the issuing transaction (see `numbering`), carries a checkpoint signed
at that moment, and its PDF and DOCX are stored and hashed; the files are removed again if the
transaction rolls back, so a number is never consumed by a BAST that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency, AgencyKind
from app.auth.models import Role, User
from app.custody import service as custody
from app.db import after_rollback
from app.delivery.models import Delivery, DeliveryState
from app.handover import numbering
from app.handover.bast_docx import render_bast_docx
from app.handover.bast_pdf import render_bast_pdf
from app.handover.document import (
    BastDocument,
    Checkpoint,
    ClipRow,
    Gap,
    Party,
    UnavailableRow,
)
from app.handover.guard import check_may_hand_over
from app.handover.letterhead import letterhead_of
from app.handover.models import EvidencePackage, Handover
from app.handover.packaging import package_of
from app.handover.scans import check_signed_scan
from app.requests.letters import StagedLetter
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.sop import service as sop_service
from app.sop.definition import StepAction
from app.sop.models import StepRecord

MEDIUM = {"drive": "Google Drive", "local": "Tautan unduhan Saksi", "media": "Media fisik"}


def handover_of(session: Session, request: EvidenceRequest) -> Handover | None:
    query = select(Handover).where(Handover.request_id == request.id).order_by(Handover.id.desc())
    return session.scalars(query).first()


def issue_bast(
    runtime: Runtime, session: Session, request: EvidenceRequest, user: User, now: datetime
) -> Handover:
    """Number, render and store the BAST of a packaged and delivered request."""
    check_may_hand_over(runtime.sop, request, user)
    if (existing := handover_of(session, request)) is not None:
        raise errors.AlreadyIssued(f"BAST {existing.number} was already issued for this request")
    package = package_of(session, request)
    delivery = _shared_delivery(session, request)
    year = now.astimezone(runtime.zone).year
    sequence = numbering.allocate(session, year)
    number = numbering.format_number(sequence, year)
    stored = custody.issue_checkpoint(
        session, runtime.office_key, runtime.settings.custody_origin, now
    )
    assert package is not None
    checkpoint = Checkpoint(
        origin=runtime.settings.custody_origin, tree_size=stored.tree_size,
        root=base64.b64encode(stored.root_hash).decode(), signed_note=stored.note,
        package_tree_size=package.checkpoint_size,
        consistency_url=_consistency_url(runtime, package.checkpoint_size, stored.tree_size),
    )  # fmt: skip
    document = _document(runtime, session, request, user, (package, delivery), number, now)
    document = document.model_copy(update={"checkpoint": checkpoint})
    handover = Handover(
        request_id=request.id, year=year, sequence=sequence, number=number, issued_at=now,
        issued_by_id=user.id, checkpoint=stored.note,
    )  # fmt: skip
    _store_documents(runtime, session, handover, document, request)
    session.add(handover)
    session.flush()
    custody.record(
        session, "handover.issued", custody.performer(user), now,
        object={"bast": number, "delivery": delivery.id, "package_sha256": package.zip_sha256,
                "checkpoint_size": stored.tree_size, "docx_sha256": handover.docx_sha256},
        result={"file": handover.pdf_path, "sha256": handover.pdf_sha256},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
    return handover


def _consistency_url(runtime: Runtime, first: int, second: int) -> str:
    """Where anyone gets the proof that the ledger at `first` is a prefix of it at `second`."""
    base = runtime.settings.public_url.rstrip("/")
    return f"{base}/api/v1/custody/consistency?first={first}&second={second}"


def _shared_delivery(session: Session, request: EvidenceRequest) -> Delivery:
    package = package_of(session, request)
    if package is None:
        raise errors.PackageMissing("build the evidence package before issuing the BAST")
    query = (
        select(Delivery)
        .where(Delivery.request_id == request.id, Delivery.state == DeliveryState.SHARED)
        .order_by(Delivery.id.desc())
    )
    delivery = session.scalars(query).first()
    if delivery is None:
        raise errors.DeliveryMissing("deliver the package before issuing the BAST")
    return delivery


def _document(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    operator: User,
    handed: tuple[EvidencePackage, Delivery],
    number: str,
    now: datetime,
) -> BastDocument:
    package, delivery = handed
    medium = MEDIUM.get(delivery.method, delivery.method)
    return BastDocument(
        number=number,
        handover_at=now,
        office_zone=runtime.settings.timezone,
        letterhead=letterhead_of(runtime.settings),
        place=runtime.settings.office.name,
        office_name=runtime.settings.office.name,
        pihak_pertama=_staff_party(runtime, operator),
        pihak_kedua=_recipient(session, request),
        mengetahui=_staff_party(runtime, _subkoordinator(session, request)),
        letter_number=request.letter_number,
        letter_date=request.letter_date,
        purpose=request.purpose,
        via_google_drive=delivery.method == "drive",
        rows=tuple(_row(clip, medium) for clip in package.clips),
        unavailable=tuple(_unavailable_row(item) for item in package.unavailable),
        verification_url=verification_url(runtime, number),
    )


def verification_url(runtime: Runtime, number: str) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/verifikasi/bast/{quote(number, safe='')}"


def _row(clip: dict[str, Any], medium: str) -> ClipRow:
    requested, delivered = clip["requested_window"], clip["delivered_window"]
    gaps = tuple(Gap(start_at=g["start"], end_at=g["end"]) for g in clip.get("gaps", []))
    offset = clip.get("clock_offset", {}).get("seconds")
    return ClipRow(
        start_at=requested[0],
        end_at=requested[1],
        camera_location=f"{clip['camera']} – {clip['location']}",
        storage_medium=medium,
        # The gaps are written once, with their times, by the table (`remarks_from_gaps`).
        remarks=f"Barang bukti {clip['exhibit']}",
        file_name=Path(clip["file"]).name,
        sha256=clip["sha256"],
        size_bytes=clip["size"],
        delivered_start_at=delivered[0] or None,
        delivered_end_at=delivered[1] or None,
        gaps=gaps,
        clock_offset_seconds=float(offset) if offset is not None else None,
        order=_place_in_letter(clip["exhibit"]),
    )


def _unavailable_row(item: dict[str, Any]) -> UnavailableRow:
    """A requested item the package holds no clip of (`custody.package.UnavailableItem`)."""
    start, end = item["requested_window"]
    return UnavailableRow(
        start_at=start, end_at=end, camera_location=f"{item['camera']} – {item['location']}",
        reason=item["reason"], order=_place_in_letter(item["exhibit"]),
    )  # fmt: skip


def _place_in_letter(exhibit: str) -> int:
    """The item's place in the letter, from its exhibit number (SKS-2026-00012/3 → 3)."""
    return int(exhibit.rpartition("/")[2])


def signing_parties(
    runtime: Runtime, session: Session, request: EvidenceRequest, handover: Handover
) -> dict[str, Party]:
    """The BAST's signers as it prints them: operator (Pihak Pertama), recipient (Pihak
    Kedua) and subkoordinator (Mengetahui)."""
    operator = session.get(User, handover.issued_by_id)
    assert operator is not None
    return {
        "operator": _staff_party(runtime, operator),
        "recipient": _recipient(session, request),
        "subkoordinator": _staff_party(runtime, _subkoordinator(session, request)),
    }


def _staff_party(runtime: Runtime, user: User) -> Party:
    return Party(
        name=user.full_name, id_kind="NIP", id_number=user.id_number,
        position=user.position or "", institution=runtime.settings.office.name,
    )  # fmt: skip


def _recipient(session: Session, request: EvidenceRequest) -> Party:
    agency = session.get(Agency, request.agency_id)
    id_kind = "NRP" if agency is not None and agency.kind in (AgencyKind.POLRI,) else "NIP"
    return Party(
        name=request.recipient_name, id_kind=id_kind, id_number=request.recipient_id_number,
        position=request.recipient_position, institution=request.recipient_institution,
    )  # fmt: skip


def _subkoordinator(session: Session, request: EvidenceRequest) -> User:
    """The subkoordinator who assigned the operator, else any active one."""
    query = (
        select(User)
        .join(StepRecord, StepRecord.actor_id == User.id)
        .where(StepRecord.request_id == request.id, User.role == Role.SUBKOORDINATOR)
    )
    user = (
        session.scalars(query).first()
        or session.scalars(
            select(User).where(User.role == Role.SUBKOORDINATOR, User.active.is_(True))
        ).first()
    )
    if user is None:
        raise errors.Conflict("no subkoordinator to sign as 'Mengetahui'")
    return user


def _store_documents(
    runtime: Runtime,
    session: Session,
    handover: Handover,
    document: BastDocument,
    request: EvidenceRequest,
) -> None:
    stem = f"handovers/{request.number}/BAST-{handover.sequence:03d}-{handover.year}"
    for suffix, content in (
        (".pdf", render_bast_pdf(document)),
        (".docx", render_bast_docx(document)),
    ):
        relative = stem + suffix
        target = runtime.settings.data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        after_rollback(session, partial(target.unlink, missing_ok=True))
        digest = hashlib.sha256(content).hexdigest()
        if suffix == ".pdf":
            handover.pdf_path, handover.pdf_sha256 = relative, digest
        else:
            handover.docx_path, handover.docx_sha256 = relative, digest


def attach_signed_scan(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    user: User,
    staged: StagedLetter,
    now: datetime,
) -> Handover:
    """Store the BAST signed by both parties; its hash goes on record and the handover closes."""
    check_may_hand_over(runtime.sop, request, user)
    handover = handover_of(session, request)
    if handover is None:
        raise errors.InvalidTransition("issue the BAST before uploading its signed scan")
    if handover.signed_scan_sha256 is not None:
        raise errors.AlreadyIssued(f"BAST {handover.number} has its signed scan on record")
    check_signed_scan(staged.path, staged.sha256, handover.pdf_sha256)
    relative = f"handovers/{request.number}/BAST-{handover.sequence:03d}-{handover.year}-signed.pdf"
    target = runtime.settings.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged.path, target)
    after_rollback(session, lambda: target.unlink(missing_ok=True))
    handover.signed_scan_path, handover.signed_scan_sha256 = relative, staged.sha256
    handover.signed_at = now
    custody.record(
        session, "handover.signed_scan", custody.performer(user), now,
        object={"bast": handover.number, "size": staged.size},
        result={"file": relative, "sha256": staged.sha256},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
    sop_service.perform(
        session, runtime.sop, request, user, frozenset({StepAction.HANDOVER}), now,
        note=f"BAST {handover.number} ditandatangani; pindaian {staged.sha256[:16]}…",
    )  # fmt: skip
    return handover
