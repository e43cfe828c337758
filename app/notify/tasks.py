"""Notification jobs: the reminders and escalations of the SOP's time standards, the purge
warnings, the officials' daily digest, and sending the outbox (e-mail and webhook). Each runs
once per schedule across the workers (job leases)."""

from __future__ import annotations

import logging
import time

from sqlalchemy import func, or_, select

from app import runtime as runtime_module
from app.db import unit_of_work
from app.jobs import periodic_job
from app.notify import scheduled, sender, timers, webhook
from app.notify.models import WEBHOOK_ADDRESS, Notification, NotificationState
from app.runtime import Runtime

logger = logging.getLogger(__name__)


@periodic_job("notify.check_deadlines", minute="*")
def check_deadlines() -> int:
    """Queue the reminders (half a step's standard gone) and escalations (step overdue)."""
    runtime = runtime_module.current()
    with unit_of_work(runtime.sessions) as session:
        return timers.queue_reminders_and_escalations(session, runtime.sop, runtime.clock.now())


@periodic_job("notify.purge_warnings", minute="*/15")
def purge_warnings() -> int:
    """Warn each recipient two days before their delivery is purged (once per delivery)."""
    runtime = runtime_module.current()
    with unit_of_work(runtime.sessions) as session:
        return scheduled.queue_purge_warnings(session, runtime.clock.now())


@periodic_job("notify.daily_digest", minute="*/5")
def daily_digest() -> int:
    """From SAKSI_NOTIFY_DIGEST_HOUR (local) on, queue today's digest to each official."""
    runtime = runtime_module.current()
    hour = runtime.settings.notify_digest_hour
    with unit_of_work(runtime.sessions) as session:
        return scheduled.queue_digests(session, runtime.sop, runtime.clock.now(), hour)


@periodic_job("notify.send_pending", minute="*")
def send_pending() -> int:
    """Send the outbox's due messages over SMTP and to the webhook; return how many were
    accepted."""
    runtime = runtime_module.current()
    sent = 0
    for report in (sender.send_pending(runtime), webhook.send_pending(runtime)):
        if report.retrying:
            logger.warning("notifications: %d message(s) will be retried", len(report.retrying))
        sent += len(report.sent)
    return sent


def flush(runtime: Runtime, wait_seconds: float = 10.0) -> int:
    """Send what is due now, waiting up to `wait_seconds` for rows another worker has claimed
    (`saksi demo --walkthrough` before it exits); return how many this call sent."""
    sent, deadline = 0, time.monotonic() + wait_seconds
    while True:
        for report in (sender.send_pending(runtime), webhook.send_pending(runtime)):
            sent += len(report.sent)
        if not _due(runtime) or time.monotonic() > deadline:
            return sent
        time.sleep(0.1)


def _due(runtime: Runtime) -> int:
    """How many rows a configured channel would send now (claimed by another worker or not)."""
    settings = runtime.settings
    webhook_row = Notification.recipient_address == WEBHOOK_ADDRESS
    channels = [
        condition
        for condition, configured in ((~webhook_row, settings.smtp_url is not None),
                                      (webhook_row, settings.webhook_url is not None))
        if configured
    ]  # fmt: skip
    if not channels:
        return 0
    with runtime.sessions() as session:
        query = select(func.count(Notification.id)).where(
            Notification.state == NotificationState.PENDING,
            Notification.next_attempt_at <= runtime.clock.now(),
            or_(*channels),
        )
        return int(session.scalar(query) or 0)
