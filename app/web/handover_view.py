"""What the request page shows of the handover, for staff and for the agency."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.models import STAFF_ROLES, WRITING_STAFF_ROLES, User
from app.custody import service as custody
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryState
from app.handover import issuing, packaging
from app.requests.models import EvidenceRequest
from app.runtime import Runtime


def handover_context(
    runtime: Runtime, session: Session, user: User, evidence: EvidenceRequest
) -> dict[str, Any]:
    """What the request page shows of the handover, for staff and for the agency."""
    deliveries = delivery_service.deliveries_of(session, evidence)
    now = runtime.clock.now()
    return {
        "package": packaging.package_of(session, evidence),
        "deliveries": deliveries,
        "live_delivery": next((d for d in reversed(deliveries) if downloadable(d, now)), None),
        "handover": issuing.handover_of(session, evidence),
        # Office staff withdraw a link; the read-only auditor is not offered what it may not do.
        "can_revoke": user.role in WRITING_STAFF_ROLES,
        "custody_events": custody.events_of_request(session, evidence.id)
        if user.role in STAFF_ROLES
        else [],
        "days_left": lambda moment: _days_left(moment, now),
    }


def downloadable(delivery: Delivery, now: datetime) -> bool:
    due = delivery.purge_due_at
    return delivery.state is DeliveryState.SHARED and due is not None and now < due


def _days_left(moment: datetime | None, now: datetime) -> int | None:
    """Whole days, rounded up: a link that lives 13 days and 23 hours has 14 days left."""
    if moment is None:
        return None
    return max(0, math.ceil((moment - now).total_seconds() / 86400))
