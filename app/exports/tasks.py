"""Export jobs."""

from __future__ import annotations

import logging
import socket

from app import runtime as runtime_module
from app.exports import pipeline
from app.jobs import job

logger = logging.getLogger(__name__)


@job("exports.fetch_item", retries=pipeline.MAX_ATTEMPTS, retry_delay=15)
def fetch_item(export_id: int) -> str:
    """Fetch, write, hash and verify the clip of one request item (retried when transient)."""
    worker = f"{socket.gethostname()}:{id(runtime_module.current())}"
    state = pipeline.run(runtime_module.current(), export_id, worker)
    logger.info("export %d ended %s", export_id, state.value)
    return state.value
