"""Export jobs: fetching an item's clip, and recovering the exports of workers that died."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.exports import pipeline, recovery
from app.exports.models import ExportState
from app.jobs import job, periodic_job
from app.jobs.queue import on_worker_start
from nvr_adapters import NvrError

logger = logging.getLogger(__name__)


@job("exports.fetch_item")
def fetch_item(export_id: int) -> str:
    """Fetch, write, hash and verify the clip of one request item (retried when transient)."""
    # A transient failure raises RetryLater (the settings' backoff) and runs again later.
    try:
        state = pipeline.run(runtime_module.current(), export_id, recovery.this_worker())
    except NvrError as exc:
        logger.warning("export %d failed: %s", export_id, exc)  # on record; not retried
        return ExportState.FAILED.value
    except pipeline.AttemptLost as exc:
        logger.warning("export %d: %s", export_id, exc)  # recovery restarted it elsewhere
        return "lost"
    logger.info("export %d ended %s", export_id, state.value)
    return state.value


@periodic_job("exports.recover_interrupted", minute="*")
def recover_interrupted() -> None:
    """Restart the exports whose worker died while others keep running."""
    recovery.recover(runtime_module.current())


@on_worker_start("exports.recover_interrupted")
def recover_at_start() -> None:
    """Before taking jobs, restart the exports of the workers that died (a crash, a kill)."""
    recovery.recover(runtime_module.current())
