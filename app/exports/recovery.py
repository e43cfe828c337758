"""Recovery after a crash: attempts whose worker died are closed and their exports restarted.

A worker renews the heartbeat of its running attempt every few seconds (`pipeline`). An attempt
still marked running is taken for dead when its worker's process is gone (a worker on this host
whose pid no longer runs) or when its heartbeat is older than `STALE_AFTER` (a worker anywhere).
Recovery closes it as `interrupted` with the reason, puts that on record (custody event
`export.attempt_ended`, naming the partial file, which stays on disk), frees its playback slot and
queues the export again, or fails it once its tries are used up.

It runs when job workers start and every minute. Closing is a conditional UPDATE on the heartbeat
recovery saw, so an attempt that beats meanwhile is left alone, two workers recovering at once
close an attempt once, and running recovery again changes nothing.

A worker can also die after taking an export's job from the queue but before opening its
attempt: the export then sits `queued` with no job to run it. Such an orphan (queued for longer
than `STALE_AFTER`, no running attempt, no job waiting or scheduled for it) is queued again, on
record (`export.requeued`).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.custody import service as custody
from app.db import unit_of_work
from app.exports import pipeline, turns
from app.exports.models import (
    TERMINAL_STATES,
    AttemptOutcome,
    Export,
    ExportAttempt,
    ExportState,
    NvrSlot,
)
from app.jobs.identity import this_worker
from app.runtime import Runtime

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)  # twelve missed heartbeats
WORKER_LOST = "WorkerLost"
__all__ = ["recover", "requeue_orphans", "this_worker"]


def recover(runtime: Runtime, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Close the attempts whose worker is gone and restart their exports; return the exports."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        running = session.scalars(
            select(ExportAttempt).where(ExportAttempt.outcome == AttemptOutcome.RUNNING)
        )
        restarted = []
        for attempt in list(running):
            why = _gone(attempt, now - stale_after)
            if why is not None and _close(session, attempt, why, now):
                restarted.append(_restart(runtime, session, attempt, now))
    restarted += requeue_orphans(runtime, stale_after)
    if restarted:
        logger.warning("recovered the exports %s of workers that died", restarted)
    return restarted


def requeue_orphans(runtime: Runtime, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Queue again the queued exports no job will run; return them."""
    now = runtime.clock.now()
    waiting = {args[0] for args in runtime.queue.waiting("exports.fetch_item") if args}
    with unit_of_work(runtime.sessions) as session:
        queued = session.scalars(
            select(Export).where(
                Export.state == ExportState.QUEUED, Export.updated_at < now - stale_after
            )
        )
        orphans = [e for e in queued if e.id not in waiting and not _has_running(e)]
        for export in orphans:
            export.updated_at = now
            custody.record(
                session, "export.requeued", custody.SYSTEM, now,
                object={"export": export.id, "reason": "queued with no job to run it"},
                authorization=pipeline.export_letter(session, export), request_id=export.request_id,
            )  # fmt: skip
            runtime.queue.enqueue(session, "exports.fetch_item", export.id)
        return [export.id for export in orphans]


def _has_running(export: Export) -> bool:
    return any(a.outcome is AttemptOutcome.RUNNING for a in export.attempts)


def _gone(attempt: ExportAttempt, stale_before: datetime) -> str | None:
    """Why an attempt's worker is taken for dead, or None while it may be alive."""
    host, pid, start = _named(attempt.worker)
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid() and start != this_worker().rsplit(":", 1)[1]:
            return f"it ran in an earlier process with this pid ({pid}), before a restart"
        if int(pid) != os.getpid() and not _process_runs(int(pid)):
            return f"its process ({pid}) is gone"
    if attempt.heartbeat_at < stale_before:
        return f"no heartbeat since {attempt.heartbeat_at.isoformat()}"
    return None


def _named(worker: str) -> tuple[str, str, str]:
    """Host, pid and start id of a worker name (names from before the start id have none)."""
    parts = worker.split(":")
    if len(parts) >= 3 and parts[-2].isdigit():
        return ":".join(parts[:-2]), parts[-2], parts[-1]
    host, _, pid = worker.rpartition(":")
    return host, pid, ""


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid: judge by the heartbeat alone
    return True


def _close(session: Session, attempt: ExportAttempt, why: str, now: datetime) -> bool:
    """Mark the attempt interrupted unless it beat or ended since it was read."""
    detail = (f"the worker {attempt.worker} stopped: {why}; the partial file "
              f"{attempt.file_path} is kept")  # fmt: skip
    closed = session.execute(
        update(ExportAttempt)
        .where(
            ExportAttempt.id == attempt.id,
            ExportAttempt.outcome == AttemptOutcome.RUNNING,
            ExportAttempt.heartbeat_at == attempt.heartbeat_at,
        )
        .values(
            outcome=AttemptOutcome.INTERRUPTED,
            ended_at=now,
            error_code=WORKER_LOST,
            error_detail=detail,
        )  # fmt: skip
    )
    if not closed.rowcount:  # type: ignore[attr-defined]
        return False
    session.refresh(attempt)
    return True


def _restart(runtime: Runtime, session: Session, attempt: ExportAttempt, now: datetime) -> int:
    """Queue the attempt's export again (or fail it when its tries are used up), on record."""
    export = attempt.export
    holder = turns.lease_holder(attempt.worker, attempt.export_id)
    session.execute(delete(NvrSlot).where(NvrSlot.holder == holder))
    pipeline.record_attempt_end(
        session, export, attempt, pipeline.export_letter(session, export), now
    )
    if export.state in TERMINAL_STATES:
        return export.id  # it finished all the same: nothing to restart
    tries = pipeline.tries(export.attempts)
    if tries >= runtime.settings.export_max_attempts:
        error = (WORKER_LOST, f"{attempt.error_detail} (gave up after {tries} attempts)")
        pipeline.settle(session, export, ExportState.FAILED, error, now)
        return export.id
    pipeline.settle(
        session, export, ExportState.QUEUED, (WORKER_LOST, str(attempt.error_detail)), now
    )
    runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return export.id
