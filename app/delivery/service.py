"""Hand a request's evidence package to its recipient, and take it back when the time is up.

The backend's work (copying, uploading, sharing) happens outside database transactions; each
outcome is then recorded with its custody event. A failure is recorded, never erased: the
delivery row stays `failed` with the reason, and a new delivery may be started.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import User
from app.custody import service as custody
from app.custody.service import performer
from app.db import unit_of_work
from app.delivery.backends import DOWNLOAD_PATH, backend_for, drive_backend, ttl
from app.delivery.models import Delivery, DeliveryLink, DeliveryState, DriveItem
from app.handover.guard import check_may_hand_over
from app.handover.packaging import package_of
from app.notify import outbox
from app.requests.models import DeliveryMethod, EvidenceRequest
from app.runtime import Runtime
from custody import Performer
from custody.events import JsonValue
from drive_sync import (
    Container,
    DeliveryError,
    DeliveryRecord,
    DriveBackend,
    RecipientUnshareable,
    ShareResult,
    UploadResult,
    hash_token,
)

logger = logging.getLogger(__name__)


def method_for(runtime: Runtime, request: EvidenceRequest) -> str:
    """`drive` when the letter asks for Google Drive and Drive is configured; `media` for a
    physical medium; otherwise a local link served by Saksi."""
    if request.delivery_method is DeliveryMethod.MEDIA:
        return "media"
    if request.delivery_method is DeliveryMethod.GOOGLE_DRIVE:
        return "drive" if runtime.settings.delivery_backend == "drive" else "local"
    return "local"


def start_delivery(
    runtime: Runtime, session: Session, request: EvidenceRequest, user: User, now: datetime
) -> Performed:
    """Record a pending delivery of the request's package and enqueue its upload.

    A local link's token is minted here, in the same transaction, and returned this once: only
    its hash is stored. The link serves nothing until the job has copied and verified the files.
    """
    check_may_hand_over(runtime.sop, request, user)
    package = package_of(session, request)
    if package is None:
        raise errors.PackageMissing("build the evidence package before delivering it")
    active = (DeliveryState.PENDING, DeliveryState.SHARED)
    if any(d.state in active for d in deliveries_of(session, request)):
        raise errors.AlreadyIssued("the request already has a delivery in progress or shared")
    delivery = Delivery(
        request_id=request.id, method=method_for(runtime, request), state=DeliveryState.PENDING,
        recipient=request.recipient_email, files=[], file_ids=[], permission_ids=[],
        created_at=now, created_by_id=user.id, purge_attempts=0,
    )  # fmt: skip
    session.add(delivery)
    session.flush()
    url = (
        _mint_link(runtime, session, delivery, request, now) if delivery.method == "local" else None
    )
    _event(session, delivery, request, "delivery.upload_started", performer(user), now,
           object={"method": delivery.method, "package": package.zip_path,
                   "sha256": package.zip_sha256})  # fmt: skip
    runtime.queue.enqueue(session, "delivery.perform", delivery.id)
    return Performed(delivery.id, url)


def _mint_link(
    runtime: Runtime, session: Session, delivery: Delivery, request: EvidenceRequest, now: datetime
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(DeliveryLink(
        token_hash=hash_token(token), delivery_id=delivery.id, container_id=container_name(request),
        recipient=delivery.recipient, created_at=now, expires_at=now + ttl(runtime), downloads=0,
    ))  # fmt: skip
    return f"{runtime.settings.public_url.rstrip('/')}{DOWNLOAD_PATH}/{token}"


def container_name(request: EvidenceRequest) -> str:
    return request.number.replace("/", "_")


def deliveries_of(session: Session, request: EvidenceRequest) -> list[Delivery]:
    query = select(Delivery).where(Delivery.request_id == request.id).order_by(Delivery.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Performed:
    delivery_id: int
    url: str | None  # for a local link the only time its token is seen


@dataclass(frozen=True)
class _Job:
    """What one run of `delivery.perform` needs, read once from the database."""

    delivery_id: int
    method: str
    recipient: str
    number: str
    archive: Path
    zip_sha256: str


Delivered = tuple[Container, UploadResult, ShareResult]


def perform(runtime: Runtime, delivery_id: int) -> None:
    """Upload (or copy) the package, verify it, share it; record each outcome."""
    job = _job_of(runtime, delivery_id)
    if job is None:
        return  # done already: a repeated job changes nothing
    if job.method == "media":
        _record_media(runtime, delivery_id)
        return
    try:
        delivered = _deliver(runtime, job)
    except Exception as exc:  # whatever failed (Drive, google-auth, the network), it is on record
        _record_failure(runtime, delivery_id, exc)
        raise
    _record_shared(runtime, delivery_id, *delivered)


def _job_of(runtime: Runtime, delivery_id: int) -> _Job | None:
    with runtime.sessions() as session:
        delivery = _get(session, delivery_id)
        if delivery.state is not DeliveryState.PENDING:
            return None
        request = _request(session, delivery)
        package = package_of(session, request)
        assert package is not None
        return _Job(delivery_id, delivery.method, delivery.recipient, request.number,
                    runtime.settings.data_dir / package.zip_path, package.zip_sha256)  # fmt: skip


def _deliver(runtime: Runtime, job: _Job) -> Delivered:
    """By Drive, or (the letter asked for a link, or the office's policy for an address Drive
    cannot share with says so) by Saksi's own download."""
    if job.method == "drive":
        try:
            return _deliver_by_drive(runtime, job)
        except RecipientUnshareable as exc:
            if runtime.settings.drive_unshareable_policy != "local_link":
                raise
            _switch_to_local(runtime, job.delivery_id, exc)
    return _deliver_locally(runtime, job)


def _deliver_locally(runtime: Runtime, job: _Job) -> Delivered:
    with backend_for(runtime, "local") as backend:
        container = backend.create_container(job.number)
        _record_container(runtime, job.delivery_id, container)
        upload = backend.upload(container, job.archive)
        _check_upload(upload, job.zip_sha256)
        return container, upload, _open_local_link(runtime, job.delivery_id, job.recipient)


def _deliver_by_drive(runtime: Runtime, job: _Job) -> Delivered:
    """Every id on record before its item exists; the recipient tried on the empty folder
    before gigabytes go up; Drive's checksum compared before any grant."""
    with drive_backend(runtime) as drive:
        folder_id, file_ids = _reserve_drive_items(runtime, drive, job.delivery_id)
        container = drive.create_container(job.number, folder_id)
        link_only = False
        try:
            drive.check_recipient(container, job.recipient)
        except RecipientUnshareable as exc:
            link_only = _link_only_allowed(runtime, job.delivery_id, exc)
        upload = drive.upload(container, job.archive, file_ids=file_ids)
        _check_upload(upload, job.zip_sha256)
        return container, upload, _share_on_drive(runtime, drive, container, job, link_only)


def _share_on_drive(
    runtime: Runtime, drive: DriveBackend, container: Container, job: _Job, link_only: bool
) -> ShareResult:
    now = runtime.clock.now()
    if not link_only:
        try:
            return drive.share(container, job.recipient, now)
        except RecipientUnshareable as exc:  # the trial grant passed, the real one did not
            _link_only_allowed(runtime, job.delivery_id, exc)
    return drive.share_link_only(container, job.recipient, now)


def _reserve_drive_items(
    runtime: Runtime, drive: DriveBackend, delivery_id: int
) -> tuple[str, list[str]]:
    """The folder's and each upload attempt's ids, committed before any of them exists; a
    rerun reuses them, so nothing is made twice. Due for the purge after the TTL even if the
    delivery is abandoned half-way (a worker killed, say)."""
    with runtime.sessions() as session:
        rows = drive_items_of(session, delivery_id)
    if rows:
        folder = next(r.item_id for r in rows if r.kind == "folder")
        return folder, sorted(r.item_id for r in rows if r.kind == "file")
    folder_id, *reserved = drive.reserve_ids(1 + drive.upload_attempts)
    file_ids, now = sorted(reserved), runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        delivery.container_id, delivery.purge_due_at = folder_id, now + ttl(runtime)
        session.add(DriveItem(item_id=folder_id, delivery_id=delivery_id, kind="folder",
                              reserved_at=now))  # fmt: skip
        session.add_all(DriveItem(item_id=file_id, delivery_id=delivery_id, kind="file",
                                  reserved_at=now) for file_id in file_ids)  # fmt: skip
        items: dict[str, JsonValue] = {"folder": folder_id, "files": list(file_ids)}
        _event(session, delivery, _request(session, delivery), "delivery.drive_items_reserved",
               custody.SYSTEM, now, result=items)  # fmt: skip
    return folder_id, file_ids


def drive_items_of(session: Session, delivery_id: int) -> list[DriveItem]:
    query = select(DriveItem).where(DriveItem.delivery_id == delivery_id)
    return list(session.scalars(query.order_by(DriveItem.item_id)))


# What the operator reads when Drive will not share with the letter's address.
UNSHAREABLE_NOTES = {
    "local_link": "Google Drive tidak dapat membagikan folder kepada {recipient} ({reason}). "
    "Sesuai kebijakan kantor, paket diserahkan lewat unduhan Saksi: penerima mengunduhnya dari "
    "halaman permintaan di portal Saksi. Folder di Google Drive dihapus otomatis.",
    "anyone_with_link": "Google Drive tidak dapat membagikan folder kepada {recipient} "
    "({reason}). Sesuai kebijakan kantor, folder dibuka untuk siapa saja yang memiliki "
    "tautannya: kirimkan tautan folder kepada penerima. Tautan berakhir saat Saksi memusnahkan "
    "folder.",
    "fail": "Google Drive tidak dapat membagikan folder kepada {recipient} ({reason}). Sesuai "
    "kebijakan kantor, penyerahan dihentikan dan folder di Google Drive dihapus otomatis. Mulai "
    "penyerahan baru lewat tautan unduhan Saksi atau media fisik, atau minta alamat akun Google "
    "penerima.",
}
_WHY_UNSHAREABLE = "alamat tanpa akun Google, atau kebijakan domain melarangnya"


def _unshareable(
    runtime: Runtime, delivery_id: int, exc: RecipientUnshareable, *, method: str | None = None
) -> None:
    """Put on record that Drive refused the address and what the office's policy made of it;
    the note, in Indonesian, is what the operator sees on the delivery."""
    policy, now = runtime.settings.drive_unshareable_policy, runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        note = UNSHAREABLE_NOTES[policy].format(
            recipient=delivery.recipient, reason=f"{exc.reason}: {_WHY_UNSHAREABLE}"
        )
        delivery.last_error = f"RecipientUnshareable: {note}"
        if method is not None:
            delivery.method, delivery.container_id = method, None
        _event(session, delivery, _request(session, delivery), "delivery.recipient_unshareable",
               custody.SYSTEM, now, object={"recipient": delivery.recipient, "reason": exc.reason},
               result={"policy": policy, "note": note})  # fmt: skip


def _link_only_allowed(runtime: Runtime, delivery_id: int, exc: RecipientUnshareable) -> bool:
    """Under the `anyone_with_link` policy the delivery goes on with a link-only share; under
    `fail` it stops, under `local_link` it goes on by Saksi's download (`_deliver`). On record
    in every case."""
    policy = runtime.settings.drive_unshareable_policy
    if policy == "local_link":
        raise exc
    _unshareable(runtime, delivery_id, exc)
    if policy == "fail":
        raise exc
    return True


def _switch_to_local(runtime: Runtime, delivery_id: int, exc: RecipientUnshareable) -> None:
    """The `local_link` policy: the same delivery goes on as Saksi's own download; what it
    left on Drive (its reserved items) is purged at once by the next purge run."""
    _unshareable(runtime, delivery_id, exc, method="local")


def _record_container(runtime: Runtime, delivery_id: int, container: Container) -> None:
    """Note the folder the delivery's files go into, in a transaction of its own."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        delivery.container_id = container.id
        _event(session, delivery, _request(session, delivery), "delivery.container_created",
               custody.SYSTEM, now, result={"container": container.id})  # fmt: skip


def _open_local_link(runtime: Runtime, delivery_id: int, recipient: str) -> ShareResult:
    """The files are in place: the link's 14 days start now. A delivery that fell back from
    Drive has no token link: the recipient downloads from the request's page in the portal."""
    now = runtime.clock.now()
    due = now + ttl(runtime)
    with unit_of_work(runtime.sessions) as session:
        link = session.scalars(
            select(DeliveryLink).where(DeliveryLink.delivery_id == delivery_id)
        ).one_or_none()
        if link is None:
            return ShareResult((), recipient, "", now, due, due)
        link.expires_at = due
        return ShareResult((link.token_hash,), recipient, "", now, due, due)


def _check_upload(upload: UploadResult, zip_sha256: str) -> None:
    if upload.local_sha256 != zip_sha256:
        raise DeliveryError(
            f"the package changed since it was built: {upload.local_sha256} != {zip_sha256}"
        )


def _record_shared(
    runtime: Runtime, delivery_id: int, container: Container, upload: UploadResult,
    share: ShareResult,
) -> None:  # fmt: skip
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        request = _request(session, delivery)
        delivery.container_id = container.id
        delivery.url = container.url if delivery.method == "drive" else None
        delivery.files = [{
            "name": upload.name, "size": upload.size, "sha256": upload.local_sha256,
            "remote_checksum": upload.remote_checksum, "algorithm": upload.remote_algorithm,
        }]  # fmt: skip
        delivery.file_ids = [upload.file_id]
        delivery.permission_ids = list(share.permission_ids)
        delivery.state, delivery.shared_at = DeliveryState.SHARED, share.shared_at
        delivery.expires_at, delivery.purge_due_at = share.expires_at, share.purge_due
        _event(
            session,
            delivery,
            request,
            "delivery.upload_completed",
            custody.SYSTEM,
            now,
            result={
                "file": upload.name,
                "sha256": upload.local_sha256,
                "size": upload.size,
                "remote_checksum": upload.remote_checksum,
                "remote_algorithm": upload.remote_algorithm,
                "attempts": upload.attempts,
            },
        )
        _event(
            session,
            delivery,
            request,
            "delivery.shared",
            custody.SYSTEM,
            now,
            object={
                "recipient": share.recipient,
                "method": delivery.method,
                "anyone_with_link": share.anyone_with_link,
            },
            result={"expires_at": _iso(share.expires_at), "purge_due_at": _iso(share.purge_due)},
        )
        # The pemohon hears it is ready, with the portal's address, never the link itself.
        outbox.delivery_ready(session, request, delivery.id, now)
    # fmt: skip


def _record_media(runtime: Runtime, delivery_id: int) -> None:
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        request = _request(session, delivery)
        delivery.state, delivery.shared_at = DeliveryState.SHARED, now
        _event(session, delivery, request, "delivery.shared", custody.SYSTEM, now,
               object={"recipient": delivery.recipient, "method": "media"})  # fmt: skip


def _record_failure(runtime: Runtime, delivery_id: int, exc: BaseException) -> None:
    now = runtime.clock.now()
    logger.error("delivery %d failed: %s", delivery_id, exc)
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        request = _request(session, delivery)
        delivery.state = DeliveryState.FAILED
        if not (isinstance(exc, RecipientUnshareable) and delivery.last_error):
            # (a refused address keeps the note, in Indonesian, put on record when it happened)
            delivery.last_error = f"{type(exc).__name__}: {exc}"
        if delivery.container_id:  # whatever reached the medium is purged at once
            delivery.purge_due_at = now
        _event(session, delivery, request, "delivery.failed", custody.SYSTEM, now,
               object={"error": type(exc).__name__, "detail": str(exc)},
               result={"purge_due_at": _iso(delivery.purge_due_at)})  # fmt: skip


def revoke(runtime: Runtime, delivery_id: int, user: User) -> None:
    """Withdraw access now; the files stay until the purge (which the scheduler still runs)."""
    with runtime.sessions() as session:
        delivery = _get(session, delivery_id)
        if delivery.state is not DeliveryState.SHARED or delivery.method == "media":
            raise errors.Conflict(f"a {delivery.state.value} delivery cannot be revoked")
        record = record_of(delivery)
    with backend_for(runtime, record.method) as backend:
        revoked = backend.revoke(record)
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        delivery.state, delivery.revoked_at = DeliveryState.REVOKED, now
        _event(session, delivery, _request(session, delivery), "delivery.revoked",
               performer(user), now, result={"revoked": list(revoked)})  # fmt: skip


def record_of(delivery: Delivery) -> DeliveryRecord:
    return DeliveryRecord(
        "drive" if delivery.method == "drive" else "local",
        delivery.container_id or "",
        tuple(delivery.file_ids),
        tuple(delivery.permission_ids),
    )


def _get(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise errors.NotFound(f"no delivery {delivery_id}")
    return delivery


def _request(session: Session, delivery: Delivery) -> EvidenceRequest:
    request = session.get(EvidenceRequest, delivery.request_id)
    assert request is not None
    return request


def _event(
    session: Session, delivery: Delivery, request: EvidenceRequest, action: str,
    actor: Performer, now: datetime, *, object: dict[str, JsonValue] | None = None,
    result: dict[str, JsonValue] | None = None,
) -> None:  # fmt: skip
    custody.record(
        session, action, actor, now, object={"delivery": delivery.id, **(object or {})},
        result=result, authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
