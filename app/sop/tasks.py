"""Scheduled SOP work."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.db import unit_of_work
from app.jobs import periodic_job
from app.sop import service

logger = logging.getLogger(__name__)


@periodic_job("sop.report_overdue", minute="*/5")
def report_overdue() -> int:
    """Log every open request whose current step has missed its time standard."""
    runtime = runtime_module.current()
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        late = service.overdue_steps(session, runtime.sop, now)
        for request, deadline in late:
            logger.warning(
                "request %s: step %d (%s) overdue since %s",
                request.number,
                deadline.step.number,
                deadline.step.activity,
                deadline.due_at,
            )
    return len(late)
