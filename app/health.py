from __future__ import annotations

import asyncio
import logging
from typing import Literal

import httpx
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app import disk, errors
from app.delivery import purge, reconcile
from app.deps import RuntimeDep
from app.http import ErrorEnvelope
from app.runtime import Runtime
from app.settings import Settings

logger = logging.getLogger(__name__)
# How long after start-up the public address is tried, and how long it may take to answer.
PUBLIC_URL_CHECK_DELAY_S, PUBLIC_URL_TIMEOUT_S = 2.0, 5.0

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
    settings = runtime.settings
    space = disk.reserve_alert(settings.data_dir, settings.min_free_bytes)
    alerts = [space] if space else []
    with runtime.sessions() as session:
        overdue = purge.overdue_deliveries(runtime, session, runtime.clock.now())
        orphans = reconcile.open_orphans(session)
    if orphans:
        ids = ", ".join(str(o["id"]) for o in orphans)
        alerts.append(f"drive orphans: {len(orphans)} items on Drive no delivery owns (ids {ids})")
    if overdue:
        ids = ", ".join(str(d.id) for d in overdue)
        alerts.append(f"purge overdue: {len(overdue)} expired deliveries not purged (ids {ids})")
    return alerts


async def warn_unless_public_url_answers(settings: Settings) -> bool:
    """Once started, ask the public URL's /healthz from here; warn when it does not answer.

    Every address printed into evidence (manifest, VERIFIKASI.txt, links, the BAST's QR code)
    is built from SAKSI_PUBLIC_URL: one that reaches nothing makes those documents point
    nowhere. A reverse proxy may not be reachable from the server itself, hence a warning.
    """
    await asyncio.sleep(PUBLIC_URL_CHECK_DELAY_S)
    url = f"{settings.public_url.rstrip('/')}/healthz"
    try:
        async with httpx.AsyncClient(timeout=PUBLIC_URL_TIMEOUT_S) as client:
            answer = await client.get(url)
    except httpx.HTTPError as exc:
        logger.warning("SAKSI_PUBLIC_URL %s does not answer %s: %r; addresses printed into "
                       "evidence would point nowhere", settings.public_url, url, exc)  # fmt: skip
        return False
    if answer.status_code != 200:
        logger.warning("SAKSI_PUBLIC_URL %s answers %s with %d, not 200",
                       settings.public_url, url, answer.status_code)  # fmt: skip
        return False
    return True
