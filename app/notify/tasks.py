"""Notification jobs: the reminders and escalations of the SOP's time standards, and sending
the outbox. Both every minute; each run once per minute across the workers (job leases)."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.db import unit_of_work
from app.jobs import periodic_job
from app.notify import sender, timers

logger = logging.getLogger(__name__)


@periodic_job("notify.check_deadlines", minute="*")
def check_deadlines() -> int:
    """Queue the reminders (half a step's standard gone) and escalations (step overdue)."""
    runtime = runtime_module.current()
    with unit_of_work(runtime.sessions) as session:
        return timers.queue_reminders_and_escalations(session, runtime.sop, runtime.clock.now())


@periodic_job("notify.send_pending", minute="*")
def send_pending() -> int:
    """Send the outbox's due messages over SMTP; return how many the server accepted."""
    report = sender.send_pending(runtime_module.current())
    if report.retrying:
        logger.warning("notifications: %d message(s) will be retried", len(report.retrying))
    return len(report.sent)
