"""The outbox over REST, for admins: every notification queued, sent or failed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import AdminUser, SessionDep
from app.http import ERROR_RESPONSES
from app.notify.models import Notification, NotificationState
from app.notify.schemas import NotificationRead
from app.paging import Paging, page_by_id

router = APIRouter(prefix="/api/v1", tags=["notifications"], responses=ERROR_RESPONSES)


@router.get("/notifications", response_model=list[NotificationRead])
def list_notifications(
    _user: AdminUser,
    session: SessionDep,
    page: Paging,
    response: Response,
    state: Annotated[NotificationState | None, Query()] = None,
) -> list[NotificationRead]:
    """The e-mail notifications in the order they were queued (`?limit=&cursor=`, and
    `?state=pending|sent|failed`): recipient, subject, body, tries and the last error."""
    query = select(Notification)
    if state is not None:
        query = query.where(Notification.state == state)
    rows = page_by_id(session, query, Notification.id, page, response)
    return [NotificationRead.model_validate(row) for row in rows]


def recent(session: Session, limit: int = 50) -> list[Notification]:
    """The latest `limit` notifications, newest first (the admin page's table)."""
    return list(session.scalars(select(Notification).order_by(Notification.id.desc()).limit(limit)))
