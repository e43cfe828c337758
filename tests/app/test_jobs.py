"""Jobs run on a real Huey consumer (SQLite and Redis storage), only after their commit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import Huey
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import make_engine
from app.jobs import JobQueue, build_huey, job, registered_jobs


@job("tests.touch")
def touch(path: str) -> str:
    Path(path).write_text("done")
    return path


def wait_for(path: Path, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def huey(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    if request.param == "sqlite":
        instance = build_huey(f"sqlite:///{tmp_path / 'queue.db'}")
    else:
        instance = build_huey("redis://127.0.0.1:6379/0", name=f"saksi-test-{uuid.uuid4().hex}")
    yield instance
    instance.storage.flush_all()


@pytest.fixture
def queue(huey: Huey) -> Iterator[JobQueue]:
    queue = JobQueue(huey)
    queue.start_consumer(workers=1, periodic=False)
    yield queue
    queue.stop_consumer()


@pytest.fixture
def db_session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_job_is_dispatched_after_commit(
    queue: JobQueue, db_session: Session, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    db_session.execute(text("SELECT 1"))
    queue.enqueue(db_session, "tests.touch", str(marker))

    assert not wait_for(marker, seconds=0.5), "the job ran before its transaction committed"
    assert queue.pending_count() == 0
    db_session.commit()

    assert wait_for(marker)
    assert marker.read_text() == "done"


def test_job_is_dropped_when_the_transaction_rolls_back(
    queue: JobQueue, db_session: Session, tmp_path: Path
) -> None:
    marker = tmp_path / "never"
    db_session.execute(text("SELECT 1"))
    queue.enqueue(db_session, "tests.touch", str(marker))

    db_session.rollback()
    db_session.commit()

    assert not wait_for(marker, seconds=1.0)
    assert queue.pending_count() == 0


def test_jobs_queue_durably_while_no_worker_runs(huey: Huey, tmp_path: Path) -> None:
    """A job enqueued while every worker is down waits in storage and runs when one starts."""
    queue = JobQueue(huey)
    marker = tmp_path / "later"
    queue.dispatch("tests.touch", str(marker))
    assert queue.pending_count() == 1

    queue.start_consumer(workers=1, periodic=False)
    try:
        assert wait_for(marker)
    finally:
        queue.stop_consumer()


def test_unknown_job_names_are_refused(huey: Huey) -> None:
    with pytest.raises(ValueError, match="unknown job"):
        JobQueue(huey).dispatch("exports.nonexistent")


def test_periodic_jobs_declare_their_schedule() -> None:
    jobs = registered_jobs()

    assert jobs["sop.report_overdue"].schedule == {"minute": "*/5"}
    assert jobs["tests.touch"].schedule is None


def test_queue_urls() -> None:
    with pytest.raises(ValueError, match="unsupported queue URL"):
        build_huey("amqp://guest@127.0.0.1//")
