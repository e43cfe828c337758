"""The per-NVR playback limit holds across concurrent workers; a dead holder's lease expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.cameras.models import Nvr, NvrVendor
from app.clock import FrozenClock, SystemClock
from app.db import make_engine, make_session_factory, unit_of_work
from app.exports.limiter import NvrSlots

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def sessions(fresh_database_url: str) -> Iterator[tuple[sessionmaker[Session], int]]:
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        nvr = Nvr(
            name="NVR", vendor=NvrVendor.ONVIF, host="127.0.0.1", http_port=80, rtsp_port=554,
            username="admin", password_encrypted="x", timezone="Asia/Jakarta", active=True,
            created_at=T0,
        )  # fmt: skip
        session.add(nvr)
        session.flush()
        nvr_id = nvr.id
    yield factory, nvr_id
    engine.dispose()


def test_never_more_sessions_than_the_limit(sessions: tuple[sessionmaker[Session], int]) -> None:
    factory, nvr_id = sessions
    slots = NvrSlots(factory, SystemClock(), limit=2, lease=timedelta(minutes=5))
    active: list[str] = []
    peak = 0
    lock = threading.Lock()

    def export(name: str) -> None:
        nonlocal peak
        lease = None
        while lease is None:
            lease = slots.acquire(nvr_id, name)
            if lease is None:
                time.sleep(0.01)
        with lock:
            active.append(name)
            peak = max(peak, len(active))
        time.sleep(0.05)
        with lock:
            active.remove(name)
        slots.release(lease)

    workers = [threading.Thread(target=export, args=(f"job-{i}",)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert peak == 2
    assert slots.busy(nvr_id) == 0


def test_a_crashed_holder_loses_its_slot_when_the_lease_expires(
    sessions: tuple[sessionmaker[Session], int],
) -> None:
    factory, nvr_id = sessions
    clock = FrozenClock(T0)
    slots = NvrSlots(factory, clock, limit=1, lease=timedelta(minutes=2))
    crashed = slots.acquire(nvr_id, "worker-that-died")
    assert crashed is not None
    assert slots.acquire(nvr_id, "next") is None

    clock.advance(timedelta(minutes=2, seconds=1))
    taken = slots.acquire(nvr_id, "next")

    assert taken is not None
    assert taken.slot == crashed.slot
    assert slots.renew(crashed) is False
    assert slots.renew(taken) is True
    slots.release(crashed)  # a late release by the dead holder must not free the new lease
    assert slots.busy(nvr_id) == 1


def test_a_renewed_lease_is_kept(sessions: tuple[sessionmaker[Session], int]) -> None:
    factory, nvr_id = sessions
    clock = FrozenClock(T0)
    slots = NvrSlots(factory, clock, limit=1, lease=timedelta(minutes=2))
    lease = slots.acquire(nvr_id, "long-export")
    assert lease is not None

    for _ in range(3):
        clock.advance(timedelta(minutes=1, seconds=30))
        assert slots.renew(lease)

    assert slots.acquire(nvr_id, "other") is None
