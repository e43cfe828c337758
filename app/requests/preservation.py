"""Will the NVR still hold a window when the dispositions are done? Asked at intake.

The same visit asks the NVR what it holds of each window (its own search: recorded spans and
gaps), so staff see the coverage before anything is exported.

NVRs record in a ring: the oldest footage is overwritten first. The disposition chain takes days,
so each item's window is compared, as soon as a request is registered, with the oldest recording
its NVR still holds (the adapter asks the device: ONVIF's EarliestRecording, the first match of an
ISAPI search, the first file Dahua finds). A window starting within `preservation_margin_days`
of that point is `at_risk`: flagged on the request and in the list, and its export may be taken
at once as a preservation copy, ahead of the dispositions (recorded as such). The device is asked
outside any transaction; what it said is stored, and recorded as a custody event, afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cameras.service import nvr_password
from app.custody import service as custody
from app.db import unit_of_work
from app.exports.models import Export, ExportState
from app.nvr.device import DeviceTarget, open_target, target_for
from app.requests.models import EvidenceRequest, Preservation, RequestItem
from app.runtime import Runtime
from custody.events import JsonValue
from nvr_adapters import Coverage, NvrError, Span, TimeWindow

logger = logging.getLogger(__name__)

# How far back a device is asked: older footage than this is no concern of a pending request.
LOOKBACK = timedelta(days=366)


@dataclass(frozen=True)
class Answer:
    """What one camera's NVR said: its oldest footage in true UTC, or why it could not say."""

    oldest: datetime | None = None
    coverage: dict[str, Any] | None = None
    error: str | None = None


def schedule_check(runtime: Runtime, session: Session, request: EvidenceRequest) -> None:
    """Ask the NVRs once the registration commits (a job: intake never waits for a device)."""
    runtime.queue.enqueue(session, "requests.check_preservation", request.id)


def check(runtime: Runtime, request_id: int) -> list[Preservation]:
    """Ask every item's NVR for its oldest recording; store and record the verdicts."""
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, request_id)
        if request is None:
            return []
        since = min(item.window_start_at for item in request.items) - LOOKBACK
        # Per item, not per camera: two windows of one camera have coverages of their own.
        targets = {item.id: _target(runtime, item) for item in request.items}
    answers = {item_id: _ask(target, since) for item_id, target in targets.items()}
    margin = timedelta(days=runtime.settings.preservation_margin_days)
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, request_id)
        assert request is not None
        verdicts = [_store(item, answers[item.id], margin, runtime) for item in request.items]
        _record(session, request, runtime)
        return verdicts


def _target(runtime: Runtime, item: RequestItem) -> DeviceTarget:
    window = TimeWindow(item.window_start_at, item.window_end_at)
    return target_for(item.camera, window, nvr_password(item.camera.nvr, runtime.secret_box))


def _ask(target: DeviceTarget, since: datetime) -> Answer:
    try:
        return asyncio.run(_ask_device(target, since))
    except NvrError as exc:
        logger.warning("preservation check of %s failed: %s", target.host, exc)
        return Answer(error=f"{type(exc).__name__}: {exc}")


async def _ask_device(target: DeviceTarget, since: datetime) -> Answer:
    adapter = open_target(target)
    try:
        clock = (await adapter.probe()).clock
        shift = timedelta(seconds=clock.seconds)
        if abs(clock.seconds) <= clock.uncertainty_s:
            shift = timedelta(0)  # within what the measurement can tell: the device is on time
        oldest = await adapter.oldest_recording(target.camera, since + shift)
        window = TimeWindow(target.window.start + shift, target.window.end + shift)
        coverage = await adapter.search(target.camera, window)
        return Answer(None if oldest is None else oldest - shift, _coverage(coverage, shift))
    finally:
        await adapter.aclose()


def _coverage(coverage: Coverage, shift: timedelta) -> dict[str, Any]:
    def spans(found: tuple[Span, ...]) -> list[dict[str, str]]:
        return [{"start": (s.start - shift).isoformat(), "end": (s.end - shift).isoformat()}
                for s in found]  # fmt: skip

    return {"recorded": spans(coverage.spans), "gaps": spans(coverage.gaps)}


def verdict(item: RequestItem, answer: Answer, margin: timedelta) -> Preservation:
    """Compare an item's window with the oldest footage its NVR holds, and what it holds of it."""
    oldest = answer.oldest
    if oldest is None:
        return Preservation.ABSENT  # nothing of this camera on the device since the look-back
    if oldest >= item.window_end_at:
        return Preservation.OVERWRITTEN
    if answer.coverage is not None and not answer.coverage["recorded"]:
        return Preservation.ABSENT  # within what the device keeps, but nothing recorded in it
    if oldest + margin > item.window_start_at:
        return Preservation.AT_RISK
    return Preservation.SAFE


def _store(item: RequestItem, answer: Answer, margin: timedelta, runtime: Runtime) -> Preservation:
    item.preservation_checked_at = runtime.clock.now()
    item.oldest_recording_at = answer.oldest
    item.preservation_error = answer.error
    item.coverage = answer.coverage
    if answer.error is not None:
        item.preservation = Preservation.UNKNOWN
    else:
        item.preservation = verdict(item, answer, margin)
    return item.preservation


def _record(session: Session, request: EvidenceRequest, runtime: Runtime) -> None:
    items: list[JsonValue] = [
        {
            "item": item.position + 1,
            "camera": item.camera.name,
            "oldest_recording": item.oldest_recording_at.isoformat()
            if item.oldest_recording_at
            else None,
            "preservation": item.preservation.value,
            "gaps": len(item.coverage["gaps"]) if item.coverage else None,
            "error": item.preservation_error,
        }
        for item in request.items
    ]
    custody.record(
        session, "request.preservation_checked", custody.SYSTEM, runtime.clock.now(),
        object={"request": request.number,
                "margin_days": runtime.settings.preservation_margin_days},
        result={"items": items}, authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip


def at_risk(session: Session, request: EvidenceRequest) -> bool:
    """Whether any at-risk item of the request still has no clip (nothing else protects it)."""
    risky = {item.id for item in request.items if item.preservation is Preservation.AT_RISK}
    if not risky:
        return False
    return bool(risky - clipped_items(session, request.id))


def clipped_items(session: Session, request_id: int) -> set[int]:
    """The request's items that have a clip (an export done or partial, of either purpose)."""
    clipped = select(Export.item_id).where(
        Export.request_id == request_id, Export.state.in_((ExportState.DONE, ExportState.PARTIAL))
    )
    return set(session.scalars(clipped))
