"""Scheduled custody work: checkpoints of the ledger."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.custody import service
from app.db import unit_of_work
from app.jobs import periodic_job

logger = logging.getLogger(__name__)


@periodic_job("custody.checkpoint", minute="*/10")
def checkpoint() -> int | None:
    """Sign a checkpoint if the ledger grew since the last one; return its tree size."""
    runtime = runtime_module.current()
    with unit_of_work(runtime.sessions) as session:
        latest = service.latest_checkpoint(session)
        size = service.current_tree(session).size
        if size == 0 or (latest is not None and latest.tree_size == size):
            return None
        issued = service.issue_checkpoint(
            session, runtime.office_key, runtime.settings.custody_origin, runtime.clock.now()
        )
        logger.info("checkpoint %d signed at tree size %d", issued.id, issued.tree_size)
        return issued.tree_size
