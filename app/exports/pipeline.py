"""One export job step by step: lease an NVR session, fetch by stream copy, verify, record.

Each state change commits on its own (progress is visible while it runs) and appends a custody
event; the clip's hash is taken while it is written. A failed attempt keeps its record and its
partial file. ONVIF replay addresses come from the device (GetReplayUri) and wait for the ONVIF
adapter; Hikvision and Dahua playback addresses follow those vendors' conventions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.cameras.models import Camera, Nvr, NvrVendor
from app.cameras.service import nvr_password
from app.custody import service as custody
from app.db import unit_of_work
from app.exports import service
from app.exports.limiter import NvrSlots
from app.exports.models import AttemptOutcome, Export, ExportAttempt, ExportState
from app.requests.models import EvidenceRequest, RequestItem
from app.runtime import Runtime
from nvr_adapters import ClipFacts, ClipWriter, NvrError, ReplayTarget, TimeWindow, fetch
from nvr_adapters.verify import ClipCheck, check_clip, contact_sheet

logger = logging.getLogger(__name__)


MAX_ATTEMPTS = 5


class NoPlaybackSlot(Exception):
    """Every playback session of the NVR is taken; the job retries later."""


@dataclass(frozen=True)
class Plan:
    export_id: int
    attempt_id: int
    attempt_number: int
    nvr_id: int
    target: ReplayTarget
    output: Path
    relative: str
    request_id: int
    authorization: str


def playback_url(nvr: Nvr, camera: Camera, window: TimeWindow) -> str:
    """The vendor playback address of a camera's recording over `window`."""
    base = f"rtsp://{nvr.host}:{nvr.rtsp_port}"
    if nvr.vendor is NvrVendor.HIKVISION:
        s, e = window.start, window.end
        times = f"starttime={s:%Y%m%dT%H%M%SZ}&endtime={e:%Y%m%dT%H%M%SZ}"
        return f"{base}/Streaming/tracks/{camera.channel}01?{times}"
    if nvr.vendor is NvrVendor.DAHUA:
        zone = ZoneInfo(nvr.timezone)
        s, e = window.start.astimezone(zone), window.end.astimezone(zone)
        return (
            f"{base}/cam/playback?channel={camera.channel}&subtype=0"
            f"&starttime={s:%Y_%m_%d_%H_%M_%S}&endtime={e:%Y_%m_%d_%H_%M_%S}"
        )
    raise NvrError("ONVIF replay addresses come from GetReplayUri: the ONVIF adapter is needed")


def run(runtime: Runtime, export_id: int, worker: str) -> ExportState:
    """Run one attempt of an export to its end; return the state it ended in."""
    slots = NvrSlots(runtime.sessions, runtime.clock, runtime.settings.nvr_playback_limit,
                     timedelta(minutes=10))  # fmt: skip
    plan = _begin(runtime, export_id, worker)
    if isinstance(plan, ExportState):
        return plan  # finished before (or failed before fetching): nothing to fetch
    lease = slots.acquire(plan.nvr_id, f"{worker}:{plan.attempt_id}")
    if lease is None:
        _end(
            runtime,
            plan,
            AttemptOutcome.INTERRUPTED,
            ExportState.QUEUED,
            ("NoPlaybackSlot", "NVR busy"),
        )
        raise NoPlaybackSlot(f"no free playback session on NVR {plan.nvr_id}")
    try:
        return _fetch_and_verify(runtime, plan)
    finally:
        slots.release(lease)


def _begin(runtime: Runtime, export_id: int, worker: str) -> Plan | ExportState:
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, export_id)
        if export.state in (ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED):
            return export.state  # idempotent: a finished export is not fetched again
        export.state = ExportState.QUEUED  # an interrupted run starts its attempt over
        attempt = service.begin_attempt(session, export, worker, now)
        item = session.get(RequestItem, export.item_id)
        assert item is not None
        camera, request = item.camera, item.request
        window = TimeWindow(item.window_start_at, item.window_end_at)
        name = re.sub(r"[^A-Za-z0-9]+", "-", camera.name).strip("-").lower()
        relative = f"exports/{request.number}/{export.id:05d}-a{attempt.number}-{name}.mp4"
        attempt.file_path = relative
        try:
            url = playback_url(camera.nvr, camera, window)
        except NvrError as exc:
            # Nothing to retry: record the failed attempt and the reason, and stop.
            _record_failure(session, export, attempt, (type(exc).__name__, str(exc)), now)
            return ExportState.FAILED
        target = ReplayTarget(
            url, camera.nvr.username, nvr_password(camera.nvr, runtime.secret_box), window,
            onvif=False,
        )  # fmt: skip
        service.move(session, export, ExportState.FETCHING, now)
        custody.record(
            session, "export.started", custody.SYSTEM, now,
            object={"export": export.id, "attempt": attempt.number, "camera": camera.name,
                    "nvr": f"{camera.nvr.host}:{camera.nvr.rtsp_port}",
                    "window_start": window.start.isoformat(), "window_end": window.end.isoformat()},
            authorization=request.letter_number, request_id=request.id,
        )  # fmt: skip
        return Plan(export.id, attempt.id, attempt.number, camera.nvr.id, target,
                    runtime.settings.data_dir / relative, relative, request.id,
                    request.letter_number)  # fmt: skip


def _record_failure(
    session: Session, export: Export, attempt: ExportAttempt, error: tuple[str, str],
    now: datetime,
) -> None:  # fmt: skip
    service.end_attempt(attempt, AttemptOutcome.FAILED, now, error)
    export.error_code, export.error_detail = error
    service.move(session, export, ExportState.FAILED, now)
    custody.record(
        session, "export.attempt_ended", custody.SYSTEM, now,
        object={"export": export.id, "attempt": attempt.number, "outcome": "failed",
                "error": error[0], "detail": error[1]},
        authorization=export_letter(session, export), request_id=export.request_id,
    )  # fmt: skip


def export_letter(session: Session, export: Export) -> str:
    request = session.get(EvidenceRequest, export.request_id)
    return request.letter_number if request else ""


def _fetch_and_verify(runtime: Runtime, plan: Plan) -> ExportState:
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    writer = ClipWriter(plan.output)
    try:
        asyncio.run(fetch(plan.target, writer))
        facts = writer.close()
    except NvrError as exc:
        _end(
            runtime, plan, AttemptOutcome.FAILED, ExportState.FAILED, (type(exc).__name__, str(exc))
        )
        raise
    check = check_clip(plan.output, plan.target.window)
    sheet = plan.output.with_suffix(".jpg")
    contact_sheet(plan.output, sheet, _sheet_interval(plan.target.window), runtime.zone)
    final = ExportState.DONE if not check.gaps and check.starts_late_s <= 0 else ExportState.PARTIAL
    _finish(runtime, plan, facts, check, final)
    return final


def _sheet_interval(window: TimeWindow) -> float:
    """About twelve thumbnails whatever the window's length, never closer than 2 s apart."""
    return max(2.0, (window.end - window.start).total_seconds() / 12)


def _finish(
    runtime: Runtime, plan: Plan, facts: ClipFacts, check: ClipCheck, final: ExportState
) -> None:
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, plan.export_id)
        service.move(session, export, ExportState.VERIFYING, now)
        export.file_path, export.sha256 = plan.relative, facts.sha256
        export.contact_sheet_path = str(Path(plan.relative).with_suffix(".jpg"))
        export.raw_sha256, export.size_bytes = facts.raw_sha256, facts.size
        export.frames = facts.frames
        export.first_frame_at, export.last_frame_at = facts.first_frame_utc, facts.last_frame_utc
        export.bytes_written, export.percent = facts.size, 100.0
        export.gaps = [{"start": g.start.isoformat(), "end": g.end.isoformat()} for g in check.gaps]
        [attempt] = [a for a in export.attempts if a.id == plan.attempt_id]
        service.end_attempt(attempt, AttemptOutcome(final.value), now)
        service.move(session, export, final, now)
        custody.record(
            session, "export.file_written", custody.SYSTEM, now,
            object={"export": export.id, "frames": export.frames, "gaps": len(export.gaps)},
            result={"file": plan.relative, "sha256": export.sha256, "size": export.size_bytes,
                    "raw_sha256": export.raw_sha256},
            authorization=plan.authorization, request_id=plan.request_id,
        )  # fmt: skip


def _end(
    runtime: Runtime,
    plan: Plan,
    outcome: AttemptOutcome,
    state: ExportState,
    error: tuple[str, str],
) -> None:
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, plan.export_id)
        [attempt] = [a for a in export.attempts if a.id == plan.attempt_id]
        service.end_attempt(attempt, outcome, now, error)
        export.error_code, export.error_detail = error
        if state is ExportState.FAILED:
            service.move(session, export, state, now)
        else:
            export.state = state
        custody.record(
            session, "export.attempt_ended", custody.SYSTEM, now,
            object={"export": export.id, "attempt": attempt.number, "outcome": outcome.value,
                    "error": error[0], "detail": error[1]},
            authorization=plan.authorization, request_id=plan.request_id,
        )  # fmt: skip
