from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.notify.models import NotificationKind, NotificationState


class NotificationRead(BaseModel):
    """One message of the outbox, as admins see it: to whom, about what, and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: NotificationKind
    recipient_user_id: int | None
    recipient_address: str
    request_id: int | None
    step_number: int | None
    subject: str
    body: str
    state: NotificationState
    attempts: int
    last_error: str | None
    due_at: datetime | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
