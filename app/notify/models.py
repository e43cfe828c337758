from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class NotificationState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationKind(StrEnum):
    STEP_DUE = "step_due"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    RETURNED = "returned"
    DELIVERY_READY = "delivery_ready"
    PURGE_WARNING = "purge_warning"
    DIGEST = "digest"


# What the admin page calls them (Bahasa Indonesia).
KIND_LABELS = {
    NotificationKind.STEP_DUE: "Langkah menunggu",
    NotificationKind.REMINDER: "Pengingat",
    NotificationKind.ESCALATION: "Eskalasi",
    NotificationKind.RETURNED: "Permohonan dikembalikan",
    NotificationKind.DELIVERY_READY: "Rekaman siap",
    NotificationKind.PURGE_WARNING: "Peringatan pemusnahan",
    NotificationKind.DIGEST: "Ringkasan harian",
}
STATE_LABELS = {
    NotificationState.PENDING: "Menunggu dikirim",
    NotificationState.SENT: "Terkirim",
    NotificationState.FAILED: "Gagal",
}

# A webhook delivery is its own outbox row, beside the e-mail it mirrors: this sentinel stands
# where an address would (it has no "@", so it is never an e-mail address), and its dedupe key
# is the e-mail's prefixed with "webhook:". Each row has its own state, tries and error.
WEBHOOK_ADDRESS = "webhook"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Notification(Base):
    """One e-mail in the outbox: queued with its event, sent (or given up) by the sender job."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, 32))
    # The same notification is never queued twice: "step_due:<request>:<step>:<user>" …
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_address: Mapped[str] = mapped_column(String(254))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    step_number: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The SOP deadline the message is about (the step's due time), when it has one.
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[NotificationState] = mapped_column(str_enum(NotificationState, 16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A sender owns the row while claim_token is its own and claimed_until has not passed.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def channel(self) -> Channel:
        return Channel.WEBHOOK if self.recipient_address == WEBHOOK_ADDRESS else Channel.EMAIL
