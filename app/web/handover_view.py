"""What the request page shows of the handover, for staff and for the agency."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import errors
from app.auth.models import STAFF_ROLES, WRITING_STAFF_ROLES, Role, User
from app.custody import service as custody
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, downloadable
from app.handover import issuing, packaging, signing, signing_terms
from app.handover.models import Handover
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.settings import SignerRole

# The BAST's signature blocks, as the page names them.
BLOCKS: dict[SignerRole, str] = {
    "operator": "Pihak Pertama",
    "recipient": "Pihak Kedua",
    "subkoordinator": "Mengetahui",
}


def handover_context(
    runtime: Runtime, session: Session, user: User, evidence: EvidenceRequest
) -> dict[str, Any]:
    """What the request page shows of the handover, for staff and for the agency."""
    deliveries = delivery_service.deliveries_of(session, evidence)
    now = runtime.clock.now()
    handover = issuing.handover_of(session, evidence)
    return {
        "package": packaging.package_of(session, evidence),
        "deliveries": deliveries,
        "live_delivery": next((d for d in reversed(deliveries) if downloadable(d, now)), None),
        "handover": handover,
        "esign": esign_context(runtime, session, user, evidence, handover),
        "destruction_signing": {
            d.id: destruction_context(runtime, session, user, d)
            for d in deliveries
            if d.destruction_path is not None
        },
        # Office staff withdraw a link; the read-only auditor is not offered what it may not do.
        "can_revoke": user.role in WRITING_STAFF_ROLES,
        "custody_events": custody.events_of_request(session, evidence.id)
        if user.role in STAFF_ROLES
        else [],
        "days_left": lambda moment: _days_left(moment, now),
    }


def esign_context(
    runtime: Runtime,
    session: Session,
    user: User,
    evidence: EvidenceRequest,
    handover: Handover | None,
) -> dict[str, Any]:
    """The BAST's electronic signatures: who has signed, and the forms this user may use now
    (only where the server would accept the signature)."""
    if handover is None or handover.pdf_path is None:
        return {"roles": [], "blocks": BLOCKS, "can_sign": [], "can_approve": False}
    mine: list[SignerRole] = ["recipient"] if user.role is Role.PEMOHON else []
    if user.role in WRITING_STAFF_ROLES:
        mine = ["operator", "subkoordinator"]
    allowed = [role for role in mine if _may_sign(runtime, session, evidence, role, user)]
    return {
        "roles": signing.bast_signatures(runtime, session, evidence),
        "blocks": BLOCKS,
        "can_sign": [role for role in allowed if role != "recipient"],
        "can_approve": "recipient" in allowed,
        "bsre": runtime.settings.bsre.configured,
        "confirmation": signing_terms.CONFIRMATION,
    }


def destruction_context(
    runtime: Runtime, session: Session, user: User, delivery: Delivery
) -> dict[str, Any]:
    """The destruction record's electronic signatures: who has signed, and the forms this user
    may use now (Petugas: the request's operator, Mengetahui: a subkoordinator)."""
    allowed = []
    for role in signing.DESTRUCTION_BLOCKS:
        try:
            signing.check_may_sign_destruction(runtime, session, delivery, role, user)
        except errors.SaksiError:
            continue
        allowed.append(role)
    return {
        "roles": signing.destruction_signatures(session, delivery),
        "blocks": signing.DESTRUCTION_BLOCKS,
        "can_sign": allowed,
    }


def _may_sign(
    runtime: Runtime, session: Session, evidence: EvidenceRequest, role: SignerRole, user: User
) -> bool:
    try:
        signing.check_may_sign(runtime, session, evidence, role, user)
    except errors.SaksiError:
        return False
    return True


def _days_left(moment: datetime | None, now: datetime) -> int | None:
    """Whole days, rounded up: a link that lives 13 days and 23 hours has 14 days left."""
    if moment is None:
        return None
    return max(0, math.ceil((moment - now).total_seconds() / 86400))
