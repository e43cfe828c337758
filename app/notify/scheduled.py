"""Notifications queued by the clock rather than an event: the purge warning to a delivery's
recipient two days before its files are deleted, and the officials' daily digest.

Each is queued once (the outbox's dedupe key: `purge_warning:<delivery>`,
`digest:<local date>:<user>`), however often the periodic job looks, and a job that was down
catches up when it runs again (the warning until the purge itself, the digest until the end of
the local day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.delivery.models import Delivery, DeliveryState
from app.notify import outbox
from app.notify.models import Notification, NotificationKind
from app.requests.models import EvidenceRequest, RequestStatus
from app.sop import service as sop_service
from app.sop.definition import SopDefinition, SopStep
from app.web.labels import duration

PURGE_WARNING_AHEAD = timedelta(days=2)
# Deliveries the recipient downloads through a link until the purge (not handed-over media).
LINK_METHODS = ("drive", "local")
# The officials who get the daily digest: the disposition chain (issue 19).
OFFICIALS = (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG, Role.SUBKOORDINATOR)


def queue_purge_warnings(session: Session, now: datetime) -> int:
    """Warn the recipient of each shared download (Drive or Saksi's own link) purged within two
    days; return how many warnings were queued."""
    soon = session.scalars(
        select(Delivery)
        .where(
            Delivery.state == DeliveryState.SHARED,
            Delivery.method.in_(LINK_METHODS),
            Delivery.purge_due_at.is_not(None),
            Delivery.purge_due_at > now,
            Delivery.purge_due_at <= now + PURGE_WARNING_AHEAD,
        )
        .order_by(Delivery.purge_due_at, Delivery.id)
    )
    return sum(_purge_warning(session, delivery, now) is not None for delivery in list(soon))


def _purge_warning(session: Session, delivery: Delivery, now: datetime) -> Notification | None:
    request = session.get(EvidenceRequest, delivery.request_id)
    if request is None or not delivery.recipient or delivery.purge_due_at is None:
        return None
    head = outbox.letterhead()
    when = outbox.when(delivery.purge_due_at, head.zone)
    body = (
        f"Yth. Penerima rekaman,\n\n{outbox.about(request)}\n"
        f"Salinan rekaman yang diserahkan kepada Anda akan dimusnahkan pada {when} sesuai SOP "
        "(masa simpan 14 hari). Setelah waktu tersebut berkas tidak dapat diunduh lagi.\n"
        f"Bila belum diunduh, silakan unduh sebelum waktu tersebut melalui tautan yang telah "
        f"disampaikan kepada Anda, atau hubungi {head.office} melalui Saksi di {head.portal}.\n"
        f"{outbox.footer(head)}"
    )
    return outbox.queue(
        session, kind=NotificationKind.PURGE_WARNING,
        dedupe_key=f"purge_warning:{delivery.id}", address=delivery.recipient, now=now,
        request=request, due_at=delivery.purge_due_at, body=body,
        subject=f"[Saksi] Rekaman {request.number} akan dimusnahkan pada {when}",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Waiting:
    request: EvidenceRequest
    step: SopStep
    due_at: datetime | None


def queue_digests(session: Session, sop: SopDefinition, now: datetime, hour: int) -> int:
    """At or after `hour` (local), queue today's digest to each official with something
    waiting on them or overdue below them; return how many were queued."""
    head = outbox.letterhead()
    local = now.astimezone(head.zone)
    if local.hour < hour:
        return 0
    waiting = _open_steps(session, sop)
    queued = 0
    for user in outbox.holders(session, OFFICIALS):
        mine = [w for w in waiting if user.role in w.step.roles]
        overdue = [w for w in waiting if _overdue(w, now) and _oversees(user.role, w.step)]
        if mine or overdue:
            queued += _digest(session, user, local.date(), mine, overdue, now) is not None
    return queued


def _open_steps(session: Session, sop: SopDefinition) -> list[Waiting]:
    requests = session.scalars(
        select(EvidenceRequest)
        .where(EvidenceRequest.status == RequestStatus.IN_PROGRESS)
        .order_by(EvidenceRequest.id)
    )
    waiting = []
    for request in list(requests):
        deadline = sop_service.current_deadline(session, sop, request)
        waiting.append(Waiting(request, deadline.step, deadline.due_at))
    return waiting


def _overdue(waiting: Waiting, now: datetime) -> bool:
    return waiting.due_at is not None and now > waiting.due_at


def _oversees(role: Role, step: SopStep) -> bool:
    """Whether an overdue `step` concerns `role`: its own, or one escalated to it."""
    return role in step.roles or any(outbox.ESCALATES_TO.get(r) is role for r in step.roles)


def _digest(
    session: Session, user: User, day: date, mine: list[Waiting], overdue: list[Waiting],
    now: datetime,
) -> Notification | None:  # fmt: skip
    head = outbox.letterhead()
    lines = [f"Yth. {user.full_name},", "", f"Ringkasan harian Saksi, {day:%d-%m-%Y}.", ""]
    lines.append(f"Menunggu tindakan Anda ({len(mine)}):")
    lines += [_line(w, head) for w in mine] or ["- tidak ada"]
    lines += ["", f"Melewati batas waktu SOP ({len(overdue)}):"]
    lines += [_line(w, head, now) for w in overdue] or ["- tidak ada"]
    lines += ["", f"Silakan masuk ke Saksi di {head.portal} untuk menindaklanjuti.", ""]
    return outbox.queue(
        session, kind=NotificationKind.DIGEST, dedupe_key=f"digest:{day.isoformat()}:{user.id}",
        address=user.email or "", now=now, user=user, body="\n".join(lines) + outbox.footer(head),
        subject=(f"[Saksi] Ringkasan harian {day:%d-%m-%Y}: {len(mine)} menunggu, "
                 f"{len(overdue)} terlambat"),
    )  # fmt: skip


def _line(waiting: Waiting, head: outbox.Letterhead, now: datetime | None = None) -> str:
    request, step = waiting.request, waiting.step
    text = f"- {request.number} ({request.officer_institution}), langkah {step.number}: "
    text += step.activity
    if waiting.due_at is not None:
        text += f"; batas waktu {outbox.when(waiting.due_at, head.zone)}"
        if now is not None:
            late = max(1, int((now - waiting.due_at) / timedelta(minutes=1)))
            text += f", terlambat {duration(late)}"
    return text
