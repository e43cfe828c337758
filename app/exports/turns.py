"""Waiting for a playback slot of an NVR, in line (issue 18 item 1).

Before an export makes an attempt it takes one of its NVR's playback slots. When every slot is
busy it waits in the NVR's line (`NvrSlots.take_in_turn`), polling briefly; no attempt is made,
no custody event written, no try counted and no backoff applied. The export shows
`waiting for NVR …` in its progress meanwhile. After `export_slot_wait_seconds` without its turn
the job gives its worker thread back (so exports of other NVRs are not held up behind it) and is
queued again at once, keeping its place in the line.

Measured before (issue 18): with the old retry, 2 workers took 49-88 s for what 1 worker did in
17-19 s, through 20-23 backoff waits per run, each writing two custody events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from app.db import unit_of_work
from app.exports import service
from app.exports.limiter import Lease, NvrSlots
from app.exports.models import AttemptOutcome, Export, ExportState
from app.jobs.queue import RetryLater
from app.requests.models import RequestItem
from app.runtime import Runtime

SLOT_LEASE = timedelta(minutes=10)
NO_SLOT = "NoPlaybackSlot"
POLL_S = 0.2  # how often a waiter looks at the line
REQUEUE_S = 0.5  # how soon a job that gave its thread back runs again (not a backoff)
TICKET_GRACE_S = 30.0  # how long a place in line outlives its waiter's last look


class NoPlaybackSlot(RetryLater):
    """The export's turn at its NVR has not come yet; its job runs again at once, in line."""


@dataclass(frozen=True)
class Line:
    nvr_id: int
    nvr_name: str
    limit: int  # the NVR's own, or the service's default


def lease_holder(worker: str, export_id: int) -> str:
    """Who holds a playback slot: the worker and the export it fetches."""
    return f"{worker}:export-{export_id}"


def wait_for_slot(
    runtime: Runtime, export_id: int, worker: str
) -> tuple[NvrSlots, Lease] | ExportState:
    """The export's slot once its turn comes; its state if there is nothing to fetch."""
    line = _line_of(runtime, export_id)
    if isinstance(line, ExportState):
        return line
    slots = NvrSlots(runtime.sessions, runtime.clock, line.limit, SLOT_LEASE)
    patience = runtime.settings.export_slot_wait_seconds
    alive = timedelta(seconds=patience + TICKET_GRACE_S)
    holder, deadline, noted = lease_holder(worker, export_id), time.monotonic() + patience, False
    while True:
        lease = slots.take_in_turn(line.nvr_id, export_id, holder, alive)
        if lease is not None:
            _note_waiting(runtime, export_id, None)
            return slots, lease
        if not noted:
            _note_waiting(runtime, export_id, _waiting(line, slots.ahead_of(export_id)))
            noted = True
        if time.monotonic() >= deadline:
            raise NoPlaybackSlot(_waiting(line, slots.ahead_of(export_id)), REQUEUE_S)
        time.sleep(POLL_S)


def _waiting(line: Line, ahead: int | None) -> str:
    return f"waiting for NVR {line.nvr_name}: {ahead or 0} ahead in line, {line.limit} slots"


def _line_of(runtime: Runtime, export_id: int) -> Line | ExportState:
    with runtime.sessions() as session:
        export = service.get_export(session, export_id)
        if export.state in (ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED):
            return export.state  # idempotent: a finished export is not fetched again
        if any(a.outcome is AttemptOutcome.RUNNING for a in export.attempts):
            return export.state  # running elsewhere: recovery restarts it if its worker died
        item = session.get(RequestItem, export.item_id)
        assert item is not None
        nvr = item.camera.nvr
        return Line(nvr.id, nvr.name, nvr.playback_limit or runtime.settings.nvr_playback_limit)


def _note_waiting(runtime: Runtime, export_id: int, note: str | None) -> None:
    """Show the wait on the export (a progress note, not a custody event), or clear it."""
    with unit_of_work(runtime.sessions) as session:
        query = update(Export).where(Export.id == export_id, Export.state == ExportState.QUEUED)
        if note is None:
            query = query.where(Export.error_code == NO_SLOT)
        code = NO_SLOT if note is not None else None
        session.execute(query.values(error_code=code, error_detail=note))
