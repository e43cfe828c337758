"""Export jobs."""

from __future__ import annotations

import logging
import os
import socket

from app import runtime as runtime_module
from app.exports import pipeline
from app.exports.models import ExportState
from app.jobs import job
from nvr_adapters import NvrError

logger = logging.getLogger(__name__)


@job("exports.fetch_item")
def fetch_item(export_id: int) -> str:
    """Fetch, write, hash and verify the clip of one request item (retried when transient)."""
    # A transient failure raises RetryLater (pipeline.RETRY's backoff) and runs again later.
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        state = pipeline.run(runtime_module.current(), export_id, worker)
    except NvrError as exc:
        logger.warning("export %d failed: %s", export_id, exc)  # on record; not retried
        return ExportState.FAILED.value
    except pipeline.AttemptLost as exc:
        logger.warning("export %d: %s", export_id, exc)
        return "lost"
    logger.info("export %d ended %s", export_id, state.value)
    return state.value
