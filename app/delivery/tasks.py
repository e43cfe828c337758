"""Delivery jobs: the upload of a delivery, and the periodic purge."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.delivery import purge, service
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
