"""What a running Saksi process holds: settings, database, clock, queue, SOP, keys.

Built once per process (`saksi serve`, `saksi worker`, the CLI, a test) and handed to the web
application and to jobs, so nothing reads global state behind their back.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock, SystemClock
from app.custody.service import CHECKPOINT_POLICY, CheckpointPolicy
from app.db import make_engine, make_session_factory, snapshot
from app.jobs import JobQueue, build_huey
from app.jobs.identity import this_worker
from app.jobs.leases import Leases
from app.security import SecretBox
from app.settings import Environment, Settings
from app.sop.definition import SopDefinition, load_sop
from custody import OfficeKey, load_or_create
from custody.keys import load as load_office_key
from custody.tree_cache import LedgerTreeCache
from nvr_adapters import clock_probe


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    queue: JobQueue
    sop: SopDefinition
    token_key: bytes
    secret_box: SecretBox
    office_key: OfficeKey
    # The ledger's Merkle tree, caught up on each use: proofs without a full table read per call.
    tree_cache: LedgerTreeCache
    # Read-only transactions that see one state and hold up no writer (`db.snapshot`).
    snapshots: Callable[[], AbstractContextManager[Connection]]

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    def close(self) -> None:
        self.queue.stop_consumer()
        self.engine.dispose()


_current: Runtime | None = None


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    snapshots: Callable[[], AbstractContextManager[Connection]] | None = None,
) -> Runtime:
    """Assemble a runtime from settings; create the data directory if needed."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock_probe.configure(settings.nvr_clock_probe_seconds)
    # A connection for every request admitted at once, every job thread, and a few for the
    # heartbeats and the scheduler: a request never waits for the pool (it waited 30 s, then
    # failed with 500, when the pool was smaller than the thread pool serving requests).
    pool = settings.max_concurrent_requests + settings.worker_threads + 4
    engine = engine or make_engine(settings.resolved_database_url, pool_size=pool, max_overflow=8)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions or make_session_factory(engine),
        clock=clock or SystemClock(),
        queue=JobQueue(build_huey(settings.resolved_queue_url)),
        sop=load_sop(settings.sop_file),
        token_key=settings.token_signing_key(),
        secret_box=SecretBox(settings.nvr_encryption_key()),
        office_key=_office_key(settings),
        tree_cache=LedgerTreeCache(engine),
        snapshots=snapshots or partial(snapshot, engine),
    )
    # Every session of this process signs a checkpoint each N ledger events (besides the timer).
    policy = CheckpointPolicy(
        runtime.office_key, settings.custody_origin, settings.checkpoint_every_events
    )
    runtime.sessions.configure(info={CHECKPOINT_POLICY: policy})
    # Periodic jobs: every worker may schedule them, one runs each per period (app.jobs.leases).
    runtime.queue.leases = Leases(runtime.sessions, runtime.clock)
    runtime.queue.holder = this_worker
    set_current(runtime)
    return runtime


def _office_key(settings: Settings) -> OfficeKey:
    if settings.office_key_file is not None or settings.env is Environment.PRODUCTION:
        # Production never invents the key that signs its evidence: it must be supplied.
        return load_office_key(settings.office_key_path)
    return load_or_create(settings.office_key_path)


def set_current(runtime: Runtime | None) -> None:
    """Make `runtime` the one jobs use in this process."""
    global _current  # noqa: PLW0603 - one runtime per process, set at start-up
    _current = runtime


def current() -> Runtime:
    """Return this process's runtime (jobs run outside any request, so they look it up here)."""
    if _current is None:
        raise RuntimeError("no Saksi runtime in this process: call build_runtime() first")
    return _current
