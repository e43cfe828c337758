"""The auditor's page: run the ledger verification from the browser and read its verdict.

The same check as `saksi verify ledger`: every event's leaf recomputed, the Merkle root rebuilt,
every stored checkpoint's signature and its consistency with the tree. The run itself becomes a
custody event, so the ledger shows when it was last audited and by whom.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role, User
from app.custody import service as custody
from app.deps import RuntimeDep, SessionDep
from app.runtime import Runtime
from app.web import labels
from app.web.routes import WebUser, render
from app.web.session import check_csrf
from custody import StoredEvent, verify_ledger
from custody.verify import LedgerReport

router = APIRouter(prefix="/audit", include_in_schema=False)
OFFICE_EVENTS = 50  # the latest changes shown; the rest through /api/v1/custody/office-events
AUDIT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})


def auditor(user: WebUser) -> User:
    if user.role not in AUDIT_ROLES:
        raise errors.RoleNotPermitted("the audit page is for auditors and administrators")
    return user


AuditorUser = Annotated[User, Depends(auditor)]


@router.get("", response_class=HTMLResponse)
def audit_page(
    request: Request, user: AuditorUser, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    return _page(request, runtime, session, user, report=None)


@router.post("/periksa", response_class=HTMLResponse)
def run_verification(
    request: Request, user: AuditorUser, runtime: RuntimeDep, session: SessionDep,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:  # fmt: skip
    """Verify the whole ledger now, in a snapshot of its own: one consistent state, and the
    service goes on writing meanwhile (this request's transaction is ended first, as on SQLite
    it holds the write lock)."""
    check_csrf(runtime, request, csrf)
    session.commit()
    with runtime.snapshots() as connection:
        report = verify_ledger(
            connection, runtime.settings.custody_origin, runtime.office_key.public_bytes
        )
    custody.record(
        session, "ledger.verified", custody.performer(user), runtime.clock.now(),
        result={"events": report.events, "checkpoints": report.checkpoints,
                "root": report.root.hex(), "ok": report.ok,
                "first_failing_seq": report.first_failing_seq,
                "findings": [str(f) for f in report.findings[:20]]},
    )  # fmt: skip
    return _page(request, runtime, session, user, report=report)


def _page(
    request: Request, runtime: Runtime, session: Session, user: User, report: LedgerReport | None
) -> HTMLResponse:
    return render(
        request, runtime, "audit.html", 200 if report is None or report.ok else 409, user=user,
        report=report, checkpoint=custody.latest_checkpoint(session),
        origin=runtime.settings.custody_origin,
        office_events=[_office_row(e) for e in custody.office_events(session, OFFICE_EVENTS)],
    )  # fmt: skip


def _role(role: str) -> str:
    return labels.ROLES.get(role) or {"system": "sistem"}.get(role, role)


def _office_row(event: StoredEvent) -> dict[str, Any]:
    """One line of the registry and account changes: when, what, by whom, which fields."""
    document = json.loads(event.canonical)
    performer, what = document["performer"], document.get("object", {})
    subject = what.get("name") or what.get("username") or what.get("nvr") or ""
    changes = what.get("changes")
    if changes is None and event.action == "ledger.verified":
        changes = {"ok": document.get("result", {}).get("ok")}
    return {
        "seq": event.seq, "at": event.recorded_at,
        "action": labels.OFFICE_ACTIONS.get(event.action, event.action),
        "by": f"{performer['name']} ({_role(performer['role'])})",
        "subject": subject,
        "changes": ", ".join(f"{k}: {v}" for k, v in (changes or {}).items()),
    }  # fmt: skip
