"""Resumable-upload state with several workers (issue 16, must-show f): two processes saving
their sessions at the same time keep both. (The JSON file they used to share, rewritten whole
by each, lost sessions; with two processes it even crashed on its fixed temporary name.)"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier

from app.clock import SystemClock
from app.db import make_engine, make_session_factory
from app.delivery.upload_state import DatabaseStateStore
from drive_sync import UploadState, UploadStateStore

SAVES = 40


def _uploading(url: str, worker: int, barrier: Barrier) -> None:
    """One worker's upload: a session, then an offset saved after every chunk."""
    engine = make_engine(url)
    store = DatabaseStateStore(make_session_factory(engine), SystemClock())
    _chunks(store, worker, barrier)
    engine.dispose()


def _chunks(store: UploadStateStore, worker: int, barrier: Barrier) -> None:
    barrier.wait()
    for chunk in range(1, SAVES + 1):
        uri = f"https://drive.example/upload?upload_id=worker-{worker}"
        store.save(f"folder/paket-{worker}.zip/1000", UploadState(uri, 1000, chunk * 25, 7))


def _race(target: object, where: str) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [context.Process(target=target, args=(where, n, barrier)) for n in (1, 2)]  # type: ignore[arg-type]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0


def test_two_workers_keep_both_resume_states(fresh_database_url: str) -> None:
    _race(_uploading, fresh_database_url)
    engine = make_engine(fresh_database_url)
    store = DatabaseStateStore(make_session_factory(engine), SystemClock())
    for worker in (1, 2):
        state = store.load(f"folder/paket-{worker}.zip/1000")
        assert state is not None, f"worker {worker}'s session was lost"
        assert (state.offset, state.session_uri[-8:]) == (SAVES * 25, f"worker-{worker}")
    store.clear("folder/paket-1.zip/1000")
    assert store.load("folder/paket-1.zip/1000") is None
    assert store.load("folder/paket-2.zip/1000") is not None
    engine.dispose()
