"""One export job step by step: lease an NVR session, fetch by stream copy, verify, record.

Each state change commits on its own (progress is visible while it runs) and appends a custody
event; the clip's hash is taken while it is written. A failed attempt keeps its record and its
partial file. The NVR is reached through its vendor's adapter (`nvr_adapters`): probed for make,
model and clock offset, searched for what it holds of the window, then replayed (ONVIF
GetReplayUri and `Range: clock=`, or the Hikvision/Dahua playback conventions).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app.cameras.models import Camera, NvrVendor
from app.cameras.service import nvr_password
from app.custody import service as custody
from app.db import unit_of_work
from app.exports import service
from app.exports.device import DeviceFacts, DeviceTarget, fetch_from_device
from app.exports.limiter import NvrSlots
from app.exports.models import AttemptOutcome, Export, ExportState
from app.requests.models import EvidenceRequest, RequestItem
from app.runtime import Runtime
from custody.events import JsonValue
from nvr_adapters import CameraRef, ClipFacts, ClipWriter, NvrError, TimeWindow
from nvr_adapters.factory import Vendor
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
    target: DeviceTarget
    output: Path
    relative: str
    request_id: int
    authorization: str
    exhibit: str


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
        target = _device_target(runtime, camera, window)
        service.move(session, export, ExportState.PROBING, now)
        custody.record(
            session, "export.started", custody.SYSTEM, now,
            object={"export": export.id, "attempt": attempt.number, "camera": camera.name,
                    "nvr": f"{camera.nvr.host}:{camera.nvr.rtsp_port}",
                    "window_start": window.start.isoformat(), "window_end": window.end.isoformat()},
            authorization=request.letter_number, request_id=request.id,
        )  # fmt: skip
        return Plan(export.id, attempt.id, attempt.number, camera.nvr.id, target,
                    runtime.settings.data_dir / relative, relative, request.id,
                    request.letter_number, exhibit_number(request, item))  # fmt: skip


def exhibit_number(request: EvidenceRequest, item: RequestItem) -> str:
    """Request number and the item's place in the letter: SKS-2026-00012/3."""
    return f"{request.number}/{item.position + 1}"


def _device_target(runtime: Runtime, camera: Camera, window: TimeWindow) -> DeviceTarget:
    nvr = camera.nvr
    vendor: Vendor = nvr.vendor.value
    if nvr.vendor is NvrVendor.ONVIF:
        reference = camera.source_token or f"Recording_{camera.channel}"
    else:
        reference = str(camera.channel)
    return DeviceTarget(
        vendor=vendor, host=nvr.host, http_port=nvr.http_port, rtsp_port=nvr.rtsp_port,
        username=nvr.username, password=nvr_password(nvr, runtime.secret_box),
        timezone=nvr.timezone, camera=CameraRef(str(nvr.id), reference, camera.name),
        window=window,
    )  # fmt: skip


def export_letter(session: Session, export: Export) -> str:
    request = session.get(EvidenceRequest, export.request_id)
    return request.letter_number if request else ""


def _fetch_and_verify(runtime: Runtime, plan: Plan) -> ExportState:
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    writer = ClipWriter(plan.output)

    def stage(state: str, facts: DeviceFacts) -> None:
        _stage(runtime, plan, ExportState(state), facts)

    try:
        device = asyncio.run(fetch_from_device(plan.target, writer, stage))
        clip = writer.close()
    except NvrError as exc:
        _end(
            runtime, plan, AttemptOutcome.FAILED, ExportState.FAILED, (type(exc).__name__, str(exc))
        )
        raise
    window = device.device_window(plan.target.window)
    check = check_clip(plan.output, window)
    sheet = plan.output.with_suffix(".jpg")
    contact_sheet(plan.output, sheet, _sheet_interval(window), runtime.zone)
    final = ExportState.DONE if not check.gaps and check.starts_late_s <= 0 else ExportState.PARTIAL
    _finish(runtime, plan, (clip, device), check, final)
    return final


def _stage(runtime: Runtime, plan: Plan, state: ExportState, facts: DeviceFacts) -> None:
    """Commit the next stage with what the device told so far, and put it on record."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, plan.export_id)
        service.move(session, export, state, now)
        export.device, export.clock = facts.device, facts.clock
        export.coverage = facts.coverage or None
        told: dict[str, JsonValue] = (
            {"device": facts.device, "clock": facts.clock}
            if state is ExportState.SEARCHING
            else {"recorded": len(facts.coverage["recorded"]), "gaps": facts.coverage["gaps"]}
        )
        custody.record(
            session, f"export.{state.value}", custody.SYSTEM, now,
            object={"export": export.id, "attempt": plan.attempt_number}, result=told,
            authorization=plan.authorization, request_id=plan.request_id,
        )  # fmt: skip


def _sheet_interval(window: TimeWindow) -> float:
    """About twelve thumbnails whatever the window's length, never closer than 2 s apart."""
    return max(2.0, (window.end - window.start).total_seconds() / 12)


def _finish(
    runtime: Runtime,
    plan: Plan,
    outcome: tuple[ClipFacts, DeviceFacts],
    check: ClipCheck,
    final: ExportState,
) -> None:
    facts, device = outcome
    shift = device.shift  # frame times are the device's; store true UTC
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, plan.export_id)
        service.move(session, export, ExportState.VERIFYING, now)
        export.file_path, export.sha256 = plan.relative, facts.sha256
        export.contact_sheet_path = str(Path(plan.relative).with_suffix(".jpg"))
        export.raw_sha256, export.size_bytes = facts.raw_sha256, facts.size
        export.frames = facts.frames
        export.first_frame_at = facts.first_frame_utc - shift
        export.last_frame_at = facts.last_frame_utc - shift
        export.bytes_written, export.percent = facts.size, 100.0
        export.gaps = [{"start": (g.start - shift).isoformat(), "end": (g.end - shift).isoformat()}
                       for g in check.gaps]  # fmt: skip
        export.trimming = {"device_first_frame": facts.first_frame_utc.isoformat(),
                           "device_last_frame": facts.last_frame_utc.isoformat(),
                           "clock_shift_s": shift.total_seconds()}  # fmt: skip
        [attempt] = [a for a in export.attempts if a.id == plan.attempt_id]
        service.end_attempt(attempt, AttemptOutcome(final.value), now)
        service.move(session, export, final, now)
        custody.record(
            session, "export.file_written", custody.SYSTEM, now,
            object={"export": export.id, "frames": export.frames, "gaps": len(export.gaps),
                    "exhibit": plan.exhibit},
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
