"""Scheduled custody work: checkpoints of the ledger."""

from __future__ import annotations

import logging

from app import runtime as runtime_module
from app.custody import service
from app.custody.witnessing import submit_checkpoints
from app.db import unit_of_work
from app.jobs import periodic_job
from custody import ledger
from custody.timestamp import TimestampUnavailable, stamp

logger = logging.getLogger(__name__)


@periodic_job("custody.checkpoint", minute="*/10")
def checkpoint() -> int | None:
    """Sign a checkpoint if the ledger grew since the last one; return its tree size."""
    runtime = runtime_module.current()
    with unit_of_work(runtime.sessions) as session:
        latest = service.latest_checkpoint(session)
        size = ledger.head_seq(session.connection())
        if size == 0 or (latest is not None and latest.tree_size == size):
            return None
        issued = service.issue_checkpoint(
            session, runtime.office_key, runtime.settings.custody_origin, runtime.clock.now()
        )
        logger.info("checkpoint %d signed at tree size %d", issued.id, issued.tree_size)
        return issued.tree_size


@periodic_job("custody.timestamp", minute="*")
def timestamp_checkpoints() -> int:
    """Have the configured RFC 3161 authority time-stamp checkpoints; return how many got one.

    An unreachable authority leaves the checkpoints queued for the next run: nothing waits on it.
    """
    runtime = runtime_module.current()
    url = runtime.settings.timestamp_url
    if not url:
        return 0
    stamped = 0
    with unit_of_work(runtime.sessions) as session:
        connection = session.connection()
        for checkpoint in ledger.unstamped_checkpoints(connection):
            try:
                reply = stamp(url, checkpoint.note.encode())
            except TimestampUnavailable as exc:
                logger.warning("checkpoint %d not time-stamped yet: %s", checkpoint.id, exc)
                break
            ledger.append_timestamp(connection, checkpoint.id, url, reply.der, runtime.clock.now())
            stamped += 1
    return stamped


@periodic_job("custody.witness", minute="*")
def submit_to_witnesses() -> int:
    """Submit the latest checkpoint to the configured witnesses (c2sp.org/tlog-witness) and
    keep their cosignatures; return how many were obtained. A witness that is unreachable or
    refuses is tried again on the next run (a refusal is logged as an error: it may mean the
    ledger's past no longer matches what the witness cosigned)."""
    return sum(1 for result in submit_checkpoints(runtime_module.current()) if result.ok)
