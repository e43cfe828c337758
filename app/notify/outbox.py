"""Queueing notifications in the transaction of the event that causes them.

Nothing here sends anything: a row is added to the outbox (`notifications`) with the event, so
it commits or rolls back with it; `app.notify.sender` sends it later. A dedupe key per
notification (kind, request, step, recipient) keeps a second queueing of the same one out.
Message bodies are written here, in Bahasa Indonesia; they name the request and the step and
point to the portal's address, never a download link, a token or a password. When the office
has a webhook (SAKSI_WEBHOOK_URL), each message gets a twin row for it (`webhook_twin`), queued
in the same transaction, sent and retried on its own (`app.notify.webhook`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.notify.models import (
    WEBHOOK_ADDRESS,
    Notification,
    NotificationKind,
    NotificationState,
)
from app.requests.models import EvidenceRequest
from app.settings import OfficeSettings, Settings
from app.sop.definition import SopStep
from app.web.labels import duration

# Who hears of a step left overdue: the role above the step's own, in the disposition chain.
ESCALATES_TO: dict[Role, Role] = {
    Role.OPERATOR: Role.SUBKOORDINATOR,
    Role.SUBKOORDINATOR: Role.KEPALA_BIDANG,
    Role.KEPALA_BIDANG: Role.SEKRETARIS,
    Role.SEKRETARIS: Role.KEPALA_DINAS,
}


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What messages say about where they come from: the office, its zone, the portal."""

    office: str
    zone: ZoneInfo
    portal: str


def letterhead() -> Letterhead:
    """The running process's office, zone and public address (defaults outside a runtime)."""
    from app import runtime as runtime_module  # noqa: PLC0415 - the runtime imports the SOP

    try:
        settings = runtime_module.current().settings
    except RuntimeError:  # a script without a runtime: the defaults
        fields = Settings.model_fields
        zone, portal = ZoneInfo(str(fields["timezone"].default)), str(fields["public_url"].default)
        return Letterhead(OfficeSettings().name, zone, portal.rstrip("/"))
    return Letterhead(settings.office.name, settings.zone, settings.public_url.rstrip("/"))


def queue(
    session: Session,
    *,
    kind: NotificationKind,
    dedupe_key: str,
    address: str,
    subject: str,
    body: str,
    now: datetime,
    user: User | None = None,
    request: EvidenceRequest | None = None,
    step_number: int | None = None,
    due_at: datetime | None = None,
) -> Notification | None:
    """Add one message to the outbox unless its dedupe key is already there; None then."""
    dedupe_key = dedupe_key[:200]
    exists = select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    if session.scalar(exists) is not None:
        return None
    notification = Notification(
        kind=kind, dedupe_key=dedupe_key, recipient_user_id=user.id if user else None,
        recipient_address=address, request_id=request.id if request else None,
        step_number=step_number, subject=subject[:300], body=body, due_at=due_at,
        created_at=now, state=NotificationState.PENDING, attempts=0, next_attempt_at=now,
    )  # fmt: skip
    if not _add(session, notification):
        return None
    if webhook_enabled():
        _add(session, webhook_twin(notification, user, request))
    return notification


def _add(session: Session, notification: Notification) -> bool:
    try:
        # Two events racing to queue the same notification: the unique key lets one through,
        # and only this savepoint (not the event's transaction) is undone for the other.
        with session.begin_nested():
            session.add(notification)
    except IntegrityError:
        return False
    return True


def webhook_enabled() -> bool:
    """Whether the running process posts notifications to SAKSI_WEBHOOK_URL too."""
    from app import runtime as runtime_module  # noqa: PLC0415 - the runtime imports the SOP

    try:
        return runtime_module.current().settings.webhook_url is not None
    except RuntimeError:  # a script without a runtime
        return False


def _role_of(email: Notification, user: User | None) -> str:
    """The recipient's role: a user's own; else the delivery's recipient (the purge warning)
    or the pemohon (the letter's officer)."""
    if user is not None:
        return user.role.value
    return "recipient" if email.kind is NotificationKind.PURGE_WARNING else Role.PEMOHON.value


def webhook_twin(
    email: Notification, user: User | None, request: EvidenceRequest | None
) -> Notification:
    """The webhook row mirroring `email`: the JSON the office's channel receives (no address,
    token or password: what the e-mail says, to whom by role), with its own state and tries."""
    payload = {
        "kind": email.kind.value,
        "request_number": request.number if request is not None else None,
        "step": email.step_number,
        "subject": email.subject,
        "text": email.body,
        "created_at": email.created_at.isoformat(),
        "due_at": email.due_at.isoformat() if email.due_at is not None else None,
        "recipient_role": _role_of(email, user),
        "recipient_name": user.full_name if user is not None else None,
    }
    return Notification(
        kind=email.kind, dedupe_key=f"webhook:{email.dedupe_key}"[:200],
        recipient_user_id=email.recipient_user_id, recipient_address=WEBHOOK_ADDRESS,
        request_id=email.request_id, step_number=email.step_number, subject=email.subject,
        body=json.dumps(payload, ensure_ascii=False, sort_keys=True), due_at=email.due_at,
        created_at=email.created_at, state=NotificationState.PENDING, attempts=0,
        next_attempt_at=email.next_attempt_at,
    )  # fmt: skip


def holders(session: Session, roles: Iterable[Role]) -> list[User]:
    """Active users of `roles` who have an address and want e-mail, in id order."""
    query = select(User).where(
        User.role.in_(list(roles)),
        User.active.is_(True),
        User.email.is_not(None),
        User.email != "",
        User.notify_email.is_(True),
    )
    return list(session.scalars(query.order_by(User.id)))


def step_holders(session: Session, request: EvidenceRequest, step: SopStep) -> list[User]:
    """Who performs `step` of `request` now: its roles' holders; only the assigned operator
    once one is assigned. The pemohon is never asked to perform a step by e-mail."""
    roles = [role for role in step.roles if role is not Role.PEMOHON]
    people = holders(session, roles)
    assigned = request.assigned_operator_id
    if assigned is not None:
        people = [u for u in people if u.role is not Role.OPERATOR or u.id == assigned]
    return people


def escalation_holders(session: Session, request: EvidenceRequest, step: SopStep) -> list[User]:
    """Who hears of `step` overdue: the holders of the role above the step's; at the top of
    the chain (the Kepala Dinas) the step's own holders."""
    above = [ESCALATES_TO[role] for role in step.roles if role in ESCALATES_TO]
    return holders(session, above) if above else step_holders(session, request, step)


def when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%d-%m-%Y %H:%M} {local.tzname()}"


def about(request: EvidenceRequest) -> str:
    return (
        f"Permohonan data rekaman CCTV {request.number}\n"
        f"Nomor surat: {request.letter_number}\n"
        f"Instansi pemohon: {request.officer_institution}\n"
    )


def footer(head: Letterhead) -> str:
    return (
        f"\nPesan ini dikirim otomatis oleh Saksi, {head.office}. Mohon tidak membalas pesan ini.\n"
    )


def _step_lines(step: SopStep, due_at: datetime | None, head: Letterhead) -> str:
    lines = f"Langkah {step.number}: {step.activity}\n"
    if due_at is not None and step.standard_minutes is not None:
        lines += (
            f"Batas waktu: {when(due_at, head.zone)} "
            f"(standar SOP {duration(step.standard_minutes)})\n"
        )
    return lines


def step_due(
    session: Session, request: EvidenceRequest, step: SopStep, now: datetime
) -> list[Notification]:
    """The request reached `step`: tell whoever performs it, with the step's due time."""
    due_at = None if step.standard is None else now + step.standard
    message = _StepMessage(
        NotificationKind.STEP_DUE, "step_due",
        f"[Saksi] {request.number}: langkah {step.number} menunggu tindakan Anda",
        "Permohonan berikut menunggu tindakan Anda.",
        "Silakan masuk ke Saksi di {portal} untuk menindaklanjuti.",
    )  # fmt: skip
    return _to_each(session, request, step, step_holders(session, request, step), message,
                    due_at, now)  # fmt: skip


def reminder(
    session: Session, request: EvidenceRequest, step: SopStep, due_at: datetime, now: datetime
) -> list[Notification]:
    """Half the step's time standard has passed: remind whoever performs it."""
    due = when(due_at, letterhead().zone)
    message = _StepMessage(
        NotificationKind.REMINDER, "reminder",
        f"[Saksi] Pengingat: {request.number} langkah {step.number} jatuh tempo {due}",
        "Pengingat: separuh waktu standar SOP telah berlalu.",
        "Silakan masuk ke Saksi di {portal} untuk menindaklanjuti.",
    )  # fmt: skip
    return _to_each(session, request, step, step_holders(session, request, step), message,
                    due_at, now)  # fmt: skip


def escalation(
    session: Session, request: EvidenceRequest, step: SopStep, due_at: datetime, now: datetime
) -> list[Notification]:
    """The step is past its due time: tell the role above (see `escalation_holders`)."""
    late = int((now - due_at) / timedelta(minutes=1))
    message = _StepMessage(
        NotificationKind.ESCALATION, "escalation",
        f"[Saksi] Eskalasi: {request.number} langkah {step.number} melewati batas waktu",
        f"Langkah berikut melewati batas waktu standar SOP ({late} menit terlambat):",
        "Mohon ditindaklanjuti melalui Saksi di {portal}.",
    )  # fmt: skip
    return _to_each(session, request, step, escalation_holders(session, request, step),
                    message, due_at, now)  # fmt: skip


@dataclass(frozen=True)
class _StepMessage:
    """One kind of message about a step: its dedupe key's prefix, subject and wording."""

    kind: NotificationKind
    key: str
    subject: str
    opening: str
    closing: str  # `{portal}` is the office's portal address


def _to_each(
    session: Session, request: EvidenceRequest, step: SopStep, users: Iterable[User],
    message: _StepMessage, due_at: datetime | None, now: datetime,
) -> list[Notification]:  # fmt: skip
    """Queue `message` to each of `users`, once each (the dedupe key names the user)."""
    head = letterhead()
    queued = []
    for user in users:
        body = (
            f"Yth. {user.full_name},\n\n{message.opening}\n\n"
            f"{about(request)}{_step_lines(step, due_at, head)}\n"
            f"{message.closing.format(portal=head.portal)}\n{footer(head)}"
        )
        notification = queue(
            session, kind=message.kind,
            dedupe_key=f"{message.key}:{request.id}:{step.number}:{user.id}",
            address=user.email or "", now=now, user=user, request=request,
            step_number=step.number, due_at=due_at, subject=message.subject, body=body,
        )  # fmt: skip
        if notification is not None:
            queued.append(notification)
    return queued


def pemohon_recipient(session: Session, request: EvidenceRequest) -> tuple[User | None, str]:
    """Whom messages to the pemohon go to: the pemohon's account when it registered the
    request and has an address (none if it turned e-mail off), else the letter's officer."""
    creator = session.get(User, request.created_by_id)
    if creator is not None and creator.role is Role.PEMOHON:
        if not creator.notify_email:
            return creator, ""
        if creator.email:
            return creator, creator.email
    return None, request.officer_email


def request_returned(
    session: Session, request: EvidenceRequest, step: SopStep, reason: str, now: datetime
) -> Notification | None:
    """The request was returned at `step`: tell the pemohon, with the reason."""
    user, address = pemohon_recipient(session, request)
    if not address:
        return None
    head = letterhead()
    name = user.full_name if user is not None else request.officer_name
    body = (
        f"Yth. {name},\n\nPermohonan berikut dikembalikan pada langkah {step.number} "
        f"({step.activity}).\n\n{about(request)}\nAlasan: {reason}\n\n"
        f"Silakan melengkapi atau memperbaiki permohonan melalui Saksi di {head.portal}.\n"
        f"{footer(head)}"
    )
    return queue(
        session, kind=NotificationKind.RETURNED, dedupe_key=f"returned:{request.id}",
        address=address, now=now, user=user, request=request, step_number=step.number,
        subject=f"[Saksi] Permohonan {request.number} dikembalikan", body=body,
    )  # fmt: skip


def delivery_ready(
    session: Session, request: EvidenceRequest, delivery_id: int, now: datetime
) -> Notification | None:
    """A delivery is ready: tell the pemohon to pick it up from the portal (never the link:
    the link's token goes to the recipient by the delivery itself)."""
    user, address = pemohon_recipient(session, request)
    if not address:
        return None
    head = letterhead()
    name = user.full_name if user is not None else request.officer_name
    body = (
        f"Yth. {name},\n\n{about(request)}\n"
        "Rekaman yang diminta telah siap diserahkan. Silakan masuk ke Saksi di "
        f"{head.portal} untuk melihat penyerahan dan mengunduhnya melalui tautan yang "
        f"disampaikan kepada penerima.\n{footer(head)}"
    )
    return queue(
        session, kind=NotificationKind.DELIVERY_READY,
        dedupe_key=f"delivery_ready:{delivery_id}", address=address, now=now, user=user,
        request=request, subject=f"[Saksi] Rekaman {request.number} siap diserahkan", body=body,
    )  # fmt: skip
