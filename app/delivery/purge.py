"""The purge: the only thing that keeps the SOP's promise that a delivered copy lives 14 days.

Drive cannot expire an "anyone with the link" share, and local links live on this server, so
every delivery past its `purge_due_at` is revoked and deleted here, marked purged, recorded in
the ledger, and gets its berita acara pemusnahan. Rerunning is harmless (the backends treat an
already-gone item as removed); a run after downtime catches up on everything due meanwhile. A
delivery that stays unpurged past the alert threshold is reported by `/readyz` and the API.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.custody import service as custody
from app.db import unit_of_work
from app.delivery import activity
from app.delivery.backends import backend_for, drive_backend
from app.delivery.models import LIVE_STATES, Delivery, DeliveryState, DriveItem
from app.delivery.service import drive_items_of, record_of
from app.handover.destruction import render_destruction_pdf
from app.handover.document import DestroyedFile, DestructionRecord
from app.handover.letterhead import letterhead_of
from app.handover.models import Handover
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from drive_sync import DeliveryRecord, PurgeResult

logger = logging.getLogger(__name__)
JOB_NAME = "delivery.purge"


@dataclass
class PurgeReport:
    due: list[int] = field(default_factory=list)
    purged: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def due_deliveries(session: Session, now: datetime) -> list[Delivery]:
    """Live deliveries past their 14 days, and failed ones that left anything on the medium
    (a folder, an upload that never verified): those are due at once (issue 16: a failed
    delivery's ZIP stayed on the Shared Drive for ever)."""
    failed_with_items = and_(
        Delivery.state == DeliveryState.FAILED, Delivery.container_id.is_not(None),
        Delivery.purged_at.is_(None),
    )  # fmt: skip
    query = (
        select(Delivery)
        .where(
            or_(Delivery.state.in_(LIVE_STATES), failed_with_items),
            Delivery.purge_due_at.is_not(None),
            Delivery.purge_due_at <= now,
        )
        .order_by(Delivery.purge_due_at, Delivery.id)
    )
    return list(session.scalars(query))


def overdue_deliveries(runtime: Runtime, session: Session, now: datetime) -> list[Delivery]:
    """Deliveries still not purged `purge_alert_minutes` after they fell due, and those whose
    Drive leftovers (due at once) are still there that long after: the alert."""
    grace = timedelta(minutes=runtime.settings.purge_alert_minutes)
    overdue = due_deliveries(session, now - grace)
    late = set(leftover_deliveries(session, now - grace)) - {d.id for d in overdue}
    return overdue + [_get(session, delivery_id) for delivery_id in sorted(late)]


def leftover_deliveries(session: Session, reserved_before: datetime | None = None) -> list[int]:
    """Deliveries that went on without Drive (an address Drive could not share with, given to
    Saksi's own download) while Drive items they reserved are not purged yet."""
    query = (
        select(DriveItem.delivery_id)
        .join(Delivery, Delivery.id == DriveItem.delivery_id)
        .where(DriveItem.outcome.is_(None), Delivery.method != "drive")
    )
    if reserved_before is not None:
        query = query.where(DriveItem.reserved_at <= reserved_before)
    return sorted(set(session.scalars(query)))


def purge_due(runtime: Runtime, now: datetime, *, dry_run: bool = False) -> PurgeReport:
    """Purge every delivery due at `now`; with `dry_run`, only list them."""
    report = PurgeReport()
    with runtime.sessions() as session:
        report.due = [delivery.id for delivery in due_deliveries(session, now)]
    if dry_run:
        return report
    run_id = uuid.uuid4().hex[:12]
    for delivery_id in report.due:
        try:
            purge_one(runtime, delivery_id, run_id)
            report.purged.append(delivery_id)
        except Exception as exc:  # one failing delivery must not stop the others
            report.failed[delivery_id] = f"{type(exc).__name__}: {exc}"
            _record_failure(runtime, delivery_id, exc)
    _purge_leftovers(runtime, report)
    return report


def _purge_leftovers(runtime: Runtime, report: PurgeReport) -> None:
    with runtime.sessions() as session:
        leftovers = leftover_deliveries(session)
    for delivery_id in leftovers:
        try:
            purge_drive_leftovers(runtime, delivery_id)
        except Exception as exc:  # on record; the next run tries again, the alert follows
            report.failed[delivery_id] = f"{type(exc).__name__}: {exc}"
            _record_failure(runtime, delivery_id, exc, scope="drive_items")


def purge_drive_leftovers(runtime: Runtime, delivery_id: int) -> None:
    """Delete what a delivery left on Drive before it went on by Saksi's own download: its
    folder and every reserved file, each proven deleted or absent (no berita acara: nothing
    there was handed over)."""
    with runtime.sessions() as session:
        items = [i for i in drive_items_of(session, delivery_id) if i.outcome is None]
    folder = next((i.item_id for i in items if i.kind == "folder"), "")
    files = tuple(i.item_id for i in items if i.kind == "file")
    with drive_backend(runtime) as drive:
        removed = drive.purge(DeliveryRecord("drive", folder, files))
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        _settle_items(session, delivery_id, removed, now)
        delivery = _get(session, delivery_id)
        custody.record(
            session, "delivery.drive_items_purged", custody.SYSTEM, now,
            object={"delivery": delivery_id, "items": [i.item_id for i in items]},
            result={"deleted": list(removed.deleted_ids),
                    "verified_absent": list(removed.already_gone)},
            request_id=delivery.request_id,
        )  # fmt: skip


def purge_one(runtime: Runtime, delivery_id: int, run_id: str) -> None:
    with runtime.sessions() as session:
        delivery = _get(session, delivery_id)
        record = _with_reserved_items(session, delivery, record_of(delivery))
    if record.method == "drive":
        activity.collect_before_purge(runtime, delivery_id)
    with backend_for(runtime, record.method) as backend:
        removed = backend.purge(record)
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        request = session.get(EvidenceRequest, delivery.request_id)
        assert request is not None
        delivery.purged_at = now
        _settle_items(session, delivery.id, removed, now)
        _record_purged(session, delivery, request, removed, now)
        if delivery.shared_at is None:
            _close_unshared(delivery)
            return  # nothing was handed over: no berita acara, the failure stays the state
        delivery.state = DeliveryState.PURGED
        document = _destruction(runtime, session, delivery, request, removed, now, run_id)
        _store_destruction(runtime, session, delivery, request, document, now)
    logger.info("delivery %d purged (%d items)", delivery_id, len(removed.deleted_ids))


def _with_reserved_items(
    session: Session, delivery: Delivery, record: DeliveryRecord
) -> DeliveryRecord:
    """A Drive delivery's record plus every file id it reserved: each attempt's copy, even
    one the delivery never got to note as its file."""
    if record.method != "drive":
        return record
    reserved = [i.item_id for i in drive_items_of(session, delivery.id) if i.kind == "file"]
    return replace(record, file_ids=tuple(dict.fromkeys([*record.file_ids, *reserved])))


def _settle_items(session: Session, delivery_id: int, removed: PurgeResult, now: datetime) -> None:
    """What the purge established about each reserved Drive item, on its row."""
    for item in drive_items_of(session, delivery_id):
        if item.item_id in removed.deleted_ids:
            item.outcome, item.settled_at = "deleted", now
        elif item.item_id in removed.already_gone:
            item.outcome, item.settled_at = "verified_absent", now


def _close_unshared(delivery: Delivery) -> None:
    """A delivery purged before it was ever shared: failed already, or abandoned half-way
    (still pending when its TTL ran out)."""
    if delivery.state is DeliveryState.PENDING:
        delivery.state = DeliveryState.FAILED
        delivery.last_error = (
            "Abandoned: penyerahan tidak selesai sampai batas waktunya; yang sempat diunggah "
            "telah dimusnahkan"
        )


def _record_purged(
    session: Session,
    delivery: Delivery,
    request: EvidenceRequest,
    removed: PurgeResult,
    now: datetime,
) -> None:
    custody.record(
        session, "delivery.purged", custody.SYSTEM, now,
        object={"delivery": delivery.id, "method": delivery.method,
                "container": delivery.container_id, "files": delivery.files},
        result={"revoked": list(removed.revoked_permission_ids),
                "deleted": list(removed.deleted_ids), "already_gone": list(removed.already_gone)},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def _destruction(
    runtime: Runtime,
    session: Session,
    delivery: Delivery,
    request: EvidenceRequest,
    removed: PurgeResult,
    now: datetime,
    run_id: str,
) -> bytes:
    handover = session.scalars(
        select(Handover).where(Handover.request_id == request.id).order_by(Handover.id.desc())
    ).first()
    files = tuple(
        DestroyedFile(file_name=f["name"], sha256=f["sha256"], size_bytes=f["size"],
                      deleted_at=now, outcome=_outcome(removed, file_id))
        for f, file_id in zip(delivery.files, _ids_of(delivery), strict=True)
    )  # fmt: skip
    record = DestructionRecord(
        reference=f"PMS/{request.number}/{delivery.id}",
        bast_number=handover.number if handover else None,
        request_number=request.number,
        letter_number=request.letter_number,
        delivery_method=_method_label(delivery.method),
        delivery_reference=delivery.container_id or str(delivery.id),
        delivered_at=delivery.shared_at or delivery.created_at,
        expires_at=delivery.purge_due_at or now,
        purged_at=now,
        job_name=JOB_NAME,
        job_id=run_id,
        files=files,
        office_zone=runtime.settings.timezone,
        letterhead=letterhead_of(runtime.settings),
        place=runtime.settings.office.name,
    )
    return render_destruction_pdf(record)


def _store_destruction(
    runtime: Runtime,
    session: Session,
    delivery: Delivery,
    request: EvidenceRequest,
    document: bytes,
    now: datetime,
) -> None:
    relative = f"destruction/{request.number}-{delivery.id}.pdf"
    path = runtime.settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document)
    delivery.destruction_path = relative
    delivery.destruction_sha256 = hashlib.sha256(document).hexdigest()
    custody.record(
        session, "destruction.recorded", custody.SYSTEM, now,
        object={"delivery": delivery.id},
        result={"file": relative, "sha256": delivery.destruction_sha256, "size": len(document)},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def _record_failure(
    runtime: Runtime, delivery_id: int, exc: BaseException, scope: str = "delivery"
) -> None:
    """A failed purge on record (`error` names it: `DriveAccessLost` when Drive could not be
    seen at all). A delivery's own purge also notes it on the delivery; a failed purge of its
    Drive leftovers leaves the delivery (live, by Saksi's download) as it is."""
    logger.error("purge of delivery %d (%s) failed: %s", delivery_id, scope, exc)
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        delivery.purge_attempts += 1
        if scope == "delivery":
            delivery.last_error = f"purge: {type(exc).__name__}: {exc}"
        custody.record(
            session, "delivery.purge_failed", custody.SYSTEM, now,
            object={"delivery": delivery.id, "attempt": delivery.purge_attempts, "scope": scope,
                    "error": type(exc).__name__, "detail": str(exc)},
            request_id=delivery.request_id,
        )  # fmt: skip


def _ids_of(delivery: Delivery) -> list[str | None]:
    """Each delivered file's id on the medium, where one was recorded."""
    ids: list[str | None] = list(delivery.file_ids or [])
    return (ids + [None] * len(delivery.files))[: len(delivery.files)]


def _outcome(removed: PurgeResult, file_id: str | None) -> Literal[
    "deleted", "verified_absent", "not_verified"
]:  # fmt: skip
    """What the backend established about one file: only that is written in the record."""
    if file_id in removed.deleted_ids:
        return "deleted"
    if file_id in removed.already_gone:
        return "verified_absent"
    return "not_verified"


def _get(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def _method_label(method: str) -> str:
    return {"drive": "Google Drive", "local": "Tautan unduhan Saksi"}.get(method, method)
