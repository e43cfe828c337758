from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app import errors
from app.delivery import purge
from app.deps import RuntimeDep
from app.http import ErrorEnvelope
from app.runtime import Runtime

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "degraded"] = "ready"
    database: str
    queue: str
    queue_pending: int
    # What needs a person: e.g. deliveries past their 14 days that are still not purged.
    alerts: list[str] = []


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Tell that the process is up."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": ErrorEnvelope}})
def readyz(runtime: RuntimeDep) -> Readiness:
    """Tell whether the database and the job queue answer."""
    try:
        with runtime.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        raise errors.ServiceUnavailable(f"database unavailable: {type(exc).__name__}") from exc
    try:
        pending = runtime.queue.pending_count()
    except Exception as exc:
        raise errors.ServiceUnavailable(f"job queue unavailable: {type(exc).__name__}") from exc
    alerts = _alerts(runtime)
    return Readiness(
        status="degraded" if alerts else "ready",
        alerts=alerts,
        database=runtime.engine.dialect.name,
        queue=type(runtime.queue.huey).__name__,
        queue_pending=pending,
    )


def _alerts(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        overdue = purge.overdue_deliveries(runtime, session, runtime.clock.now())
    if not overdue:
        return []
    ids = ", ".join(str(d.id) for d in overdue)
    return [f"purge overdue: {len(overdue)} expired deliveries not purged (ids {ids})"]
