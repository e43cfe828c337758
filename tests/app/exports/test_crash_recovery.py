"""Crashed workers: a killed `saksi worker` mid-export, stale attempts, heartbeats, lost attempts.

The killed worker is a real process on SQLite (database and Huey), SIGKILLed while it fetches
from a simulator that paces its replay; a second worker recovers the attempt at start-up and
finishes the export. The in-process tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import migrate
from app.auth.models import Role, User
from app.db import unit_of_work
from app.exports import pipeline, recovery, turns
from app.exports import service as export_service
from app.exports.limiter import NvrSlots
from app.exports.models import AttemptOutcome, Export, ExportPurpose, ExportState
from app.jobs.leases import JobLease
from app.nvr.fetching import Progress
from app.requests.models import EvidenceRequest
from app.runtime import Runtime, set_current
from app.settings import Settings
from custody import verify_ledger
from nvr_adapters import TimeWindow
from tests.app.exports.test_faults import (
    Faults,
    World,
    build_world,
    events,
    load,
    start_exports,
    start_simulator,
    truth,
    world_with,
)
from tests.nvr_sim.conftest import anchor, sim_cache

__all__ = ["anchor", "sim_cache", "world_with"]


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def state_of(runtime: Runtime, export_id: int) -> ExportState:
    with unit_of_work(runtime.sessions) as session:
        return export_service.get_export(session, export_id).state


# --- a real worker process, killed mid-fetch -----------------------------------------------------


class Workers:
    """`saksi worker` processes on a data dir (SQLite database, SQLite queue), logging to a file."""

    def __init__(self, data_dir: Path, log: IO[bytes]) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
        self.env["SAKSI_DATA_DIR"] = str(data_dir)
        self.log = log
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "app.cli", "worker", "--threads", "1"]
        root = Path(__file__).resolve().parents[3]
        worker = subprocess.Popen(
            argv, env=self.env, cwd=root, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.started.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=15)


@pytest.fixture
def killed_mid_fetch(
    tmp_path: Path, sim_cache: Path, anchor: datetime
) -> Iterator[tuple[World, Workers]]:
    """A world on SQLite whose NVR paces its first replay in real time (the kill lands in it)."""
    thread = start_simulator(sim_cache, {1: {"realtime": 1, "first": 1}})
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    settings.data_dir.mkdir(parents=True)
    migrate.upgrade(settings.resolved_database_url)
    window = TimeWindow(anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
    world = build_world(settings, thread.simulator, window)
    with (tmp_path / "workers.log").open("wb") as log:
        workers = Workers(settings.data_dir, log)
        yield world, workers
        workers.stop()
    thread.stop()
    world.runtime.close()
    set_current(None)


def test_a_worker_killed_mid_export_is_recovered_by_the_next(
    killed_mid_fetch: tuple[World, Workers],
) -> None:
    world, workers = killed_mid_fetch
    runtime = world.runtime
    [export_id] = start_exports(runtime, world.request_id)
    first = workers.start()

    def partial() -> Path:
        return _attempt_file(runtime, export_id, 1)

    wait_until(lambda: state_of(runtime, export_id) is ExportState.FETCHING, 30, "fetching")
    wait_until(lambda: partial().exists(), 15, "the first frames written")  # 20 s to go
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    workers.start()
    wait_until(lambda: state_of(runtime, export_id) is ExportState.DONE, 60, "the export done")

    export = load(runtime, export_id)
    assert [a.outcome for a in export.attempts] == [AttemptOutcome.INTERRUPTED, AttemptOutcome.DONE]
    killed = export.attempts[0]
    assert killed.error_code == recovery.WORKER_LOST
    assert f"its process ({first.pid}) is gone" in str(killed.error_detail)
    assert partial().exists()  # the dead attempt's partial file is kept
    assert partial() != runtime.settings.data_dir / str(export.file_path)
    assert (export.frames, export.raw_sha256) == truth(world)
    recorded = events(runtime, world.request_id)
    started = [o["attempt"] for action, o in recorded if action == "export.started"]
    assert started == [1, 2]  # one per attempt
    assert [a for a, _ in recorded].count("export.file_written") == 1
    ended = [o for action, o in recorded if action == "export.attempt_ended"]
    assert [(o["attempt"], o["outcome"], o["file"]) for o in ended] == [
        (1, "interrupted", killed.file_path)
    ]
    with runtime.engine.connect() as connection:
        report = verify_ledger(
            connection, runtime.settings.custody_origin, runtime.office_key.public_bytes
        )
    assert report.ok, report.findings
    assert recovery.recover(runtime) == []  # nothing left to recover
    assert len(events(runtime, world.request_id)) == len(recorded)


def _attempt_file(runtime: Runtime, export_id: int, number: int) -> Path:
    with unit_of_work(runtime.sessions) as session:
        export = export_service.get_export(session, export_id)
        [attempt] = [a for a in export.attempts if a.number == number] or [None]
        relative = attempt.file_path if attempt is not None else "missing"
    return runtime.settings.data_dir / str(relative)


# --- in process, on both databases --------------------------------------------------------------


def test_recovery_closes_only_attempts_whose_worker_is_gone_and_is_idempotent(
    world_with: Callable[[Faults], World],
) -> None:
    world = world_with({})
    runtime = world.runtime
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = socket.gethostname()
    workers = {
        "stale elsewhere": ("other-host:4242", timedelta(minutes=2)),
        "beating elsewhere": ("other-host:4243", timedelta(seconds=5)),
        "dead here": (f"{here}:{gone.pid}", timedelta(seconds=1)),
        "alive here": (recovery.this_worker(), timedelta(seconds=30)),
        # A restarted container: the same hostname and pid (1, say), another start.
        "before a restart": (f"{here}:{os.getpid()}:0badc0ffee00", timedelta(seconds=1)),
    }
    ids = _running_exports(runtime, world.request_id, list(workers.values()))
    before = len(events(runtime, world.request_id))

    restarted = recovery.recover(runtime)
    again = recovery.recover(runtime)

    assert sorted(restarted) == sorted([ids[0], ids[2], ids[4]])
    assert again == []
    states = {name: state_of(runtime, i) for name, i in zip(workers, ids, strict=True)}
    assert states == {"stale elsewhere": ExportState.QUEUED, "beating elsewhere":
                      ExportState.FETCHING, "dead here": ExportState.QUEUED,
                      "alive here": ExportState.FETCHING,
                      "before a restart": ExportState.QUEUED}  # fmt: skip
    assert len(events(runtime, world.request_id)) == before + 3  # one attempt_ended each
    pending = [t.args for t in runtime.queue.huey.pending() if t.name == "exports.fetch_item"]
    assert sorted(pending) == sorted([(ids[0],), (ids[2],), (ids[4],)])


def _running_exports(
    runtime: Runtime, request_id: int, workers: list[tuple[str, timedelta]]
) -> list[int]:
    """One export per worker, fetching, its attempt last beating `ago`."""
    now = datetime.now(UTC)
    ids = []
    with unit_of_work(runtime.sessions) as session:
        for worker, ago in workers:
            export = _queued_export(session, request_id, now)
            export_service.begin_attempt(session, export, worker, now - ago)
            export_service.move(session, export, ExportState.FETCHING, now)
            ids.append(export.id)
    return ids


def _queued_export(session: Session, request_id: int, at: datetime) -> Export:
    """An export of the request's first item, queued at `at`, with no attempt yet."""
    request = session.get(EvidenceRequest, request_id)
    operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
    assert request is not None
    assert operator is not None
    export = Export(
        request_id=request.id, item_id=request.items[0].id, purpose=ExportPurpose.EVIDENCE,
        state=ExportState.QUEUED, created_by_id=operator.id, created_at=at, updated_at=at,
        bytes_written=0, media_seconds=0.0, percent=0.0,
    )  # fmt: skip
    session.add(export)
    session.flush()
    return export


def test_a_queued_export_whose_job_was_lost_is_queued_again(
    world_with: Callable[[Faults], World],
) -> None:
    """A worker took the job and died before opening an attempt: nothing would ever run it."""
    world = world_with({})
    runtime = world.runtime
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with unit_of_work(runtime.sessions) as session:
        lost, waiting = (_queued_export(session, world.request_id, long_ago) for _ in range(2))
        ids = lost.id, waiting.id
        runtime.queue.enqueue(session, "exports.fetch_item", waiting.id)

    requeued = recovery.recover(runtime)
    again = recovery.recover(runtime)

    assert requeued == [ids[0]]
    assert again == []  # its job now waits in the queue
    queued = sorted(args for args in runtime.queue.waiting("exports.fetch_item"))
    assert queued == sorted([(ids[0],), (ids[1],)])
    actions = [action for action, _ in events(runtime, world.request_id)]
    assert actions.count("export.requeued") == 1


def test_the_heartbeat_beats_while_the_nvr_is_silent(world_with: Callable[[Faults], World]) -> None:
    world = world_with({1: {"stall_seconds": 1.5}})
    runtime = world.runtime
    [export_id] = start_exports(runtime, world.request_id)
    beats: list[timedelta] = []  # heartbeat minus start of the attempt, seen while fetching

    def watch() -> None:
        while True:
            with unit_of_work(runtime.sessions) as session:
                export = export_service.get_export(session, export_id)
                if export.state is ExportState.FETCHING:
                    beats.append(export.attempts[0].heartbeat_at - export.attempts[0].started_at)
                if export.state in {ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED}:
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    state = pipeline.run(runtime, export_id, recovery.this_worker(), heartbeat_s=0.2)
    watcher.join(timeout=10)

    assert state is ExportState.DONE
    assert max(beats) >= timedelta(seconds=1)  # beaten during the stall, not only at the end


def test_an_attempt_recovered_while_still_running_stops_without_recording_more(
    world_with: Callable[[Faults], World],
) -> None:
    """A worker taken for dead that was only slow: it must not finish the export a second time."""
    world = world_with({1: {"realtime": 1}})
    runtime = world.runtime
    [export_id] = start_exports(runtime, world.request_id)
    queued = runtime.queue.pending_count()
    outcome: list[BaseException | ExportState] = []

    def work() -> None:
        try:
            outcome.append(pipeline.run(runtime, export_id, "slow-host:1", heartbeat_s=1.0))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    wait_until(lambda: state_of(runtime, export_id) is ExportState.FETCHING, 30, "fetching")
    wait_until(lambda: recovery.recover(runtime, timedelta(0)) == [export_id], 10, "recovery")
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert isinstance(outcome[0], pipeline.AttemptLost)
    export = load(runtime, export_id)
    assert export.state is ExportState.QUEUED
    assert runtime.queue.pending_count() == queued + 1  # its job is queued again
    assert [a.outcome for a in export.attempts] == [AttemptOutcome.INTERRUPTED]
    actions = [a for a, _ in events(runtime, world.request_id)]
    assert actions.count("export.attempt_ended") == 1
    assert "export.file_written" not in actions


def test_a_fetch_that_swallows_the_first_cancellation_is_cancelled_again(
    world_with: Callable[[Faults], World],
) -> None:
    """Once recovery closed the attempt, the heartbeat cancels the work at every beat until it
    ends: a cancellation can be lost in a race (as in Python 3.11's `asyncio.wait_for`)."""
    world = world_with({})
    runtime = world.runtime
    [export_id] = start_exports(runtime, world.request_id)
    plan = pipeline._begin(runtime, export_id, "slow-host:1")
    assert isinstance(plan, pipeline.Plan)
    slots = NvrSlots(runtime.sessions, runtime.clock, 2, turns.SLOT_LEASE)
    lease = slots.acquire(plan.nvr_id, turns.lease_holder("slow-host:1", export_id))
    assert lease is not None
    assert recovery.recover(runtime, timedelta(0)) == [export_id]
    cancellations: list[float] = []

    async def stubborn() -> str:
        started = time.monotonic()
        while time.monotonic() - started < 5:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancellations.append(time.monotonic() - started)
                if len(cancellations) > 1:
                    raise
        return "ran to the end"

    beat = pipeline.Beat(slots, lease, 0.1, Progress(window_s=20.0))
    with pytest.raises(pipeline.AttemptLost):
        asyncio.run(pipeline._beating(runtime, plan, beat, stubborn()))
    assert len(cancellations) == 2
    assert cancellations[1] < 1


# --- the worker that ran the periodic jobs, killed ------------------------------------------------


@pytest.fixture
def two_workers(
    tmp_path: Path, sim_cache: Path, anchor: datetime
) -> Iterator[tuple[World, Workers]]:
    thread = start_simulator(sim_cache, {})
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    settings.data_dir.mkdir(parents=True)
    migrate.upgrade(settings.resolved_database_url)
    window = TimeWindow(anchor + timedelta(seconds=24), anchor + timedelta(seconds=34))
    world = build_world(settings, thread.simulator, window)
    with (tmp_path / "workers.log").open("wb") as log:
        workers = Workers(settings.data_dir, log)
        yield world, workers
        workers.stop()
    thread.stop()
    world.runtime.close()
    set_current(None)


def _last_holder(runtime: Runtime, job: str) -> str | None:
    with unit_of_work(runtime.sessions) as session:
        row = session.get(JobLease, job)
        return row.holder if row is not None and row.holder else None


def test_killing_the_worker_that_runs_the_periodic_jobs_leaves_them_to_another(
    two_workers: tuple[World, Workers],
) -> None:
    """Issue 18: kill the worker that ran the scheduler and nothing recovered any more. Now
    every worker schedules, one runs each job per period; kill -9 the one that ran the
    recovery and the other recovers a stuck export at its next period, once."""
    world, workers = two_workers
    runtime = world.runtime
    started = {str(w.pid): w for w in (workers.start(), workers.start())}
    job = "exports.recover_interrupted"
    wait_until(lambda: _last_holder(runtime, job) is not None, 60, "the first recovery run")
    holder = _last_holder(runtime, job)
    assert holder is not None
    victim = started.pop(holder.split(":")[-2])
    [survivor] = started.values()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    [stuck] = _running_exports(runtime, world.request_id,
                               [("lost-host:4242:0badc0ffee00", timedelta(minutes=2))])  # fmt: skip
    # The survivor's scheduler ticks every 60 s: within two periods the stuck export is taken.
    wait_until(lambda: state_of(runtime, stuck) is not ExportState.FETCHING, 130, "recovery")

    after = _last_holder(runtime, job)
    assert after is not None
    assert after.split(":")[-2] == str(survivor.pid)
    export = load(runtime, stuck)
    assert export.attempts[0].outcome is AttemptOutcome.INTERRUPTED
    ended = [o for a, o in events(runtime, world.request_id) if a == "export.attempt_ended"]
    assert len(ended) == 1  # recovered once, not by each worker
