"""NVR faults in exports: a busy NVR retried with backoff, a refusal failed at once, drops resumed.

The jobs run through Huey's own execution (retries re-scheduled by `RetryTask`), against the
simulator over loopback, with real commits on SQLite and PostgreSQL. Scheduled retries are run at
once rather than waited for; the delays Huey was asked for are checked against the backoff.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huey import Huey
from pydantic import SecretStr
from sqlalchemy import select

from app.auth.models import Role, User
from app.cameras.models import Camera, Nvr, NvrVendor
from app.cameras.schemas import NvrUpdate
from app.cameras.service import update_nvr
from app.custody.service import SYSTEM
from app.db import unit_of_work
from app.demo import NvrEndpoint, sample_request, seed
from app.exports import pipeline, turns
from app.exports import service as export_service
from app.exports.limiter import NvrSlots
from app.exports.models import Export, ExportState
from app.main import create_app
from app.requests.models import EvidenceRequest
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from custody import ledger
from nvr_adapters import TimeWindow
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras
from tests.app.factories import bearer, walk_runtime_to_export_step
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache

__all__ = ["anchor", "sim_cache"]

FAR_FUTURE = datetime(2100, 1, 1)  # Huey's naive UTC: every scheduled retry is due by then
Faults = dict[int, dict[str, float]]


@dataclass
class World:
    runtime: Runtime
    request_id: int
    simulator: NvrSimulator
    window: TimeWindow


def start_simulator(cache: Path, faults: Faults) -> SimulatorThread:
    """The small simulator of the suite (320×240, 5 fps), with `faults` on its channels."""
    config = SimConfig(
        cameras=default_cameras(2), cache_dir=cache, width=320, height=240, fps=5,
        gop_seconds=2, segment_seconds=10, retention=timedelta(hours=1),
        username=USER, password=PASSWORD, faults=faults,
    )  # fmt: skip
    thread = SimulatorThread(NvrSimulator(config))
    thread.start()
    return thread


def build_world(settings: Settings, simulator: NvrSimulator, window: TimeWindow) -> World:
    """Seed the demo office, register a request for camera 1 and walk it to the export step."""
    runtime = build_runtime(settings)
    ends = simulator.endpoints
    endpoint = NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER, PASSWORD,
                           vendor=NvrVendor.ONVIF)  # fmt: skip
    demo = seed(runtime, endpoint)
    demo.camera_ids = demo.camera_ids[:1]  # camera 1 records continuously
    request_id = sample_request(runtime, demo, (window.start, window.end))
    walk_runtime_to_export_step(runtime, request_id)
    return World(runtime, request_id, simulator, window)


def start_exports(runtime: Runtime, request_id: int) -> list[int]:
    """Start the request's exports as the operator does; their jobs go out on commit."""
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, request_id)
        operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
        assert request is not None
        assert operator is not None
        exports = export_service.start_exports(
            session, runtime.sop, request, operator, runtime.clock.now()
        )
        for export in exports:
            runtime.queue.enqueue(session, "exports.fetch_item", export.id)
        return [export.id for export in exports]


def drain(huey: Huey, rounds: int = 20) -> list[float]:
    """Run the export jobs queued, then those scheduled, at once, as a consumer would.

    Return the delays of the retries Huey was asked for. Other jobs (the intake's preservation
    check) are dropped: they are not what these tests are about.
    """
    delays: list[float] = []
    for _ in range(rounds):
        ready = list(iter(huey.dequeue, None))
        if not ready:
            ready = huey.read_schedule(FAR_FUTURE)
            now = datetime.now(UTC).replace(tzinfo=None)
            delays += [(task.eta - now).total_seconds() for task in ready]
        if not ready:
            return delays
        for task in ready:
            if task.name.startswith("exports."):
                huey.execute(task, FAR_FUTURE)
    raise AssertionError("the jobs kept coming back")


def events(runtime: Runtime, request_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The request's custody events: action and object."""
    with unit_of_work(runtime.sessions) as session:
        stored = list(ledger.read(session.connection(), request_id))
    return [(e.action, json.loads(e.canonical).get("object", {})) for e in stored]


def truth(world: World) -> tuple[int, str]:
    """Frame count and raw (Annex-B) hash of what camera 1 recorded in the window."""
    sim, window = world.simulator, world.window
    units = [i.unit for i in sim.archive.replay(sim.config.camera(1), window.start, window.end)]
    return len(units), hashlib.sha256(b"".join(u.annexb() for u in units)).hexdigest()


def load(runtime: Runtime, export_id: int) -> Export:
    with unit_of_work(runtime.sessions) as session:
        export = session.get(Export, export_id)
        assert export is not None
        _ = export.attempts  # loaded before the session closes
        return export


def assert_complete(world: World, export: Export) -> None:
    """The clip is on disk, its hash as recorded, every frame of the window in order."""
    path = world.runtime.settings.data_dir / str(export.file_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == export.sha256
    assert (export.frames, export.raw_sha256) == truth(world)


@pytest.fixture
def world_with(
    fresh_database_url: str, tmp_path: Path, sim_cache: Path, anchor: datetime
) -> Iterator[Callable[[Faults], World]]:
    made: list[tuple[World, SimulatorThread]] = []

    def make(faults: Faults, **overrides: Any) -> World:
        thread = start_simulator(sim_cache, faults)
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path / "data", database_url=fresh_database_url,
            queue_url="memory://", _env_file=None, **overrides,
        )  # fmt: skip
        window = TimeWindow(anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
        world = build_world(settings, thread.simulator, window)
        made.append((world, thread))
        return world

    yield make
    for world, thread in made:
        thread.stop()
        world.runtime.close()
    set_current(None)


@pytest.mark.parametrize("status", [503, 454])
def test_a_busy_nvr_is_retried_with_backoff_until_it_serves(
    world_with: Callable[[Faults], World], status: int
) -> None:
    world = world_with({1: {"status": status, "first": 2}})
    [export_id] = start_exports(world.runtime, world.request_id)

    delays = drain(world.runtime.queue.huey)

    export = load(world.runtime, export_id)
    assert export.state is ExportState.DONE
    assert [a.outcome.value for a in export.attempts] == ["interrupted", "interrupted", "done"]
    assert [a.error_code for a in export.attempts] == ["NvrBusy", "NvrBusy", None]
    assert all(f"answered {status}" in str(a.error_detail) for a in export.attempts[:2])
    assert_complete(world, export)
    # Exponential with jitter: 7.5–15 s after the first try, 15–30 s after the second.
    assert len(delays) == 2
    assert 5 < delays[0] <= 15 < delays[1] + 2.5
    assert delays[1] <= 30
    actions = [action for action, _ in events(world.runtime, world.request_id)]
    assert actions.count("export.attempt_ended") == 2
    assert actions.count("export.started") == 3
    assert actions.count("export.file_written") == 1


@pytest.mark.parametrize("attempts", [None, 2])
def test_an_always_busy_nvr_fails_after_the_last_attempt_with_its_reason(
    world_with: Callable[..., World], attempts: int | None
) -> None:
    """The office's number of tries and first wait (`SAKSI_EXPORT_MAX_ATTEMPTS`, 5, and
    `SAKSI_EXPORT_RETRY_BASE_SECONDS`, 15, unless set)."""
    overrides: dict[str, Any] = {}
    if attempts is not None:
        overrides = {"export_max_attempts": attempts, "export_retry_base_seconds": 100.0}
    world = world_with({1: {"status": 503}}, **overrides)
    tries = attempts or 5
    [export_id] = start_exports(world.runtime, world.request_id)

    delays = drain(world.runtime.queue.huey)

    shown = _get_export(world.runtime, export_id)
    assert shown["state"] == "failed"
    assert shown["error_code"] == "NvrBusy"
    assert "answered 503" in shown["error_detail"]
    assert f"gave up after {tries} attempts" in shown["error_detail"]
    outcomes = [a["outcome"] for a in shown["attempts"]]
    assert outcomes == ["interrupted"] * (tries - 1) + ["failed"]
    assert all(a["error_code"] == "NvrBusy" and a["ended_at"] for a in shown["attempts"])
    assert len(delays) == tries - 1
    assert delays == sorted(delays)  # each wait at least the one before: 2^n with jitter ≤ 1/2
    base = overrides.get("export_retry_base_seconds", 15.0)
    assert base / 2 - 1 <= delays[0] <= base  # the first wait: half to all of the base
    ended = [o for action, o in events(world.runtime, world.request_id)
             if action == "export.attempt_ended"]  # fmt: skip
    assert [o["attempt"] for o in ended] == list(range(1, tries + 1))


@pytest.mark.parametrize("refusal", ["wrong password", "no such recording"])
def test_a_permanent_error_fails_at_once_without_retries(
    world_with: Callable[[Faults], World], refusal: str
) -> None:
    world = world_with({})
    with unit_of_work(world.runtime.sessions) as session:
        camera = session.scalars(select(Camera).order_by(Camera.id)).first()
        assert camera is not None
        if refusal == "wrong password":
            update_nvr(session, camera.nvr, NvrUpdate(password=SecretStr("salah")),
                       world.runtime.secret_box, world.runtime.clock.now(), by=SYSTEM)  # fmt: skip
        else:
            camera.source_token = "Recording_9"  # the NVR records no such thing
    [export_id] = start_exports(world.runtime, world.request_id)

    delays = drain(world.runtime.queue.huey)

    export = load(world.runtime, export_id)
    assert delays == []
    assert export.state is ExportState.FAILED
    assert [a.outcome.value for a in export.attempts] == ["failed"]
    if refusal == "wrong password":
        assert export.error_code == "NvrAuthFailed"
        assert str(export.error_detail).startswith(
            "NVR 'NVR Simulator Diskominfo' (127.0.0.1) refused the credentials of user 'admin'"
        )
    else:
        assert export.error_code == "RecordingNotFound"


@pytest.mark.parametrize(
    ("drops", "outcomes"),
    [
        (2, ["done"]),  # the replay resumes from the last complete frame, in the same attempt
        (5, ["interrupted", "done"]),  # more than the replay resumes: a new attempt, a new file
    ],
)
def test_a_connection_dropped_mid_stream_still_gives_the_whole_clip(
    world_with: Callable[[Faults], World], drops: int, outcomes: list[str]
) -> None:
    world = world_with({1: {"drop_after_seconds": 0.0, "first": drops}})
    [export_id] = start_exports(world.runtime, world.request_id)

    drain(world.runtime.queue.huey)

    export = load(world.runtime, export_id)
    assert [a.outcome.value for a in export.attempts] == outcomes
    assert export.state is ExportState.DONE
    assert_complete(world, export)
    for attempt in export.attempts:  # the interrupted attempt's partial file stays
        assert (world.runtime.settings.data_dir / str(attempt.file_path)).exists()
    if drops == 5:
        assert export.attempts[0].error_code == "NvrUnreachable"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = pipeline.Backoff(base_s=1.0, cap_s=4.0)

    delays = [[backoff.delay(tries) for _ in range(50)] for tries in range(1, 6)]

    for tries, samples in enumerate(delays, start=1):
        ceiling = min(4.0, 2.0 ** (tries - 1))
        assert all(ceiling / 2 <= d <= ceiling for d in samples)
        assert len(set(samples)) > 1  # jittered: retries of one NVR do not come back together


def _get_export(runtime: Runtime, export_id: int) -> dict[str, Any]:
    """GET /api/v1/exports/{id} as the operator."""
    with TestClient(create_app(runtime)) as client:
        reply = client.get(f"/api/v1/exports/{export_id}", headers=bearer(runtime, Role.OPERATOR))
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


@pytest.mark.parametrize(("limit", "free"), [(1, False), (None, True)])
def test_an_nvrs_own_playback_limit_decides_whether_an_export_waits(
    world_with: Callable[..., World], limit: int | None, free: bool
) -> None:
    """Another holder has one playback session of the NVR. An NVR registered as allowing one
    session makes the export wait in line (no attempt, queued again, the wait shown); left at
    the service's default of two, the second session is free and the export runs."""
    world = world_with({}, export_slot_wait_seconds=0.3)
    runtime = world.runtime
    with unit_of_work(runtime.sessions) as session:
        nvr = session.scalars(select(Nvr)).one()
        nvr.playback_limit = limit
        nvr_id = nvr.id
    held = NvrSlots(runtime.sessions, runtime.clock, 1, turns.SLOT_LEASE)
    assert held.acquire(nvr_id, "another-worker:99") is not None
    [export_id] = start_exports(runtime, world.request_id)

    if free:
        assert pipeline.run(runtime, export_id, "test") is ExportState.DONE
        return
    with pytest.raises(turns.NoPlaybackSlot):
        pipeline.run(runtime, export_id, "test")
    shown = _get_export(runtime, export_id)
    assert shown["state"] == "queued"
    assert shown["attempts"] == []
    assert shown["error_code"] == "NoPlaybackSlot"
    assert shown["error_detail"].startswith("waiting for NVR ")
