from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app import errors
from app.deps import RuntimeDep
from app.http import ErrorEnvelope

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: str
    queue: str
    queue_pending: int


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
    return Readiness(
        database=runtime.engine.dialect.name,
        queue=type(runtime.queue.huey).__name__,
        queue_pending=pending,
    )
