"""Delivery jobs: the upload of a delivery, the periodic purge, closing idle downloads and
reconciling Drive with the database."""

from __future__ import annotations

import logging
from datetime import timedelta

from app import runtime as runtime_module
from app.db import unit_of_work
from app.delivery import access, activity, purge, reconcile, service
from app.jobs import job, periodic_job

logger = logging.getLogger(__name__)


@job("delivery.perform")
def perform_delivery(delivery_id: int) -> None:
    """Copy or upload a delivery's package, verify it and share it."""
    service.perform(runtime_module.current(), delivery_id)


@periodic_job(purge.JOB_NAME, minute="*/5")
def purge_expired() -> list[int]:
    """Purge every delivery whose 14 days are over; return the ids purged."""
    runtime = runtime_module.current()
    report = purge.purge_due(runtime, runtime.clock.now())
    for delivery_id, reason in report.failed.items():
        logger.error("delivery %d could not be purged: %s", delivery_id, reason)
    return report.purged


@periodic_job("delivery.close_download_sessions", minute="*/5")
def close_download_sessions() -> int:
    """Record the totals of every download session idle past its window (one custody event
    each); return how many were closed."""
    runtime = runtime_module.current()
    window = timedelta(minutes=runtime.settings.download_session_minutes)
    with unit_of_work(runtime.sessions) as session:
        return access.close_idle(session, runtime.clock.now(), window)


@periodic_job(reconcile.JOB_NAME, minute="17", hour="*/6")
def reconcile_drive() -> int | None:
    """Compare Saksi's Drive with the database; report and (past the TTL) delete orphans.
    Skipped, and None, while the office delivers without Drive."""
    runtime = runtime_module.current()
    if runtime.settings.delivery_backend != "drive":
        return None
    report = reconcile.reconcile_drive(runtime, runtime.clock.now())
    return len(report.orphans)


@periodic_job(activity.JOB_NAME, minute="41")
def read_drive_activity() -> int | None:
    """Append what Drive says happened to delivered items to the ledger; return how many
    activities were recorded (None while the office delivers without Drive)."""
    runtime = runtime_module.current()
    if runtime.settings.delivery_backend != "drive":
        return None
    return activity.collect_activity(runtime, runtime.clock.now()).recorded
