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

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import User
from app.custody import service as custody
from app.custody.service import performer
from app.db import unit_of_work
from app.delivery.backends import DOWNLOAD_PATH, backend_for, ttl
from app.delivery.models import Delivery, DeliveryLink, DeliveryState
from app.handover.guard import check_may_hand_over
from app.handover.models import EvidencePackage
from app.handover.packaging import package_of
from app.requests.models import DeliveryMethod, EvidenceRequest
from app.runtime import Runtime
from custody import Performer
from custody.events import JsonValue
from drive_sync import (
    Container,
    DeliveryError,
    DeliveryRecord,
    DriveBackend,
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


def perform(runtime: Runtime, delivery_id: int) -> None:
    """Upload (or copy) the package, verify it, share it; record each outcome."""
    with runtime.sessions() as session:
        delivery = _get(session, delivery_id)
        if delivery.state is not DeliveryState.PENDING:
            return  # done already: a repeated job changes nothing
        method, recipient = delivery.method, delivery.recipient
        request = _request(session, delivery)
        package = package_of(session, request)
        number = request.number
    assert package is not None
    if method == "media":
        _record_media(runtime, delivery_id)
        return
    archive = runtime.settings.data_dir / package.zip_path
    try:
        with backend_for(runtime, method) as backend:
            container = backend.create_container(number)
            # On record before a byte is sent: whatever happens next, the purge owns it.
            _record_container(runtime, delivery_id, container)
            if isinstance(backend, DriveBackend):
                backend.check_recipient(container, recipient)
            upload = backend.upload(container, archive)
            _check_upload(upload, package)
            if method == "local":
                share = _open_local_link(runtime, delivery_id, recipient)
            else:
                share = backend.share(container, recipient, runtime.clock.now())
    except Exception as exc:  # whatever failed (Drive, google-auth, the network), it is on record
        _record_failure(runtime, delivery_id, exc)
        raise
    _record_shared(runtime, delivery_id, container, upload, share)


def _record_container(runtime: Runtime, delivery_id: int, container: Container) -> None:
    """Note the folder the delivery's files go into, in a transaction of its own."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = _get(session, delivery_id)
        delivery.container_id = container.id
        _event(session, delivery, _request(session, delivery), "delivery.container_created",
               custody.SYSTEM, now, result={"container": container.id})  # fmt: skip


def _open_local_link(runtime: Runtime, delivery_id: int, recipient: str) -> ShareResult:
    """The files are in place: the link's 14 days start now."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        link = session.scalars(
            select(DeliveryLink).where(DeliveryLink.delivery_id == delivery_id)
        ).one()
        link.expires_at = now + ttl(runtime)
        return ShareResult((link.token_hash,), recipient, "", now, link.expires_at, link.expires_at)


def _check_upload(upload: UploadResult, package: EvidencePackage) -> None:
    if upload.local_sha256 != package.zip_sha256:
        raise DeliveryError(
            f"the package changed since it was built: {upload.local_sha256} != {package.zip_sha256}"
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
        delivery.state, delivery.last_error = DeliveryState.FAILED, f"{type(exc).__name__}: {exc}"
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
