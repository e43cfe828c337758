"""One export job step by step: lease an NVR session, fetch by stream copy, verify, record.

Each state change commits on its own (progress is visible while it runs) and appends a custody
event; the clip's hash is taken while it is written. A failed attempt keeps its record and its
partial file. The NVR is reached through its vendor's adapter (`nvr_adapters`): probed for make,
model and clock offset, searched for what it holds of the window, then replayed (ONVIF
GetReplayUri and `Range: clock=`, or the Hikvision/Dahua playback conventions).

Faults: a transient error (the NVR busy or unreachable, or anything unforeseen) ends the attempt
`interrupted`, puts the export back in `queued` and asks the queue to run it again after an
exponential backoff with jitter (`RetryLater`); after `export_max_attempts` tries (settings) the
export fails with the last reason. Refused credentials, a missing recording and protocol errors
fail at once.
While an attempt runs, its heartbeat (and its playback slot's lease) is renewed every few
seconds, so `recovery` can tell a dead worker's attempt from a slow one; an attempt that
recovery closed meanwhile stops without recording anything more (`AttemptLost`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import disk
from app.cameras.service import nvr_password
from app.custody import service as custody
from app.db import unit_of_work
from app.exports import service
from app.exports.limiter import Lease, NvrSlots
from app.exports.models import AttemptOutcome, Export, ExportAttempt, ExportState
from app.exports.turns import NO_SLOT, wait_for_slot
from app.jobs.queue import RetryLater
from app.nvr.device import DeviceFacts, DeviceTarget, target_for
from app.nvr.fetching import (
    SUFFIXES,
    Fetched,
    Outputs,
    Progress,
    alongside_master_rehash,
    fetch_window,
)
from app.requests.models import EvidenceRequest, RequestItem
from app.runtime import Runtime
from app.settings import Settings
from custody.events import JsonValue
from nvr_adapters import NvrAuthFailed, NvrError, ReplayError, TimeWindow
from nvr_adapters.verify import ClipCheck, check_clip, contact_sheet

logger = logging.getLogger(__name__)
T = TypeVar("T")

HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, capped: try n waits between half and all of base·2^(n-1)."""

    base_s: float = 15.0
    cap_s: float = 600.0

    def delay(self, tries: int) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, tries - 1))
        return ceiling / 2 + random.random() * ceiling / 2  # jitter spreads retries of one NVR


def retry_of(settings: Settings) -> Backoff:
    """The office's backoff (`SAKSI_EXPORT_RETRY_BASE_SECONDS`, `…_CAP_SECONDS`)."""
    return Backoff(settings.export_retry_base_seconds, settings.export_retry_cap_seconds)


class AttemptLost(Exception):
    """Recovery closed this attempt (its worker looked dead): the run stops, recording nothing."""


@dataclass(frozen=True)
class Plan:
    export_id: int
    attempt_id: int
    attempt_number: int
    tries: int  # this attempt included, if it reaches the NVR
    nvr_id: int
    nvr_name: str
    playback_limit: int  # the NVR's own, or the service's default
    target: DeviceTarget
    outputs: Outputs
    relative: str  # the working copy's path under the data directory
    request_id: int
    authorization: str
    exhibit: str


@dataclass(frozen=True)
class Beat:
    slots: NvrSlots
    lease: Lease
    every_s: float
    progress: Progress


def run(
    runtime: Runtime,
    export_id: int,
    worker: str,
    *,
    backoff: Backoff | None = None,
    heartbeat_s: float = HEARTBEAT_SECONDS,
) -> ExportState:
    """Run one attempt of an export to its end; return the state it ended in.

    Raises `RetryLater` when the export should run again later, the `NvrError` when it failed
    for good and `AttemptLost` when recovery closed the attempt; every outcome is on record.
    """
    turn = wait_for_slot(runtime, export_id, worker)  # in line: no attempt, no event
    if isinstance(turn, ExportState):
        return turn  # finished, or running elsewhere: nothing to fetch
    slots, lease = turn
    try:
        plan = _begin(runtime, export_id, worker)
        if isinstance(plan, ExportState):
            return plan
        window_s = (plan.target.window.end - plan.target.window.start).total_seconds()
        beat = Beat(slots, lease, heartbeat_s, Progress(window_s))
        return _attempt(runtime, plan, beat, backoff or retry_of(runtime.settings))
    finally:
        slots.release(lease)


def _attempt(runtime: Runtime, plan: Plan, beat: Beat, backoff: Backoff) -> ExportState:
    try:
        return _fetch_and_verify(runtime, plan, beat)
    except AttemptLost:
        raise
    except Exception as exc:
        _failed(runtime, plan, _disk_full(plan, exc) if disk.is_disk_full(exc) else exc, backoff)


def tries(attempts: list[ExportAttempt]) -> int:
    """How many attempts reached (or tried to reach) the NVR."""
    return sum(1 for a in attempts if a.error_code != NO_SLOT)


def _failed(runtime: Runtime, plan: Plan, exc: Exception, backoff: Backoff) -> NoReturn:
    """Record how the attempt ended; retry a transient error while tries remain."""
    transient = not isinstance(exc, NvrError) or exc.transient
    if not isinstance(exc, NvrError):
        logger.exception("export %d attempt %d failed", plan.export_id, plan.attempt_number)
    error = _reason(plan, exc)
    if transient and plan.tries < runtime.settings.export_max_attempts:
        _end(runtime, plan, AttemptOutcome.INTERRUPTED, ExportState.QUEUED, error)
        delay = backoff.delay(plan.tries)
        raise RetryLater(f"export {plan.export_id}: {error[0]}, again in {delay:.1f} s", delay)
    if transient:
        error = (error[0], f"{error[1]} (gave up after {plan.tries} attempts)")
    _end(runtime, plan, AttemptOutcome.FAILED, ExportState.FAILED, error)
    raise exc


def _disk_full(plan: Plan, exc: Exception) -> disk.DiskFull:
    """Release the attempt's partial files first, so the record of why fits on the disk and a
    retry does not start on top of them; say what they held."""
    clip = plan.outputs.clip
    partial = [clip, clip.with_suffix(".jpg"), *(clip.with_suffix(s) for s in SUFFIXES.values())]
    freed = disk.release(partial)
    return disk.DiskFull(
        f"the disk filled while the export was writing ({exc}); the attempt's partial files "
        f"({freed} bytes) were deleted to free it"
    )


def _ensure_space(runtime: Runtime, needed: int) -> None:
    """Refuse to go on when `needed` bytes would not fit beside the reserve."""
    settings = runtime.settings
    short = disk.shortfall(settings.data_dir, needed, settings.min_free_bytes)
    if short is not None:
        raise disk.InsufficientSpace(f"not enough free space to fetch: {short}")


def _needed(settings: Settings, target: DeviceTarget, expected_bytes: int | None) -> int:
    """What the fetch will write: twice the search's announced size (a download keeps the
    master and the MP4), else the window at the assumed bitrate (twice where the vendor's
    download may bring a master too)."""
    if expected_bytes is not None:
        return 2 * expected_bytes
    seconds = (target.window.end - target.window.start).total_seconds()
    copies = 1 if target.vendor == "onvif" else 2
    return int(seconds * settings.export_estimate_kbps * 125) * copies


def _reason(plan: Plan, exc: Exception) -> tuple[str, str]:
    """The error code and a detail an operator can act on."""
    code, detail = type(exc).__name__, str(exc) or repr(exc)
    if isinstance(exc, NvrAuthFailed):
        user = plan.target.username
        detail = (f"NVR {plan.nvr_name!r} ({plan.target.host}) refused the credentials of user "
                  f"{user!r}: correct the NVR's user name or password ({detail})")  # fmt: skip
    return code, detail


def _begin(runtime: Runtime, export_id: int, worker: str) -> Plan | ExportState:
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, export_id)
        if export.state in (ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED):
            return export.state  # idempotent: a finished export is not fetched again
        if any(a.outcome is AttemptOutcome.RUNNING for a in export.attempts):
            return export.state  # a second job for it: recovery restarts it if its worker died
        export.state = ExportState.QUEUED  # an interrupted run starts its attempt over
        before = list(export.attempts)
        attempt = service.begin_attempt(session, export, worker, now)
        item = session.get(RequestItem, export.item_id)
        assert item is not None
        camera, request = item.camera, item.request
        window = TimeWindow(item.window_start_at, item.window_end_at)
        name = re.sub(r"[^A-Za-z0-9]+", "-", camera.name).strip("-").lower()
        stem = f"{export.id:05d}-a{attempt.number}-{name}"
        relative = f"exports/{request.number}/{stem}.mp4"
        attempt.file_path = relative
        target = target_for(camera, window, nvr_password(camera.nvr, runtime.secret_box))
        service.move(session, export, ExportState.PROBING, now)
        custody.record(
            session, "export.started", custody.SYSTEM, now,
            object={"export": export.id, "attempt": attempt.number, "camera": camera.name,
                    "nvr": f"{camera.nvr.host}:{camera.nvr.rtsp_port}",
                    "source": target.camera.channel,  # channel or recording token asked for
                    "nvr_settings": dict(target.options),  # they decide what is asked for
                    "method_policy": method_policy(target.vendor),
                    "window_start": window.start.isoformat(), "window_end": window.end.isoformat()},
            authorization=request.letter_number, request_id=request.id,
        )  # fmt: skip
        limit = camera.nvr.playback_limit or runtime.settings.nvr_playback_limit
        return Plan(export.id, attempt.id, attempt.number, tries(before) + 1,
                    camera.nvr.id, camera.nvr.name, limit, target,
                    Outputs(runtime.settings.data_dir / "exports" / request.number, stem),
                    relative, request.id, request.letter_number,
                    exhibit_number(request, item))  # fmt: skip


def method_policy(vendor: str) -> str:
    """How the footage will be asked for: the vendor's download first, where there is one."""
    if vendor == "onvif":
        return "playback (ONVIF replay, Rate-Control: no)"
    return "download (the NVR's native file), else playback"


def exhibit_number(request: EvidenceRequest, item: RequestItem) -> str:
    """Request number and the item's place in the letter: SKS-2026-00012/3."""
    return f"{request.number}/{item.position + 1}"


def export_letter(session: Session, export: Export) -> str:
    request = session.get(EvidenceRequest, export.request_id)
    return request.letter_number if request else ""


def _fetch_and_verify(runtime: Runtime, plan: Plan, beat: Beat) -> ExportState:
    _ensure_space(runtime, 0)  # under the reserve: not even the NVR is asked
    plan.outputs.folder.mkdir(parents=True, exist_ok=True)

    def stage(state: str, facts: DeviceFacts) -> None:
        if state == "fetching":
            expected = beat.progress.expected_bytes
            _ensure_space(runtime, _needed(runtime.settings, plan.target, expected))
        _stage(runtime, plan, ExportState(state), facts)

    work = _fetch(plan, stage, beat.progress, runtime.zone)
    fetched, check, master_raw = asyncio.run(_beating(runtime, plan, beat, work))
    final = ExportState.DONE if not check.gaps and check.starts_late_s <= 0 else ExportState.PARTIAL
    _finish(runtime, plan, (fetched, master_raw), check, final)
    return final


async def _fetch(
    plan: Plan, stage: Callable[[str, DeviceFacts], None], progress: Progress, zone: ZoneInfo
) -> tuple[Fetched, ClipCheck, str | None]:
    fetched = await fetch_window(plan.target, plan.outputs, stage, progress)
    # Decoding a long clip takes a while: off the loop, so the heartbeat keeps beating.
    device_zone = ZoneInfo(plan.target.timezone)
    check, master_raw = await alongside_master_rehash(
        fetched, device_zone, functools.partial(_check, fetched, zone)
    )
    if fetched.master is not None and master_raw != fetched.clip.raw_sha256:
        raise ReplayError("the working copy does not carry exactly the master's frames: "
                          f"raw hashes {fetched.clip.raw_sha256} and {master_raw}")  # fmt: skip
    return fetched, check, master_raw


def _check(fetched: Fetched, zone: ZoneInfo) -> ClipCheck:
    """Check the working copy and draw its contact sheet."""
    path, window = fetched.clip.path, fetched.window
    check = check_clip(path, window)
    contact_sheet(path, path.with_suffix(".jpg"), _sheet_interval(window), zone)
    return check


async def _beating(runtime: Runtime, plan: Plan, beat: Beat, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` while beating the attempt's heartbeat; stop it if the attempt was closed."""
    task = asyncio.ensure_future(work)
    lost = asyncio.Event()
    heart = asyncio.create_task(_heartbeat(runtime, plan, beat, task, lost))
    try:
        return await task
    except asyncio.CancelledError:
        if lost.is_set():
            raise AttemptLost(f"attempt {plan.attempt_number} of export {plan.export_id} "
                              "was closed by recovery") from None  # fmt: skip
        raise
    finally:
        heart.cancel()


async def _heartbeat(
    runtime: Runtime, plan: Plan, beat: Beat, work: asyncio.Future[Any], lost: asyncio.Event
) -> None:
    """Beat until the attempt is found closed, then cancel the work at every beat until it ends.

    Once is not enough: a cancellation that lands as one of the work's awaits completes can be
    lost (Python 3.11's `asyncio.wait_for` returns the result instead, in a library or ours).
    """
    while await _still_running(runtime, plan, beat):
        pass
    lost.set()
    while not work.done():
        work.cancel()
        await asyncio.sleep(beat.every_s)


async def _still_running(runtime: Runtime, plan: Plan, beat: Beat) -> bool:
    """After a beat's wait, renew the heartbeat and the slot's lease; False once it was closed."""
    await asyncio.sleep(beat.every_s)
    try:
        alive = _beat(runtime, plan, beat.progress)
        beat.slots.renew(beat.lease)
    except Exception:  # the database is away: the fetch goes on, the next beat may land
        logger.warning("export %d: heartbeat failed", plan.export_id, exc_info=True)
        return True
    return alive


def _beat(runtime: Runtime, plan: Plan, progress: Progress) -> bool:
    """Renew a running attempt's heartbeat and show its progress; False once it is closed."""
    with unit_of_work(runtime.sessions) as session:
        beaten = session.execute(
            update(ExportAttempt)
            .where(ExportAttempt.id == plan.attempt_id,
                   ExportAttempt.outcome == AttemptOutcome.RUNNING)
            .values(heartbeat_at=runtime.clock.now())
        )  # fmt: skip
        alive = bool(beaten.rowcount)  # type: ignore[attr-defined]
        if alive:
            session.execute(
                update(Export).where(Export.id == plan.export_id)
                .values(bytes_written=progress.bytes, media_seconds=progress.media_s,
                        percent=round(progress.percent, 1),
                        expected_bytes=progress.expected_bytes)
            )  # fmt: skip
        return alive


def _stage(runtime: Runtime, plan: Plan, state: ExportState, facts: DeviceFacts) -> None:
    """Commit the next stage with what the device told so far, and put it on record."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, plan.export_id)
        _running_attempt(export, plan)
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
    outcome: tuple[Fetched, str | None],
    check: ClipCheck,
    final: ExportState,
) -> None:
    fetched, master_raw = outcome
    facts, shift = fetched.clip, fetched.facts.shift  # frame times are the device's; store UTC
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
        export.bytes_written, export.percent = fetched.received_bytes, 100.0
        export.gaps = [{"start": (g.start - shift).isoformat(), "end": (g.end - shift).isoformat()}
                       for g in check.gaps]  # fmt: skip
        export.trimming = {"device_first_frame": facts.first_frame_utc.isoformat(),
                           "device_last_frame": facts.last_frame_utc.isoformat(),
                           "clock_shift_s": shift.total_seconds()}  # fmt: skip
        _method_on_record(export, plan, fetched, master_raw)
        attempt = _running_attempt(export, plan)
        service.end_attempt(attempt, AttemptOutcome(final.value), now)
        service.move(session, export, final, now)
        _record_files(session, export, plan, now)


def _method_on_record(export: Export, plan: Plan, fetched: Fetched, master_raw: str | None) -> None:
    """Store how the footage came and, for a download, the master beside the working copy."""
    export.method = fetched.method
    export.method_detail = {**fetched.detail, "elapsed_s": f"{fetched.elapsed_s:.3f}",
                            "received_bytes": fetched.received_bytes}  # fmt: skip
    export.expected_bytes = plan_expected(fetched)
    master = fetched.master
    if master is None:
        return
    export.master_path = str(Path(plan.relative).with_name(master.path.name))
    export.master_format, export.master_sha256 = master.format, master.sha256
    export.master_raw_sha256, export.master_size = master_raw, master.size


def plan_expected(fetched: Fetched) -> int | None:
    """The size the device's search announced, if it did."""
    expected = fetched.detail.get("expected_bytes")
    return expected if isinstance(expected, int) else None


def _record_files(session: Session, export: Export, plan: Plan, now: datetime) -> None:
    """Put the master (when there is one) and the working copy on record, in that order."""
    method = {"method": export.method, **(export.method_detail or {})}
    if export.master_path is not None:
        custody.record(
            session, "export.master_written", custody.SYSTEM, now,
            object={"export": export.id, "exhibit": plan.exhibit, "method": method},
            result={"file": export.master_path, "sha256": export.master_sha256,
                    "size": export.master_size, "format": export.master_format,
                    "raw_sha256": export.master_raw_sha256},
            authorization=plan.authorization, request_id=plan.request_id,
        )  # fmt: skip
    custody.record(
        session, "export.file_written", custody.SYSTEM, now,
        object={"export": export.id, "frames": export.frames, "gaps": len(export.gaps or []),
                "exhibit": plan.exhibit, "method": method},
        result={"file": plan.relative, "sha256": export.sha256, "size": export.size_bytes,
                "raw_sha256": export.raw_sha256,
                "derived_from": export.master_sha256},  # None: fetched by playback
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
        attempt = _running_attempt(export, plan)
        service.end_attempt(attempt, outcome, now, error)
        settle(session, export, state, error, now)
        record_attempt_end(session, export, attempt, plan.authorization, now)


def settle(
    session: Session, export: Export, state: ExportState, error: tuple[str, str], now: datetime
) -> None:
    """Put an export whose attempt ended badly back in the queue, or fail it, with the reason."""
    export.error_code, export.error_detail = error
    if state is ExportState.FAILED:
        service.move(session, export, state, now)
    else:
        export.state, export.updated_at = state, now


def record_attempt_end(
    session: Session, export: Export, attempt: ExportAttempt, authorization: str, now: datetime
) -> None:
    """Put an attempt that ended badly on record (the custody event `export.attempt_ended`)."""
    custody.record(
        session, "export.attempt_ended", custody.SYSTEM, now,
        object={"export": export.id, "attempt": attempt.number, "outcome": attempt.outcome.value,
                "error": attempt.error_code, "detail": attempt.error_detail,
                "worker": attempt.worker, "file": attempt.file_path},
        authorization=authorization, request_id=export.request_id,
    )  # fmt: skip


def _running_attempt(export: Export, plan: Plan) -> ExportAttempt:
    [attempt] = [a for a in export.attempts if a.id == plan.attempt_id]
    if attempt.outcome is not AttemptOutcome.RUNNING:
        raise AttemptLost(f"attempt {attempt.number} of export {export.id} was closed as "
                          f"{attempt.outcome.value} meanwhile")  # fmt: skip
    return attempt
